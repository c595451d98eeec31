"""What extraction reports about one query: the dataclasses behind `trackflow heat parse` and `query_heat`."""

from __future__ import annotations

from dataclasses import dataclass, field

# Roles a column can play in a query. `aggregate` wins over the clause a column appears in (count(x) in SELECT
# is an aggregate argument); `join_key` covers ON and USING.
ROLES = ("select", "where", "group_by", "order_by", "join_key", "aggregate", "window", "array_join", "limit_by")


@dataclass(frozen=True)
class ColumnUse:
    table: str  # db.table
    column: str
    roles: tuple[str, ...]

    @property
    def qualified(self) -> str:
        return f"{self.table}.{self.column}"


@dataclass(frozen=True)
class EventUse:
    """A tracking event named in a predicate on the event column."""

    event: str
    table: str
    via: str  # equals, in, has, multiIf, funnel_step, condition


@dataclass(frozen=True)
class TimeBound:
    column: str  # db.table.column
    lower: str | None  # literal value or expression text; None: open
    upper: str | None
    relative: bool  # the bound depends on now()/today()


@dataclass(frozen=True)
class Unresolved:
    kind: str  # column, event_predicate, time_predicate, table, parameter
    text: str
    reason: str


@dataclass(frozen=True)
class Extraction:
    statement: str  # select, insert, create, explain, alter, show, ...
    tables: tuple[str, ...]
    columns: tuple[ColumnUse, ...]
    events: tuple[EventUse, ...]
    time_range: tuple[TimeBound, ...]
    unresolved: tuple[Unresolved, ...]
    dictionaries: tuple[str, ...] = ()
    table_functions: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    parameters: tuple[str, ...] = field(default=())  # names of {name:Type} slots the query uses

    def as_json(self) -> dict:
        return {
            "statement": self.statement,
            "tables": list(self.tables),
            "columns": [{"column": c.qualified, "roles": list(c.roles)} for c in self.columns],
            "events": sorted({e.event for e in self.events}),
            "event_predicates": [{"event": e.event, "table": e.table, "via": e.via} for e in self.events],
            "time_range": [
                {"column": t.column, "from": t.lower, "to": t.upper, "relative": t.relative} for t in self.time_range
            ],
            "unresolved": [{"kind": u.kind, "text": u.text, "reason": u.reason} for u in self.unresolved],
            "dictionaries": list(self.dictionaries),
            "table_functions": list(self.table_functions),
            "writes": list(self.writes),
        }
