"""Exactly once into the detail tables, keyed by event_id: the event index and the write protocol around it.

Every writer of detail rows (the dwd job's `DetailWriter`, `trackflow warehouse load`) writes through
`EventIndex.write_once`, so an event_id gets one row whatever its `ts`, layer, batch or the number of times it is
sent. `event_index` (migration 0041; EmbeddedRocksDB keyed by event_id) says where each id's one copy lives
(detail table and day partition) and whether that copy is known to be written. Per batch:

1. the batch's ids are looked up in the index (point lookups, not a scan);
2. ids absent are CLAIMED (index rows with `written = 0`), THEN their rows are inserted (with a deduplication
   token made from the batch's content, so an insert retried after a timeout is dropped by the warehouse), THEN
   the claims are confirmed (`written = 1`). The confirmation travels with the next batch's claims, in the same
   index insert (or with `flush()`), which saves a round trip per batch: a confirmation is what spares a later
   copy the check of step 4, never what makes a write correct, so one lost with a stopped writer costs a check;
3. ids present and confirmed are duplicates and are dropped;
4. ids present but unconfirmed (a writer stopped between its claim and its confirmation) are looked for in the
   claimed table and day partition only: a copy found is confirmed, a missing one is written as in 2. A missing
   copy whose claim is younger than `grace_s` may be an insert still in flight (a writer killed during a failover
   while the server finishes its insert): the writer waits until the claim is that old and looks again.

So a writer stopped between any two steps leaves either an unconfirmed claim, settled the next time the id is
written, or a confirmed claim whose row exists; a row never exists without its claim. Nothing is lost, nothing is
doubled, and `count()` on `events` is exact without FINAL. Re-sends are caught however late and whatever client
time they carry, because the key is the event_id alone.

What it does not cover: an insert that lands more than `grace_s` (30 s) after its claim; two writers writing the
same new id at the same moment (both look up, neither sees the other's claim): dwd's writers cannot (every copy of
an event reaches its person's shard, one writer per shard), a `warehouse load` of events that the dwd job writes at
the same time could. A writer that inserts into a dwd_ table without this module (direct INSERTs) leaves rows the
index does not know.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.envelope import DETAIL_COLUMNS
from pipelines.warehouse.client import Warehouse

INDEX_TABLE = "event_index"
INDEX_COLUMNS = ("event_id", "detail_table", "day", "written")  # claimed_at: the server's now64(3) by default
CLAIM_GRACE_S = 30.0  # far longer than an insert of one batch (tens of ms; a 100,000-row insert ~3 s)
# Ids per lookup statement. They are bound server-side ({ids:Array(UUID)}: clickhouse-connect sends long parameters
# in a form body, not in the statement) as uuid.UUID objects, which it formats without escaping them character by
# character as it does strings. Measured for 10,000 ids: strings in the SQL text (%(ids)s, which also meets
# max_query_size at ~6,500 ids) ~0.6 s, strings as a parameter ~0.3 s, UUID objects as a parameter: see
# bench/streaming/pipeline.py. The chunk only bounds one request's size.
LOOKUP_CHUNK = 20_000
# Synchronous inserts: a row is queryable when insert() returns (the claim is durable before the rows go in, the
# rows before the confirmation), and deduplication tokens apply to the insert as sent, not to an async buffer.
INSERT_SETTINGS = {"async_insert": 0, "insert_deduplicate": 1}


Located = tuple[str, str, dt.date]  # event_id, detail table, day partition


@dataclass(frozen=True)
class Claim:
    detail_table: str
    day: dt.date
    written: bool
    age_s: float  # since the entry was last written, on the server's clock


@dataclass(frozen=True)
class WriteOnce:
    table: str
    written: list[dict[str, Any]]  # the events this call added, first copy of each, in arrival order
    # Events of the batch not written: their event_id already has a row (or came twice in it). Kept, not only
    # counted: the dwd job reports them per app and received minute (monitoring's dedup drops, reconciliation).
    dropped: list[dict[str, Any]]

    @property
    def duplicates(self) -> int:
        return len(self.dropped)


def event_key(event: dict[str, Any]) -> str:
    """The event_id in canonical form (lower-case, hyphenated): a UUID has several spellings (upper-case, no hyphens,
    braces) that all name one event, and the index answers in this one."""
    return str(uuid.UUID(str(event["event_id"])))


def batch_token(table: str, event_ids: Iterable[str]) -> str:
    """Insert deduplication token derived from the batch's content: the same set of events into the same table
    always gets the same token, so an insert retried after a timeout (while the first attempt may still land) is
    dropped by the warehouse. Order-independent because a retry may hold the same events in another order."""
    digest = hashlib.sha256(table.encode())
    for event_id in sorted(event_ids):
        digest.update(event_id.encode())
    return f"{table}:{digest.hexdigest()[:32]}"


def utc_day(ts_ms: int) -> dt.date:
    """The day partition of a detail row (`toDate(ts)` of a DateTime64(3, 'UTC'))."""
    return dt.datetime.fromtimestamp(ts_ms / 1000, tz=dt.timezone.utc).date()


class EventIndex:
    """The write-once protocol over one warehouse handle. Event dicts carry `event_id` (a UUID in any spelling) and
    `ts` in epoch milliseconds."""

    def __init__(self, warehouse: Warehouse, grace_s: float = CLAIM_GRACE_S):
        self.warehouse = warehouse
        self.grace_s = grace_s
        self._unconfirmed: dict[str, tuple[str, dt.date]] = {}  # rows this writer inserted, confirmation not yet sent

    def claims(self, event_ids: Sequence[str]) -> dict[str, Claim]:
        """The index entries of these ids (absent ids are not in the result)."""
        found: dict[str, Claim] = {}
        for start in range(0, len(event_ids), LOOKUP_CHUNK):
            rows = self.warehouse.rows(
                "SELECT toString(event_id), detail_table, day, written, dateDiff('millisecond', claimed_at, now64(3)) "
                f"FROM {INDEX_TABLE} WHERE event_id IN {{ids:Array(UUID)}}",
                {"ids": [uuid.UUID(event_id) for event_id in event_ids[start : start + LOOKUP_CHUNK]]},
            )
            found.update((row[0], Claim(row[1], row[2], bool(row[3]), row[4] / 1000)) for row in rows)
        return found

    def stored_copies(self, unconfirmed: dict[str, Claim]) -> set[str]:
        """Which of these claimed ids have their row in the claimed table and day (read through the Merge table
        `events` with its `_table` column: one statement for every table, and a table dropped since reads as
        missing rather than failing)."""
        ids = list(unconfirmed)
        stored: set[str] = set()
        for start in range(0, len(ids), LOOKUP_CHUNK):
            chunk = {event_id: unconfirmed[event_id] for event_id in ids[start : start + LOOKUP_CHUNK]}
            rows = self.warehouse.rows(
                "SELECT DISTINCT toString(event_id), _table FROM events "
                "WHERE _table IN {tables:Array(String)} AND toDate(ts) IN {days:Array(Date)} "
                "AND event_id IN {ids:Array(UUID)}",
                {
                    "tables": sorted({claim.detail_table for claim in chunk.values()}),
                    "days": sorted({claim.day for claim in chunk.values()}),
                    "ids": [uuid.UUID(event_id) for event_id in chunk],
                },
            )
            stored.update(event_id for event_id, table in rows if chunk[event_id].detail_table == table)
        return stored

    def record(self, claims: Iterable[Located], confirmations: Iterable[Located] = ()) -> None:
        """Claims (written=0) and confirmations (1) in one insert; a key written again replaces its entry."""
        rows = [(event_id, table, day, 0) for event_id, table, day in claims]
        rows += [(event_id, table, day, 1) for event_id, table, day in confirmations]
        if rows:
            self.warehouse.insert(INDEX_TABLE, rows, INDEX_COLUMNS, settings={"async_insert": 0})

    def flush(self) -> None:
        """Send the confirmations still held (a writer's last batch)."""
        self.record((), self._take_unconfirmed())

    def _take_unconfirmed(self) -> list[Located]:
        held = [(event_id, table, day) for event_id, (table, day) in self._unconfirmed.items()]
        self._unconfirmed = {}
        return held

    def write_once(
        self,
        table: str,
        events: Sequence[dict[str, Any]],
        to_row: Callable[[dict[str, Any]], Sequence[Any]],
        column_names: Sequence[str] = DETAIL_COLUMNS,
    ) -> WriteOnce:
        """Insert into `table` the rows (`to_row(event)`) of the events whose event_id has no row yet."""
        first_copies: dict[str, dict[str, Any]] = {}  # a re-send inside the batch: the first copy, in arrival order
        repeats: list[dict[str, Any]] = []  # the later copies of a re-send inside the batch
        for event in events:
            key = event_key(event)
            if key not in first_copies:  # written with the canonical id (ClickHouse reads only some spellings)
                first_copies[key] = event if event["event_id"] == key else dict(event, event_id=key)
            else:
                repeats.append(event)
        claims = self.claims(list(first_copies))
        # Unconfirmed in the index but inserted by this writer (confirmation held): stored, no need to look.
        held = {event_id for event_id in claims if event_id in self._unconfirmed}
        unconfirmed = {key: claim for key, claim in claims.items() if not claim.written and key not in held}
        stored = self.stored_copies(unconfirmed) if unconfirmed else set()
        in_flight = [unconfirmed[event_id].age_s for event_id in unconfirmed.keys() - stored]
        if in_flight and min(in_flight) < self.grace_s:
            time.sleep(self.grace_s - min(in_flight))  # rare: only after a writer stopped mid-write
            stored = self.stored_copies(unconfirmed)
        self._unconfirmed.update((key, (unconfirmed[key].detail_table, unconfirmed[key].day)) for key in stored)
        lost = unconfirmed.keys() - stored  # claimed by a writer that stopped before its insert landed
        fresh = {key: event for key, event in first_copies.items() if key in lost or key not in claims}
        if fresh:
            located = [(key, table, utc_day(event["ts"])) for key, event in fresh.items()]
            self.record(located, self._take_unconfirmed())
            settings = dict(INSERT_SETTINGS, insert_deduplication_token=batch_token(table, fresh))
            self.warehouse.insert(table, [to_row(event) for event in fresh.values()], column_names, settings=settings)
            self._unconfirmed.update((event_id, (table, day)) for event_id, table, day in located)
        dropped = repeats + [event for key, event in first_copies.items() if key not in fresh]
        return WriteOnce(table, list(fresh.values()), dropped)
