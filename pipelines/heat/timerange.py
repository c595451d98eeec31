"""Pass: the time range a query filters on, from WHERE/PREWHERE conjuncts comparing a time column with a bound.

A time column is a Date/DateTime column (from the catalog) or, without a catalog, one of the usual names
(`ts`, `date`, `event_time`, ...); wrappers such as `toDate(ts)` or `toStartOfDay(ts)` count as the column.
Bounds are literal values, `{name:Type}` placeholders (filled by `bind`), or expressions of `now()`/`today()`
(reported as text with `relative = true`). A comparison with anything else is reported in `unresolved`.
"""

from __future__ import annotations

from pipelines.heat import syntax as s
from pipelines.heat.catalog import Catalog
from pipelines.heat.model import TimeBound, Unresolved
from pipelines.heat.render import render
from pipelines.heat.walk import all_selects, conjuncts

TIME_COLUMN_NAMES = frozenset(
    {"ts", "time", "timestamp", "date", "event_date", "event_time", "received_at", "inserted_at", "created_at", "day"}
)
TIME_WRAPPERS = frozenset(
    {"toDate", "toDateTime", "toDateTime64", "toStartOfDay", "toStartOfHour", "toStartOfWeek", "toStartOfMonth",
     "toMonday", "toStartOfMinute", "toStartOfInterval", "toYYYYMM", "toYYYYMMDD", "toUnixTimestamp", "toDate32"}
)
CLOCK_FUNCTIONS = frozenset({"now", "now64", "today", "yesterday", "currentDate", "current_date", "current_timestamp"})
LOWER_BOUNDS = {"greater": "lower", "greaterOrEquals": "lower", "less": "upper", "lessOrEquals": "upper", "equals": "both"}
FLIPPED = {"lower": "upper", "upper": "lower", "both": "both"}


def collect_time_range(statement: s.Statement, catalog: Catalog | None = None) -> tuple[tuple[TimeBound, ...], tuple[Unresolved, ...]]:
    bounds: dict[str, dict[str, object]] = {}
    unresolved: list[Unresolved] = []

    def time_column(node) -> str | None:
        while isinstance(node, s.Call) and node.name in TIME_WRAPPERS and node.arguments:
            node = node.arguments[0]
        if isinstance(node, s.BoundColumn) and len(node.columns) == 1:
            column = node.columns[0]
            if is_time_column(column, catalog):
                return str(column)
        return None

    for select in all_selects(statement):
        for clause in (select.prewhere, select.where):
            if clause is None:
                continue
            for predicate in conjuncts(clause):
                if not isinstance(predicate, s.Call) or predicate.name not in LOWER_BOUNDS or len(predicate.arguments) != 2:
                    continue
                left, right = predicate.arguments
                side = LOWER_BOUNDS[predicate.name]
                column, value = time_column(left), right
                if column is None:
                    column, value, side = time_column(right), left, FLIPPED[side]
                if column is None:
                    continue
                bound = bound_text(value)
                if bound is None:
                    unresolved.append(Unresolved("time_predicate", render(predicate), "bound is not a literal, parameter or now()-relative"))
                    continue
                entry = bounds.setdefault(column, {"lower": None, "upper": None, "relative": False})
                for end in ("lower", "upper") if side == "both" else (side,):
                    entry[end] = bound[0]
                entry["relative"] = bool(entry["relative"]) or bound[1]
    return (
        tuple(TimeBound(column, e["lower"], e["upper"], bool(e["relative"])) for column, e in bounds.items()),  # type: ignore[arg-type]
        tuple(unresolved),
    )


def is_time_column(column: s.QualifiedColumn, catalog: Catalog | None) -> bool:
    schema = catalog.schema(column.table) if catalog else None
    if schema is not None and column.column in schema.columns:
        type_name = schema.columns[column.column]
        return "Date" in type_name and not type_name.startswith(("Array", "Map", "Tuple"))
    return column.column in TIME_COLUMN_NAMES


def bound_text(node) -> tuple[str, bool] | None:
    """(text, relative) for a usable bound, None for one that depends on data (columns, subqueries)."""
    if isinstance(node, s.Literal) and node.value is not None:
        return str(node.value), False
    if isinstance(node, s.Parameter):
        return f"{{{node.name}:{node.type_name}}}", False
    if isinstance(node, s.Call):
        relative = False
        for argument in node.arguments:
            inner = bound_text(argument)
            if inner is None:
                return None
            relative = relative or inner[1]
        if node.name in CLOCK_FUNCTIONS:
            relative = True
        if not node.arguments and node.name not in CLOCK_FUNCTIONS:
            return None
        if len(node.arguments) == 1 and isinstance(node.arguments[0], s.Literal) and not relative:
            return str(node.arguments[0].value), False  # toDate('2026-01-01') -> 2026-01-01
        return render(node), relative
    return None
