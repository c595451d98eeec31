"""The recorder: every query through the warehouse client goes into a bounded queue; one background thread parses
it (with the extractor's cache) and writes `query_log` and `query_heat` in batches through a writer Warehouse.

The listener side only does `put_nowait`: when the queue is full the query is counted in `dropped` and
forgotten, so heat never slows or fails a query (design: "degrade, never lose" applies to events, while heat
parsing is optional work that is shed under load).
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

from pipelines.heat.catalog import Catalog
from pipelines.heat.extract import ExtractionFailure, Extractor, normalize
from pipelines.heat.model import Extraction

log = logging.getLogger("trackflow.heat")

QUERY_LOG_COLUMNS = (
    "query_id", "source", "started_at", "user", "query", "query_hash", "parameters", "duration_ms", "read_rows",
    "result_rows", "error", "parse_error", "statement", "tables", "columns", "events", "unresolved",
)
QUERY_HEAT_COLUMNS = ("query_id", "started_at", "user", "object_kind", "object", "table_name", "roles")


@dataclass(frozen=True)
class SeenQuery:
    """A query to record, from the warehouse listener or from an imported `system.query_log` row."""

    query_id: str
    sql: str
    parameters: dict[str, Any]
    user: str
    started_at: float  # epoch seconds
    duration_s: float
    read_rows: int
    result_rows: int
    error: str
    source: str = "platform"

    @classmethod
    def from_record(cls, record) -> "SeenQuery":
        return cls(
            query_id=record.query_id or str(uuid.uuid4()),
            sql=record.sql,
            parameters=dict(record.parameters or {}),
            user=record.user,
            started_at=record.started_at,
            duration_s=record.duration_s,
            read_rows=record.read_rows,
            result_rows=record.result_rows,
            error=record.error or "",
        )


def query_hash(normalized: str) -> int:
    return int.from_bytes(hashlib.blake2b(normalized.encode(), digest_size=8).digest(), "little")


@dataclass(frozen=True)
class RowParts:
    """The part of a query's rows that depends only on its extraction, built once per cached extraction."""

    log_tail: tuple  # parse_error .. unresolved columns of query_log
    heat_tails: tuple[tuple, ...]  # object_kind .. roles of each query_heat row


def row_parts(result: Extraction | ExtractionFailure) -> RowParts:
    if isinstance(result, ExtractionFailure):
        return RowParts((f"line {result.line}:{result.column} {result.error}", "", [], [], [], []), ())
    log_tail = (
        "", result.statement, list(result.tables), [c.qualified for c in result.columns],
        sorted({e.event for e in result.events}), [f"{u.kind}: {u.text} ({u.reason})" for u in result.unresolved],
    )
    tails = [("table", table, "", []) for table in result.tables]
    tails += [("column", use.qualified, use.table, list(use.roles)) for use in result.columns]
    shapes: dict[tuple[str, str], set[str]] = {}
    for event in result.events:
        shapes.setdefault((event.event, event.table), set()).add(event.via)
    tails += [("event", name, table, sorted(via)) for (name, table), via in shapes.items()]
    return RowParts(log_tail, tuple(tails))


def log_row(seen: SeenQuery, parts: RowParts, normalized: str | None = None) -> list:
    started = datetime.fromtimestamp(seen.started_at, tz=timezone.utc)
    return [
        seen.query_id, seen.source, started, seen.user, seen.sql, query_hash(normalized or normalize(seen.sql)),
        json.dumps(seen.parameters, default=str, sort_keys=True) if seen.parameters else "{}",
        seen.duration_s * 1000.0, seen.read_rows, seen.result_rows, seen.error, *parts.log_tail,
    ]


def heat_rows(seen: SeenQuery, parts: RowParts) -> list[tuple]:
    started = datetime.fromtimestamp(seen.started_at, tz=timezone.utc)
    return [(seen.query_id, started, seen.user, *tail) for tail in parts.heat_tails]


