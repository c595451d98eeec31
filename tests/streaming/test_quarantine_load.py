"""The metrics job owns the collector's two warehouse-bound side outputs: it loads events.quarantine into the
`quarantine` table (jobs/quarantine) and adds the collector's accepted counts (metrics.collected) to pipeline_metrics
as stage `collected`. The collector itself only produces to Kafka."""

from __future__ import annotations

import uuid

import pytest

from pipelines import messaging
from pipelines.streaming.decode import dead_letter
from tests.collect.conftest import APP_ID, APP_KEY, in_process_client, make_event
from tests.streaming.conftest import JobProcess, wait_for

pytestmark = pytest.mark.jvm


def test_metrics_job_loads_the_quarantine_and_counts_what_the_collector_accepted(stack, stack_settings, warehouse, tmp_path):
    app = f"counted-{uuid.uuid4().hex[:8]}"
    settings = stack_settings.model_copy(update={"collector_app_keys": {APP_KEY: APP_ID, "counted-key": app}})
    held = make_event("pay", currency="GBP")  # breaks the demo-shop plan: quarantined
    letter = dead_letter("layering", "invalid JSON", "{broken " + uuid.uuid4().hex)
    with in_process_client(settings, tmp_path / "spool", port=1) as client:
        assert client.post("/v1/events", json=held, headers={"X-App-Key": APP_KEY}).json()["quarantined"] == 1
        batch = [make_event("click") for _ in range(3)] + [make_event("pay")]
        assert client.post("/v1/batch", json=batch, headers={"X-App-Key": "counted-key"}).json()["accepted"] == 4
    producer = messaging.producer(stack_settings)
    producer.send(messaging.QUARANTINE, value=letter.to_json().encode()).get(timeout=10)
    producer.close()

    metrics = JobProcess("metrics", tmp_path)
    metrics.start(recover="none")
    try:
        quarantined = "SELECT status FROM quarantine FINAL WHERE event_id = {id:UUID}"
        assert wait_for(lambda: warehouse.rows(quarantined, {"id": held["event_id"]}), timeout_s=120, what="the quarantined event") == [("quarantined",)]
        dead = "SELECT count() FROM quarantine FINAL WHERE status = 'dead_letter' AND position(envelope, {marker:String}) > 0"
        wait_for(lambda: warehouse.scalar(dead, {"marker": letter.payload[8:]}), timeout_s=60, what="the dead letter")
        collected = "SELECT event, sum(events) FROM pipeline_metrics WHERE stage = 'collected' AND app_id = {app:String} GROUP BY event ORDER BY event"

        def counted():
            rows = warehouse.rows(collected, {"app": app})
            return rows if sum(n for _, n in rows) >= len(batch) else None

        assert wait_for(counted, timeout_s=60, what="the collected counts") == [("click", 3), ("pay", 1)]
    finally:
        metrics.stop()
