"""Turning warehouse rows into JSON-ready responses: one place for NaN, dates and table views."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rows:
    """A query's result as the shaping step sees it."""

    columns: list[str]
    rows: list[tuple]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]


def clean(value: Any) -> Any:
    """JSON-ready: NaN/inf -> None (an empty quantile), dates -> ISO text, tuples -> lists, recursively."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(clean(k)): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 6) if whole else None


def table(columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    """The tabular view every response carries (what `trackflow query --format table|csv` prints)."""
    return {"columns": columns, "rows": [clean(list(row)) for row in rows]}


def histogram_view(edges: list[float], counts: list[int]) -> list[dict[str, Any]]:
    counts = list(counts) + [0] * (len(edges) - len(counts))  # -ForEach leaves trailing empty buckets out
    return [
        {"from": edges[i], "to": edges[i + 1] if i + 1 < len(edges) else None, "count": int(counts[i])}
        for i in range(len(edges))
    ]
