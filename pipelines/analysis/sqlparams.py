"""Query parameters: user values travel as `{name:Type}` placeholders bound server-side, never inside SQL text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_SAFE_NAME = re.compile(r"[^a-z0-9_]+")


@dataclass(frozen=True)
class BuiltQuery:
    """One SQL statement and the values of its placeholders."""

    sql: str
    parameters: dict[str, Any]


@dataclass
class SqlParams:
    """Collects parameter values while a model builds its SQL; `add` returns the placeholder to splice in."""

    values: dict[str, Any] = field(default_factory=dict)

    def add(self, hint: str, value: Any, ch_type: str) -> str:
        # Names are made here from a fixed hint (never from user input), so placeholders read well in snapshots.
        base = _SAFE_NAME.sub("_", hint.lower()).strip("_") or "p"
        name, n = base, 1
        while name in self.values:
            n += 1
            name = f"{base}_{n}"
        self.values[name] = value
        return f"{{{name}:{ch_type}}}"

    def query(self, sql: str) -> BuiltQuery:
        return BuiltQuery(sql.strip() + "\n", dict(self.values))
