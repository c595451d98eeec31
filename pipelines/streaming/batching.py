"""How the dwd job groups events into warehouse inserts, and what makes an insert safe to repeat.

Events are keyed by (layer, shard) where the shard is a hash of the event_id: every copy of an event_id reaches
the same buffer, so one writer at a time decides whether it is new, and parallel writers never race on one id.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from typing import Any, Iterable

SHARD_SEPARATOR = "/"


def shard_key(layer: str, event_id: str, shards: int) -> str:
    return f"{layer}{SHARD_SEPARATOR}{zlib.crc32(event_id.encode()) % max(1, shards)}"


def layer_of_shard(key: str) -> str:
    return key.rsplit(SHARD_SEPARATOR, 1)[0]


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


def partition_days(events: Iterable[dict[str, Any]]) -> list[str]:
    """The day partitions (UTC, ISO dates) a batch touches: the replay check only reads those."""
    import datetime as dt

    days = {dt.datetime.fromtimestamp(event["ts"] / 1000, tz=dt.timezone.utc).date().isoformat() for event in events}
    return sorted(days)
