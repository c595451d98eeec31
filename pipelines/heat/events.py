"""Pass: tracking event names in predicates on the event column.

Recognised shapes, wherever they appear (WHERE, countIf/sumIf conditions, multiIf branches, funnel steps):
`event = 'x'`, `event IN ('x', 'y')` / `IN ['x']`, `has(['x', 'y'], event)`. `{name:Type}` parameters are kept
as placeholders that `bind` fills from the query's parameters. A predicate on the event column whose other side
is not a literal (a subquery, another column, a LIKE pattern) is reported in `unresolved`. Exclusions
(`!=`, `NOT IN`) name events the query does not use and are not reported as events.
"""

from __future__ import annotations

from pipelines.heat import syntax as s
from pipelines.heat.functions import FUNNEL_FUNCTIONS, is_aggregate
from pipelines.heat.model import EventUse, Unresolved
from pipelines.heat.render import render
from pipelines.heat.walk import all_selects, children, clauses

DEFAULT_EVENT_COLUMNS = frozenset({"event"})
MEMBERSHIP = frozenset({"in", "globalIn"})
PATTERN_MATCHES = frozenset({"like", "ilike", "match", "startsWith", "endsWith", "multiSearchAny", "position"})
EXCLUSIONS = frozenset({"notEquals", "notIn", "globalNotIn", "notLike", "notIlike"})


def placeholder(parameter: s.Parameter) -> str:
    return f"{{{parameter.name}:{parameter.type_name}}}"


def collect_events(
    statement: s.Statement, event_columns: frozenset[str] = DEFAULT_EVENT_COLUMNS
) -> tuple[tuple[EventUse, ...], tuple[Unresolved, ...]]:
    found: dict[EventUse, None] = {}
    unresolved: list[Unresolved] = []

    def event_table(node) -> str | None:
        # Only the column itself: a subquery output computed from it (`event = {x:String} AS is_start`, an array
        # of tuples gathered where it holds) is another value, and comparing that names no event.
        if isinstance(node, s.BoundColumn) and node.direct:
            for column in node.columns:
                if column.column in event_columns:
                    return column.table
        return None

    def record(values, table: str, via: str, predicate) -> None:
        names = literal_strings(values)
        if names is None:
            unresolved.append(Unresolved("event_predicate", render(predicate), "compared with something that is not a literal"))
            return
        for name in names:
            found[EventUse(name, table, via)] = None

    def visit(node, context: str | None) -> None:
        if isinstance(node, s.Call):
            name = node.name
            arguments = node.arguments
            via = context or name
            if name == "equals" and len(arguments) == 2:
                for column_side, value_side in ((0, 1), (1, 0)):
                    table = event_table(arguments[column_side])
                    if table:
                        record(arguments[value_side], table, via, node)
            elif name in MEMBERSHIP and len(arguments) == 2 and (table := event_table(arguments[0])):
                record(arguments[1], table, via, node)
            elif name == "has" and len(arguments) == 2 and (table := event_table(arguments[1])):
                record(arguments[0], table, via, node)
            elif name in PATTERN_MATCHES and arguments and event_table(arguments[0]) and name not in EXCLUSIONS:
                unresolved.append(Unresolved("event_predicate", render(node), "pattern match on the event column"))
            if name in FUNNEL_FUNCTIONS:
                context = "funnel_step"
            elif name == "multiIf" and context is None:
                context = "multiIf"
            elif is_aggregate(name) and context is None:
                context = "condition"
        for child in children(node):
            visit(child, context)

    for select in all_selects(statement):
        for _, expression in clauses(select):
            visit(expression, None)
    return tuple(found), tuple(unresolved)


def literal_strings(node) -> list[str] | None:
    """The event names a value side holds, or None if it is not made of literals and parameters."""
    if isinstance(node, s.Literal) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, s.Parameter):
        return [placeholder(node)]
    if isinstance(node, s.Call) and node.name in ("tuple", "array"):
        names: list[str] = []
        for argument in node.arguments:
            inner = literal_strings(argument)
            if inner is None:
                return None
            names.extend(inner)
        return names
    return None
