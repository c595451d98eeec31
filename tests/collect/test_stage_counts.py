"""The collector's accepted counts reach pipeline_metrics as stage `collected`, the first term of reconciliation."""

from __future__ import annotations

import datetime as dt
import uuid

from pipelines.collect.stage_counts import CollectedCounts
from tests.collect.conftest import in_process_client, make_event


def test_counts_are_per_minute_app_and_event_and_survive_a_failed_flush():
    counts = CollectedCounts("c1")
    minute = 1_793_491_200_000
    counts.add(minute + 5_000, "app", ["click", "click", "pay"])
    counts.add(minute + 65_000, "app", ["click"])
    rows = counts.drain()
    assert [(r[0], r[2], r[3], r[4]) for r in rows] == [
        (dt.datetime(2026, 11, 1, 0, 0, tzinfo=dt.timezone.utc), "app", "click", 2),
        (dt.datetime(2026, 11, 1, 0, 0, tzinfo=dt.timezone.utc), "app", "pay", 1),
        (dt.datetime(2026, 11, 1, 0, 1, tzinfo=dt.timezone.utc), "app", "click", 1),
    ]
    assert counts.drain() == []
    counts.restore(rows)
    counts.add(minute, "app", ["pay"])
    assert sorted((r[3], r[4]) for r in counts.drain()) == [("click", 1), ("click", 2), ("pay", 2)]


def test_accepted_events_are_written_as_collected(stack, stack_settings, warehouse, tmp_path):
    collector_id = f"count-test-{uuid.uuid4().hex[:8]}"
    settings = stack_settings.model_copy(update={"collector_id": collector_id, "collector_quarantine_load_s": 0})
    with in_process_client(settings, tmp_path / "spool", port=1) as client:
        batch = [make_event("click") for _ in range(4)] + [make_event("pay", amount=3)]
        answer = client.post("/v1/batch", json=batch)
        assert answer.status_code == 200, answer.text
        undeclared = client.post("/v1/events", json=make_event("no_such_event"))  # quarantined, not collected
        assert undeclared.status_code == 200 and undeclared.json()["quarantined"] == 1
    # leaving the client ran the app's shutdown, which flushes the counts
    rows = warehouse.rows(
        "SELECT event, sum(events) FROM pipeline_metrics WHERE stage = 'collected' AND job = {job:String} GROUP BY event ORDER BY event",
        {"job": collector_id},
    )
    assert rows == [("click", 4), ("pay", 1)]
