"""Idempotent batched writes of detail rows into `dwd_<layer>`.

Two guards make a batch safe to repeat:
- the insert carries a content-derived `insert_deduplication_token`: an identical batch retried after a timeout
  or replayed with the same composition is dropped by the warehouse;
- the writer asks the warehouse which of the batch's *suspects* (events that may have been written before: see
  pipelines/streaming/dedup.py) it already holds, in every layer's table (a rule change may route a re-send
  elsewhere) and only in the day partitions they touch, and skips them. This covers what tokens cannot: after a
  restore from a checkpoint, buffered and replayed events are grouped into batches other than the ones written
  before the failure. It is exact because every copy of an event_id goes to the same writer (its person's shard)
  and normalised `ts` depends on the event alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pipelines.config import Settings
from pipelines.envelope import DETAIL_COLUMNS, detail_row
from pipelines.streaming.batching import batch_token, partition_days, table_of_layer, unique_by_event_id
from pipelines.warehouse.client import Warehouse

TEMPLATE_TABLE = "dwd_default"
ALL_LAYERS = "events"  # the Merge table over every dwd_<layer>
# Synchronous inserts: a row is queryable when insert() returns (freshness is measured at that moment), and
# deduplication tokens apply to the insert as sent rather than to the server's async buffer.
INSERT_SETTINGS = {"async_insert": 0}
EXISTING_CHECK_CHUNK = 4_000


@dataclass(frozen=True)
class WriteResult:
    table: str
    written: int
    already_present: int
    written_at_ms: int
    events: list[dict[str, Any]]  # the events this insert added (for metrics)


class DetailWriter:
    def __init__(self, settings: Settings):
        self.warehouse = Warehouse(settings)
        self.margin_ms = settings.clock_skew_tolerance_ms
        self._tables: set[str] = set()

    def ensure_table(self, layer: str) -> str:
        """dwd_<layer> with dwd_default's structure; the `events` Merge table picks it up by name."""
        table = table_of_layer(layer)
        if table not in self._tables:
            if table != TEMPLATE_TABLE:
                self.warehouse.command(f"CREATE TABLE IF NOT EXISTS {table} AS {TEMPLATE_TABLE}")
            self._tables.add(table)
        return table

    def newest_received_ms(self) -> int:
        """The newest `received_at` in any layer's table (0 when empty): what an earlier run may have written."""
        return int(self.warehouse.scalar(f"SELECT toUnixTimestamp64Milli(max(received_at)) FROM {ALL_LAYERS}") or 0)

    def existing_ids(self, events: list[dict[str, Any]]) -> set[str]:
        present: set[str] = set()
        # Client-side bound (%(name)s): the id list of a big batch is too long for URL parameters; chunked because
        # the statement must stay under the server's max_query_size (256 KiB ~ 6,500 quoted UUIDs).
        for start in range(0, len(events), EXISTING_CHECK_CHUNK):
            chunk = events[start : start + EXISTING_CHECK_CHUNK]
            rows = self.warehouse.rows(
                f"SELECT DISTINCT toString(event_id) FROM {ALL_LAYERS} "
                "WHERE toDate(ts) IN %(days)s AND event_id IN %(ids)s",
                {"days": partition_days(chunk, self.margin_ms), "ids": [event["event_id"] for event in chunk]},
            )
            present.update(row[0] for row in rows)
        return present

    def write(self, layer: str, events: list[dict[str, Any]], suspects: list[dict[str, Any]] | None = None) -> WriteResult:
        """Insert `events` into dwd_<layer>, skipping those of `suspects` (default: all events) already stored."""
        table = self.ensure_table(layer)
        unique = unique_by_event_id(events)
        present = self.existing_ids(unique if suspects is None else suspects)
        fresh = [event for event in unique if event["event_id"] not in present]
        if fresh:
            settings = dict(INSERT_SETTINGS, insert_deduplication_token=batch_token(table, (e["event_id"] for e in fresh)))
            self.warehouse.insert(table, [detail_row(event, layer) for event in fresh], DETAIL_COLUMNS, settings=settings)
        return WriteResult(table, len(fresh), len(unique) - len(fresh), int(time.time() * 1000), fresh)

    def close(self) -> None:
        self.warehouse.close()
