"""Both producers of events.quarantine load into the quarantine table: the collector's plan verdicts (replayable)
and the streaming jobs' dead letters (kept with their reason as `dead_letter`); nothing stops the loader, and a
message loaded again makes the same row (the loader, jobs/quarantine, may replay after a restore)."""

from __future__ import annotations

import json
import uuid

from pipelines.plan.quarantine import COLUMNS, quarantine_row
from pipelines.streaming.decode import dead_letter


def as_dict(row) -> dict:
    return dict(zip(COLUMNS, row))


def test_plan_verdict_is_replayable():
    event_id = str(uuid.uuid4())
    verdict = {
        "envelope": {"event_id": event_id, "app_id": "a", "event": "pay", "ts": 1_790_000_000_000},
        "reasons": [{"field": "amount", "rule": "required", "detail": "missing"}],
        "plan_version": 3,
        "quarantined_at": 1_790_000_000_500,
    }
    row = as_dict(quarantine_row(json.dumps(verdict).encode()))
    assert (str(row["event_id"]), row["status"], row["reason_keys"], row["plan_version"]) == (event_id, "quarantined", ["amount:required"], 3)


def test_dead_letters_and_junk_are_kept_with_their_reason():
    event_id = str(uuid.uuid4())
    bad_ts = dead_letter("dwd", "cannot normalise: ts", {"event_id": event_id, "app_id": "a", "event": "pay", "ts": "x"})
    row = as_dict(quarantine_row(bad_ts.to_json().encode()))
    assert (str(row["event_id"]), row["app_id"], row["event"], row["status"]) == (event_id, "a", "pay", "dead_letter")
    assert row["reason_keys"] == ["dwd:dead_letter"] and "cannot normalise" in row["reasons"]

    not_json = dead_letter("layering", "invalid JSON", "{broken")
    first, again = (as_dict(quarantine_row(not_json.to_json().encode())) for _ in range(2))
    assert first["event_id"] == again["event_id"]  # derived from the message: a reload collapses
    other = as_dict(quarantine_row(dead_letter("layering", "invalid JSON", "{broken too").to_json().encode()))
    assert other["event_id"] != first["event_id"]
    assert json.loads(first["envelope"])["payload"] == "{broken"

    garbage = as_dict(quarantine_row(b"\xff not even json"))
    assert garbage["status"] == "dead_letter" and garbage["reason_keys"] == ["unknown:dead_letter"]
