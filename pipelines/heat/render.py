"""Syntax tree -> short SQL-like text, for `unresolved` entries and time-range bounds a person reads."""

from __future__ import annotations

from pipelines.heat import syntax as s

_INFIX = {
    "equals": "=", "notEquals": "!=", "less": "<", "lessOrEquals": "<=", "greater": ">", "greaterOrEquals": ">=",
    "plus": "+", "minus": "-", "multiply": "*", "divide": "/", "modulo": "%", "and": "AND", "or": "OR",
    "in": "IN", "notIn": "NOT IN", "globalIn": "GLOBAL IN", "globalNotIn": "GLOBAL NOT IN", "like": "LIKE",
    "notLike": "NOT LIKE", "ilike": "ILIKE", "notIlike": "NOT ILIKE",
}
_INTERVAL_UNITS = {f"toInterval{unit.capitalize()}": unit for unit in
                   ("millisecond", "second", "minute", "hour", "day", "week", "month", "quarter", "year")}


def render(node) -> str:  # noqa: C901 - one branch per node type
    if isinstance(node, s.Literal):
        if node.text:
            return node.text
        return "NULL" if node.value is None else repr(node.value)
    if isinstance(node, s.Parameter):
        return f"{{{node.name}:{node.type_name}}}"
    if isinstance(node, (s.ColumnRef, s.BoundColumn, s.UnboundColumn)):
        return ".".join(node.parts)
    if isinstance(node, s.LambdaVariable):
        return node.name
    if isinstance(node, s.Star):
        return ".".join(node.qualifier + ("*",))
    if isinstance(node, s.Alias):
        return f"{render(node.expression)} AS {node.name}"
    if isinstance(node, s.Lambda):
        return f"({', '.join(node.parameters)}) -> {render(node.body)}"
    if isinstance(node, s.SubqueryExpr):
        return "(SELECT ...)"
    if isinstance(node, s.Call):
        arguments = [render(a) for a in node.arguments]
        if node.name in _INFIX and len(arguments) >= 2:
            return "(" + f" {_INFIX[node.name]} ".join(arguments) + ")"
        if node.name in _INTERVAL_UNITS and len(arguments) == 1:
            return f"INTERVAL {arguments[0]} {_INTERVAL_UNITS[node.name].upper()}"
        if node.name == "not" and len(arguments) == 1:
            return f"NOT {arguments[0]}"
        if node.name == "tuple":
            return "(" + ", ".join(arguments) + ")"
        if node.name == "array":
            return "[" + ", ".join(arguments) + "]"
        parameters = f"({', '.join(render(p) for p in node.parameters)})" if node.parameters else ""
        return f"{node.name}{parameters}({'DISTINCT ' if node.distinct else ''}{', '.join(arguments)})"
    return type(node).__name__
