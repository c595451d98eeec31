"""Boolean SQL conditions that know the operator joining them, so that combining conditions adds exactly the
parentheses precedence needs instead of guessing from the text (a search for " OR " in a fragment).

A plain string is a condition without a top-level OR: a comparison, a function call, `NOT (...)`, `x BETWEEN a
AND b`, or an AND chain, all of which bind at least as tightly as AND. A condition joined by OR is built with
`any_of`, which marks it, and `all_of` parenthesises it.
"""

from __future__ import annotations

from collections.abc import Iterable

# How tightly each joining operator binds (ClickHouse, as SQL: OR loosest, then AND).
_BINDING = {"OR": 0, "AND": 1}


class Joined(str):
    """Condition text whose top-level operator is `operator`."""

    operator: str

    def __new__(cls, text: str, operator: str) -> "Joined":
        joined = super().__new__(cls, text)
        joined.operator = operator
        return joined


def _operand(condition: str, operator: str) -> str:
    looser = isinstance(condition, Joined) and _BINDING[condition.operator] < _BINDING[operator]
    return f"({condition})" if looser else condition


def _join(operator: str, conditions: Iterable[str], empty: str) -> str:
    parts = [c for c in conditions if c]
    if not parts:
        return empty
    if len(parts) == 1:
        return parts[0]
    return Joined(f" {operator} ".join(_operand(c, operator) for c in parts), operator)


def all_of(conditions: Iterable[str]) -> str:
    """Every condition holds (empty ones skipped; none at all is true)."""
    return _join("AND", conditions, "1")


def any_of(conditions: Iterable[str]) -> str:
    """At least one condition holds (empty ones skipped; none at all is false)."""
    return _join("OR", conditions, "0")