class RowPartsCache:
    """`row_parts` per extraction object. The extractor hands out the same object for every hit of a query
    without parameters, so this turns most rows into tuple copies. Keyed by identity, holding the object so its
    id cannot be reused while the entry lives; bounded by clearing."""

    def __init__(self, size: int = 4096):
        self.size = size
        self._entries: dict[int, tuple[object, RowParts]] = {}

    def get(self, result) -> RowParts:
        entry = self._entries.get(id(result))
        if entry is not None and entry[0] is result:
            return entry[1]
        parts = row_parts(result)
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[id(result)] = (result, parts)
        return parts


class HeatRecorder:
    """Attach with `recorder.attach(warehouse)`; stop with `recorder.close()` (flushes what is queued)."""

    def __init__(
        self,
        writer,
        extractor: Extractor | None = None,
        max_queue: int = 10_000,
        batch_size: int = 500,
        flush_interval_s: float = 1.0,
    ):
        self.writer = writer
        # Unqualified names in observed queries resolve in the warehouse's database, as they did when they ran.
        self.extractor = extractor or Extractor(Catalog(getattr(writer, "database", "default")))
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self._queue: queue.Queue[SeenQuery | None] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._attached: list = []
        self._drop_lock = threading.Lock()  # many query threads may overflow at once; no drop goes uncounted
        self.dropped = 0
        self.recorded = 0
        self.parse_failures = 0
        self.write_failures = 0
        self._row_parts = RowPartsCache()

    # -- hot path ---------------------------------------------------------------------------------------------
    def __call__(self, record) -> None:
        """The warehouse listener: enqueue or count a drop. Never blocks, never raises."""
        self.offer(SeenQuery.from_record(record))

    def offer(self, seen: SeenQuery) -> bool:
        try:
            self._queue.put_nowait(seen)
            return True
        except queue.Full:
            with self._drop_lock:
                self.dropped += 1
            return False

    # -- lifecycle --------------------------------------------------------------------------------------------
    def attach(self, warehouse) -> "HeatRecorder":
        warehouse.add_listener(self)
        self._attached.append(warehouse)
        return self.start()

    def start(self) -> "HeatRecorder":
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="heat-recorder", daemon=True)
            self._thread.start()
        return self

    def close(self, timeout_s: float = 30.0) -> None:
        for warehouse in self._attached:
            warehouse.remove_listener(self)
        self._attached.clear()
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)  # blocking put: the stop marker must get in even if the queue is full
            self._thread.join(timeout_s)
        self._thread = None

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until everything queued so far is written (tests, the importer, shutdown)."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def stats(self) -> dict[str, int]:
        return {
            "queued": self.queued, "dropped": self.dropped, "recorded": self.recorded,
            "parse_failures": self.parse_failures, "write_failures": self.write_failures,
            "cache_hits": self.extractor.hits, "cache_misses": self.extractor.misses,
        }

    # -- background thread ------------------------------------------------------------------------------------
    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[SeenQuery] = []
            deadline = time.monotonic() + self.flush_interval_s
            while len(batch) < self.batch_size:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    self._queue.task_done()
                    stopping = True
                    break
                batch.append(item)
            if batch:
                self.record(batch)
                for _ in batch:
                    self._queue.task_done()

    def record(self, batch: Iterable[SeenQuery]) -> None:
        """Parse and write a batch (also used synchronously by the importer)."""
        log_rows, heat = [], []
        for seen in batch:
            normalized = normalize(seen.sql)
            result = self.extractor.extract(seen.sql, seen.parameters, key=normalized)
            if isinstance(result, ExtractionFailure):
                self.parse_failures += 1
            parts = self._row_parts.get(result)
            log_rows.append(log_row(seen, parts, normalized))
            heat.extend(heat_rows(seen, parts))
        try:
            self.writer.insert("query_log", log_rows, QUERY_LOG_COLUMNS)
            if heat:
                self.writer.insert("query_heat", heat, QUERY_HEAT_COLUMNS)
            self.recorded += len(log_rows)
        except Exception:  # the warehouse being away must not kill the thread; the batch is lost and counted
            self.write_failures += len(log_rows)
            log.exception("heat recorder could not write %d queries", len(log_rows))
