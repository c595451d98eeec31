"""Degrade, never lose: the spool on its own, then a private broker + collector where the broker is stopped
mid-stream and started again. Every event answered 200 or 202 must reach the new broker exactly once (those it
had acknowledged before the outage through the journal, tests/collect/test_journal.py)."""

from __future__ import annotations

import os
import time

import httpx
import pytest

from pipelines import messaging
from pipelines.collect.spool import Record, Spool, SpoolFull
from pipelines.ports import free_port
from pipelines.stack.processes import Broker, start_collector, stop_process, wait_until
from tests.collect.conftest import APP_KEY, KafkaTap, make_event


def records(n: int, start: int = 0) -> list[Record]:
    return [Record(messaging.RAW, f"k{i}".encode(), f"value-{i}".encode()) for i in range(start, start + n)]


def test_spool_replays_in_order_across_segments_and_restarts(tmp_path):
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=200)
    spool.append(records(10))
    spool.append(records(10, 10))
    assert len(list(tmp_path.glob("seg-*.log"))) > 1
    first, position = spool.read(7)
    assert [r.value for r in first] == [f"value-{i}".encode() for i in range(7)]
    spool.commit(position)
    reopened = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=200)  # a collector restart keeps the position
    rest, position = reopened.read(100)
    assert [r.key for r in rest] == [f"k{i}".encode() for i in range(7, 20)]
    reopened.commit(position)
    assert reopened.empty and reopened.read(10)[0] == []
    reopened.append(records(1, 99))
    assert [r.key for r in reopened.read(10)[0]] == [b"k99"]


def test_spool_skips_a_torn_tail_and_refuses_when_full(tmp_path):
    spool = Spool(tmp_path, max_bytes=300)
    spool.append(records(3))
    segment = next(tmp_path.glob("seg-*.log"))
    with open(segment, "ab") as handle:  # a crash in the middle of a write: never acknowledged
        handle.write(b"\x00\x00\x00\x40partial")
    assert [r.key for r in spool.read(10)[0]] == [b"k0", b"k1", b"k2"]
    with pytest.raises(SpoolFull):
        spool.append(records(20))


def test_records_spooled_after_a_torn_tail_are_replayed(tmp_path):
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append(records(2))
    with open(next(tmp_path.glob("seg-*.log")), "ab") as handle:  # the collector died in the middle of a write
        handle.write(b"\x00\x00\x00\x40partial")
    reopened = Spool(tmp_path, max_bytes=1 << 20)  # its restart spools more while Kafka is still away
    reopened.append(records(2, 2))
    assert [r.key for r in reopened.read(10)[0]] == [b"k0", b"k1", b"k2", b"k3"]


@pytest.fixture
def outage_rig(stack_settings, tmp_path):
    """A private broker and collector (short ack timeout) so stopping the broker leaves the session stack alone."""
    broker = Broker(stack_settings, free_port(), tmp_path / "broker.log")
    broker.start()
    messaging.ensure_topics(stack_settings.model_copy(update={"kafka_bootstrap": broker.bootstrap}))
    process, url = start_collector(tmp_path / "collector", broker.bootstrap, collector_ack_timeout_s="1.5")
    yield broker, url, tmp_path
    stop_process(process)
    broker.stop()


def send_batches(url: str, batches: list[list[dict]]) -> list[int]:
    with httpx.Client(base_url=url, headers={"X-App-Key": APP_KEY}, timeout=30) as client:
        return [client.post("/v1/batch", json=batch).status_code for batch in batches]


def test_broker_outage_spools_then_replays_everything_exactly_once(outage_rig):
    broker, url, tmp_path = outage_rig
    before = [[make_event("click", x=i, y=j) for j in range(10)] for i in range(5)]
    assert send_batches(url, before) == [200] * 5
    tap = KafkaTap(broker.bootstrap)
    tap.wait([e["event_id"] for batch in before for e in batch])
    tap.close()

    broker.stop()
    during = [[make_event("click", device="dev-outage", x=i, y=j) for j in range(10)] for i in range(20)]
    statuses = send_batches(url, during)
    assert statuses == [202] * 20, statuses  # acknowledged as spooled, not as delivered
    health = httpx.get(f"{url}/healthz").json()
    assert health["status"] == "degraded" and health["spool_bytes"] > 0
    spool_files = list((tmp_path / "collector" / "spool").rglob("seg-*.log"))
    assert spool_files and sum(os.path.getsize(p) for p in spool_files) > 0

    broker.start()  # comes back empty (memory storage): the collector recreates the topics and replays
    wait_until(lambda: httpx.get(f"{url}/healthz").json()["status"] == "ok", 30, "collector never left spooling")
    after = [[make_event("click", x=i, y=j) for j in range(10)] for i in range(5)]
    assert send_batches(url, after) == [200] * 5

    tap = KafkaTap(broker.bootstrap)
    # The events acknowledged before the outage were lost with the old broker's memory: the journal replays them.
    expected = [e["event_id"] for batch in before + during + after for e in batch]
    delivered = tap.wait(expected, timeout=30)
    time.sleep(1.0)
    tap.close()
    assert all(len(copies) == 1 for copies in delivered.values()), "an event was delivered twice"
    assert sum(len(v) for v in tap.raw.values()) == len(expected)  # nothing else, nothing doubled
    # Replay keeps the order in which the spool took them (Kafka orders per key: one device here).
    replayed = [envelope["event_id"] for key, value in tap.raw_messages if key == b"dev-outage" for envelope in _split(value)]
    assert replayed == [e["event_id"] for batch in during for e in batch]
    assert httpx.get(f"{url}/healthz").json()["spool_bytes"] == 0


def _split(value: bytes) -> list[dict]:
    import orjson

    document = orjson.loads(value)
    return document if isinstance(document, list) else [document]


def test_full_spool_answers_503_with_retry_after(tmp_path):
    dead_port = free_port()  # nothing listens: Kafka is unreachable from the start
    process, url = start_collector(tmp_path / "collector", f"127.0.0.1:{dead_port}", collector_spool_max_bytes="20000")
    try:
        statuses = send_batches(url, [[make_event("click", x=1, y=1) for _ in range(10)] for _ in range(12)])
        assert statuses[0] == 202 and statuses[-1] == 503, statuses
        answer = httpx.post(f"{url}/v1/batch", json=[make_event("click", x=1, y=1) for _ in range(10)], headers={"X-App-Key": APP_KEY})
        assert answer.status_code == 503 and int(answer.headers["retry-after"]) > 0 and "spool is full" in answer.json()["error"]
    finally:
        stop_process(process)
