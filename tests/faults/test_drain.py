"""`trackflow down`'s drain after a broker restart, on a real broker restarted on its port: the job process that read
the old incarnation is being replaced by one on the new incarnation's consumer groups (the runner's watcher), so
the drain must follow the groups of the process reading now — not wait out its deadline on the groups left behind
(the old process read part of the new topics before it was cancelled), nor stop before the new groups caught up.

The job processes are stood in for by what the drain observes of them: the broker record each one writes when it
runs (runner.record_started) and the offsets its checkpoints commit. The drills (test_drills.py) run the real jobs
through restarts and count every event."""

from __future__ import annotations

import threading
import time

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from pipelines import messaging
from pipelines.config import Settings
from pipelines.flinkrun.environment import consumer_group
from pipelines.flinkrun.progress import EVENT_PATH_INPUTS
from pipelines.flinkrun.runner import ALL, BrokerSeen, record_started
from pipelines.ports import free_port
from pipelines.stack.components import drain_jobs
from pipelines.stack.processes import Broker

pytestmark = [pytest.mark.fault, pytest.mark.timeout(180)]
LAYERING_GROUP = EVENT_PATH_INPUTS["layering"][0]
DRAIN_TIMEOUT_S = 40.0


def produce(settings: Settings, n: int) -> None:
    producer = KafkaProducer(bootstrap_servers=messaging.bootstrap_servers(settings), linger_ms=5)
    for i in range(n):
        producer.send(messaging.RAW, value=b'{"n": %d}' % i, partition=0)
    producer.flush()
    producer.close()


def commit(settings: Settings, incarnation: str, offset: int) -> None:
    """What a job's checkpoint does: the layering group of `incarnation` committed at `offset` on events.raw[0]."""
    consumer = KafkaConsumer(
        bootstrap_servers=messaging.bootstrap_servers(settings), group_id=consumer_group(LAYERING_GROUP, incarnation), enable_auto_commit=False
    )
    consumer.commit({TopicPartition(messaging.RAW, 0): OffsetAndMetadata(offset, "", -1)})
    consumer.close()


def test_the_drain_follows_the_job_restarted_on_a_new_broker_incarnation(tmp_path):
    port = free_port()
    settings = Settings(
        data_dir=tmp_path / "data", clickhouse_url="", kafka_bootstrap="", kafka_port=port, jobs_drain_timeout_s=DRAIN_TIMEOUT_S,
        flink_checkpoint_interval_ms=500, dwd_batch_max_delay_ms=100,
    )  # fmt: skip
    settings.state_dir.mkdir(parents=True)
    (settings.state_dir / "broker.port").write_text(str(port))  # as the stack records a running broker
    broker = Broker(settings, port, tmp_path / "broker.log")
    bootstrap = f"127.0.0.1:{port}"
    try:
        broker.start()
        messaging.ensure_topics(settings)
        old = messaging.broker_incarnation(settings)
        record_started(settings, ALL, BrokerSeen(bootstrap, old))

        # The broker restarts on its port (empty, a new incarnation); events arrive; the old job process reads some
        # of them under its old groups before its watcher cancels it.
        broker.stop()
        broker.start()
        messaging.ensure_topics(settings)
        new = messaging.broker_incarnation(settings)
        assert new and new != old
        produce(settings, 200)
        commit(settings, old, 150)

        reports: list[tuple[float, str]] = []
        drain = threading.Thread(target=drain_jobs, args=(settings, lambda line: reports.append((time.monotonic(), line))))
        drain.start()
        time.sleep(3)  # the new process starts (a PyFlink job takes seconds)...
        record_started(settings, ALL, BrokerSeen(bootstrap, new))
        commit(settings, new, 100)  # ...reads the new topics from the start under the new groups, checkpoints half...
        time.sleep(3)
        assert drain.is_alive(), reports  # half is not caught up
        all_committed = time.monotonic()
        commit(settings, new, 200)  # ...then all of it
        drain.join(DRAIN_TIMEOUT_S + 30)
        assert not drain.is_alive()
    finally:
        broker.stop()

    lines = [line for _, line in reports]
    assert any(f"restarting on broker incarnation {new} (recorded: {old})" in line for line in lines), lines
    assert not any("still behind" in line or "stopping without" in line for line in lines), lines
    caught_up = [at for at, line in reports if "caught up with their input" in line]
    assert len(caught_up) == 1 and caught_up[0] > all_committed, reports
