"""Quarantined events: the rows of the `quarantine` table that `events.quarantine` messages become (written by the
one loader, jobs/quarantine, inside the metrics job), listing them, and replaying those the current plan now
accepts into `events.raw`.

A row is identified by (app_id, event_id): a message loaded twice (the job replays after a restore) or a re-sent
event quarantined again collapse into one row, the newest version winning. Rows the streaming job loads carry
`topic_offset` 0 (Flink keeps the read position); rows of the earlier offset-based loader keep their offset, and a
replay mark copies the row's value, so it replaces exactly the row it marks.

Replay is exactly once from this tool's side: a row is marked `replayed` only after Kafka acknowledged its
event, and replayed rows are never sent again. If the process dies between the acknowledgement and the mark,
the next replay sends the event again with the same event_id, which the detail layer collapses (dedup on
event_id), so the warehouse still holds it once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Iterable

from pipelines import messaging
from pipelines.config import Settings
from pipelines.envelope import primary_id
from pipelines.plan.validate import ACCEPT, PlanBook
from pipelines.warehouse.client import Warehouse

# `updated_at` is the ReplacingMergeTree version: a loaded row takes its quarantine time, a replay mark the time of
# the replay, so a late second load of the same message (a replay after a restore) can never undo a replay.
COLUMNS = (
    "event_id", "app_id", "event", "quarantined_at", "plan_version", "reasons", "reason_keys", "envelope",
    "topic_offset", "status", "replayed_at", "updated_at",
)  # fmt: skip
STREAMED_OFFSET = 0  # topic_offset of the rows the streaming loader writes


def _millis(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value / 1000, tz=dt.timezone.utc)


def quarantine_row(value: bytes) -> list[Any]:
    """The table row for one events.quarantine message. Two producers share the topic: the collector's plan
    verdicts ({"envelope", "reasons", ...}, replayable) and the streaming jobs' dead letters ({"stage", "reason",
    "payload", ...}, status `dead_letter`: kept with their reason, never re-injected, since no plan change fixes
    a broken envelope). Anything else is kept as a dead letter too rather than stopping the loader."""
    try:
        held = json.loads(value)
    except ValueError:
        held = {"stage": "unknown", "reason": "not JSON", "payload": value.decode("utf-8", errors="replace")}
    if isinstance(held, dict) and isinstance(held.get("envelope"), dict) and "event_id" in held["envelope"]:
        envelope, reasons, status = held["envelope"], held.get("reasons", []), "quarantined"
        quarantined_at = _millis(held.get("quarantined_at", envelope["ts"]))
        plan_version = held.get("plan_version", 0)
    else:
        held = held if isinstance(held, dict) else {"stage": "unknown", "reason": "not a JSON object", "payload": str(held)}
        envelope = _dead_letter_envelope(held, value)
        reasons = [{"field": str(held.get("stage") or "pipeline"), "rule": "dead_letter", "detail": str(held.get("reason", ""))}]
        quarantined_at, plan_version, status = _millis(held.get("rejected_at") or time.time() * 1000), 0, "dead_letter"
    return [
        uuid.UUID(str(envelope["event_id"])), str(envelope.get("app_id", "")), str(envelope.get("event", "")),
        quarantined_at, plan_version, json.dumps(reasons), [f"{r['field']}:{r['rule']}" for r in reasons],
        json.dumps(envelope), STREAMED_OFFSET, status, None, quarantined_at,
    ]  # fmt: skip


def _dead_letter_envelope(held: dict, message: bytes) -> dict:
    """What is known of a dead letter's event; its event_id when it had a valid one, else one derived from the
    message's content (stable, so loading it twice collapses)."""
    try:
        payload = json.loads(held.get("payload") or "")
    except (TypeError, ValueError):
        payload = None
    envelope = dict(payload) if isinstance(payload, dict) else {"payload": held.get("payload")}
    try:
        envelope["event_id"] = str(uuid.UUID(str(envelope.get("event_id"))))
    except ValueError:
        digest = hashlib.sha256(message).hexdigest()
        envelope["event_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{messaging.QUARANTINE}/{digest}"))
    envelope["app_id"] = str(envelope.get("app_id") or held.get("app_id") or "")
    envelope["event"] = str(envelope.get("event") or held.get("event") or "")
    return envelope


def load_messages(warehouse: Warehouse, messages: Iterable[bytes]) -> int:
    """Insert the rows of `events.quarantine` messages; returns how many. Idempotent per message (see above)."""
    rows = [quarantine_row(message) for message in messages]
    if rows:
        warehouse.insert("quarantine", rows, COLUMNS, settings={"async_insert": 0})
    return len(rows)


@dataclass(frozen=True)
class Held:
    event_id: str
    app_id: str
    event: str
    quarantined_at: dt.datetime
    plan_version: int
    reasons: list[dict]
    envelope: dict
    topic_offset: int
    status: str


def list_held(warehouse: Warehouse, app_id: str | None = None, status: str | None = "quarantined", limit: int = 100) -> list[Held]:
    where, params = ["1"], {"limit": limit}
    if app_id:
        where.append("app_id = {app:String}")
        params["app"] = app_id
    if status:
        where.append("status = {status:String}")
        params["status"] = status
    rows = warehouse.rows(
        "SELECT toString(event_id), app_id, event, quarantined_at, plan_version, reasons, envelope, topic_offset, status "
        f"FROM quarantine FINAL WHERE {' AND '.join(where)} ORDER BY quarantined_at, event_id LIMIT {{limit:UInt32}}",
        params,
    )
    return [Held(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), json.loads(r[6]), r[7], r[8]) for r in rows]


@dataclass(frozen=True)
class ReplayResult:
    checked: int
    replayed: int
    still_invalid: int


def replay(settings: Settings, warehouse: Warehouse, book: PlanBook, app_id: str | None = None, dry_run: bool = False) -> ReplayResult:
    """Re-validate every quarantined event against `book` (the current plans) and send those that pass to
    events.raw, then mark them replayed."""
    held = list_held(warehouse, app_id, "quarantined", limit=1_000_000)
    passing = []
    for item in held:
        verdict = book.validate(item.app_id, item.event, item.envelope.get("props") or {})
        if verdict.outcome == ACCEPT:
            envelope = dict(item.envelope)
            envelope["plan"] = {"version": verdict.plan_version, "flags": verdict.flags, "replayed_from_quarantine": True}
            passing.append((item, envelope))
    if dry_run or not passing:
        return ReplayResult(len(held), 0 if dry_run else len(passing), len(held) - len(passing))
    producer = messaging.producer(settings, client_id="trackflow-quarantine-replay")
    try:
        futures = [
            producer.send(messaging.RAW, key=(primary_id(env["ids"])[1] or env["event_id"]).encode(), value=json.dumps(env).encode())
            for _, env in passing
        ]
        producer.flush()
        for future in futures:
            future.get(timeout=30)  # raises if any was not acknowledged: nothing is marked then
    finally:
        producer.close()
    now = dt.datetime.now(tz=dt.timezone.utc)
    marked = [
        [uuid.UUID(item.event_id), item.app_id, item.event, item.quarantined_at, item.plan_version, json.dumps(item.reasons),
         [f"{r['field']}:{r['rule']}" for r in item.reasons], json.dumps(item.envelope), item.topic_offset, "replayed", now, now]
        for item, _ in passing
    ]  # fmt: skip
    warehouse.insert("quarantine", marked, COLUMNS, settings={"insert_deduplication_token": f"replay-{time.time_ns()}"})
    return ReplayResult(len(held), len(passing), len(held) - len(passing))
