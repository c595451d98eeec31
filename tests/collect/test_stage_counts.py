"""The collector's accepted counts leave it the way every other output does, through Kafka: per-minute summaries on
`metrics.collected` that jobs/metrics adds into pipeline_metrics as stage `collected`, the first term of
reconciliation (the job's part: tests/streaming/test_quarantine_load.py). The collector writes nothing to the
warehouse."""

from __future__ import annotations

import json
import uuid

from kafka import KafkaConsumer, TopicPartition

from pipelines import messaging
from pipelines.collect.stage_counts import CollectedCounts
from tests.collect.conftest import in_process_client, make_event


def test_counts_are_per_minute_app_and_event_and_survive_a_failed_flush():
    counts = CollectedCounts()
    minute = 1_793_491_200_000
    counts.add(minute + 5_000, "app", ["click", "click", "pay"])
    counts.add(minute + 65_000, "app", ["click"])
    summaries = counts.drain()
    assert [(s["minute"], s["stage"], s["app_id"], s["event"], s["events"]) for s in summaries] == [
        (1_793_491_200, "collected", "app", "click", 2),
        (1_793_491_200, "collected", "app", "pay", 1),
        (1_793_491_260, "collected", "app", "click", 1),
    ]
    assert counts.drain() == []
    counts.restore(summaries)
    counts.add(minute, "app", ["pay"])
    assert sorted((s["event"], s["events"]) for s in counts.drain()) == [("click", 1), ("click", 2), ("pay", 2)]


def collected_summaries(settings, collector_id: str) -> list[dict]:
    """Every summary on metrics.collected that this collector sent (its id is the message key)."""
    consumer = KafkaConsumer(bootstrap_servers=messaging.bootstrap_servers(settings), enable_auto_commit=False, consumer_timeout_ms=2000)
    try:
        partition = TopicPartition(messaging.COLLECTED_COUNTS, 0)
        consumer.assign([partition])
        consumer.seek(partition, 0)
        return [json.loads(message.value) for message in consumer if message.key == collector_id.encode()]
    finally:
        consumer.close()


def test_accepted_events_are_sent_as_collected_and_nothing_is_written(stack, stack_settings, warehouse, tmp_path):
    collector_id = f"count-test-{uuid.uuid4().hex[:8]}"
    settings = stack_settings.model_copy(update={"collector_id": collector_id})
    metrics_rows = "SELECT count() FROM pipeline_metrics"
    before = warehouse.scalar(metrics_rows)
    with in_process_client(settings, tmp_path / "spool", port=1) as client:
        batch = [make_event("click") for _ in range(4)] + [make_event("pay", amount=3)]
        answer = client.post("/v1/batch", json=batch)
        assert answer.status_code == 200, answer.text
        undeclared = client.post("/v1/events", json=make_event("no_such_event"))  # quarantined, not collected
        assert undeclared.status_code == 200 and undeclared.json()["quarantined"] == 1
    # leaving the client ran the app's shutdown, which flushes the counts
    totals: dict[str, int] = {}
    for summary in collected_summaries(settings, collector_id):
        assert summary["stage"] == "collected" and summary["minute"] % 60 == 0
        totals[summary["event"]] = totals.get(summary["event"], 0) + summary["events"]
    assert sorted(totals.items()) == [("click", 4), ("pay", 1)]
    assert warehouse.scalar(metrics_rows) == before
