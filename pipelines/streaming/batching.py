"""How the dwd job groups events into warehouse inserts, and what makes an insert safe to repeat.

ods messages are keyed by shard, a hash of the person key: every copy of an event (same ids, same person) reaches
the same buffer and the same dedup state whatever layer the rules give it, so one writer at a time decides whether
it is new, and parallel writers never race on one id. A shard's buffer holds several layers; a flush writes one
insert per layer.
"""

from __future__ import annotations

import hashlib
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


def unique_by_event_id(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """First copy of each event_id, in arrival order (a re-send inside one batch)."""
    seen: set[str] = set()
    unique = []
    for event in events:
        if event["event_id"] not in seen:
            seen.add(event["event_id"])
            unique.append(event)
    return unique


def batch_token(table: str, event_ids: Iterable[str]) -> str:
    """Insert deduplication token derived from the batch's content: the same set of events into the same table
    always gets the same token, so an insert retried after a timeout (or replayed with the same composition) is
    dropped by the warehouse. Order-independent because a replay may deliver the same events in another order."""
    digest = hashlib.sha256(table.encode())
    for event_id in sorted(event_ids):
        digest.update(event_id.encode())
    return f"{table}:{digest.hexdigest()[:32]}"


@dataclass(frozen=True)
class BatchPolicy:
    """Flush when `max_rows` are buffered or the oldest row has waited `max_delay_ms`, whichever comes first."""

    max_rows: int
    max_delay_ms: int

    def full(self, buffered: int) -> bool:
        return buffered >= self.max_rows

    def deadline(self, first_arrival_ms: int) -> int:
        return first_arrival_ms + self.max_delay_ms


def partition_days(events: Iterable[dict[str, Any]], margin_ms: int = 0) -> list[str]:
    """The day partitions (UTC, ISO dates) a batch touches, widened by `margin_ms` either side (another copy's
    normalised ts may differ by the clock correction): the replay check only reads those."""
    import datetime as dt

    def day(ms: int) -> str:
        return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).date().isoformat()

    return sorted({day(event["ts"] + offset) for event in events for offset in (-margin_ms, 0, margin_ms)})
