"""How the dwd job groups events into warehouse inserts: shards, layers, and when a buffer is flushed.

ods messages are keyed by shard, a hash of the person key: every copy of an event (same ids, same person) reaches
the same buffer whatever layer the rules give it, so one writer at a time decides whether it is new (in the event
index, pipelines/warehouse/eventindex.py), and parallel writers never race on one id. A shard's buffer holds several
layers; a flush writes one insert per layer.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Callable, Iterable


def shard_of(person_key: str, shards: int) -> int:
    return zlib.crc32(person_key.encode()) % max(1, shards)


def grouped(events: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], str]) -> dict[str, list[dict[str, Any]]]:
    """Events grouped by `key`, in arrival order within each group."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        groups.setdefault(key(event), []).append(event)
    return groups


def by_layer(events: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Events grouped by their `layer` (set by jobs/layering)."""
    return grouped(events, lambda event: event["layer"])


def table_of_layer(layer: str) -> str:
    """dwd_<layer>; layer names are validated by the rules (lowercase identifiers), so this is a safe identifier."""
    return f"dwd_{layer}"


@dataclass(frozen=True)
class BatchPolicy:
    """Flush when `max_rows` are buffered or the oldest row has waited `max_delay_ms`, whichever comes first."""

    max_rows: int
    max_delay_ms: int

    def full(self, buffered: int) -> bool:
        return buffered >= self.max_rows

    def deadline(self, first_arrival_ms: int) -> int:
        return first_arrival_ms + self.max_delay_ms

