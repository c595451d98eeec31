"""The local stack starts real processes on free ports, reports health honestly, stops cleanly, keeps data."""

from __future__ import annotations

import os
import signal
import time

import pytest

from pipelines.config import Settings
from pipelines.stack import Stack
from pipelines.stack.manager import pid_alive
from pipelines.warehouse.client import Warehouse


@pytest.fixture
def own_stack(tmp_path):
    settings = Settings(data_dir=tmp_path / "tf", warehouse_port=0, kafka_port=0, clickhouse_url="", kafka_bootstrap="")
    stack = Stack(settings)
    yield stack
    stack.down(report=lambda _: None)


def states(stack: Stack) -> dict[str, str]:
    """States of the components this stack runs (those switched off, like the optional jobs, left out)."""
    return {s.name: s.state for s in stack.status() if s.state != "off"}


def test_up_status_down_restart_keeps_data(own_stack):
    before = states(own_stack)
    assert set(before.values()) == {"stopped"}

    messages: list[str] = []
    own_stack.up(report=messages.append)
    statuses = {s.name: s for s in own_stack.status() if s.state != "off"}
    assert {s.state for s in statuses.values()} == {"healthy"}
    assert statuses["warehouse"].url.startswith("http://127.0.0.1:")
    assert statuses["broker"].url.startswith("kafka://127.0.0.1:")
    pids = {name: s.pid for name, s in statuses.items()}

    # starting twice is a no-op: same processes, no second broker
    own_stack.up(report=messages.append)
    assert {s.name: s.pid for s in own_stack.status() if s.state != "off"} == pids
    assert any("already running" in m for m in messages)

    warehouse = Warehouse(own_stack.settings, database="default")
    warehouse.command("CREATE TABLE kept (k UInt64) ENGINE = MergeTree ORDER BY k")
    warehouse.insert("kept", [[1], [2], [3]], ["k"])
    warehouse.close()

    own_stack.down(report=lambda _: None)
    assert set(states(own_stack).values()) == {"stopped"}
    assert not any(pid_alive(pid) for pid in pids.values())

    own_stack.up(report=lambda _: None)
    warehouse = Warehouse(own_stack.settings, database="default")
    assert warehouse.scalar("SELECT sum(k) FROM kept") == 6
    warehouse.close()


def test_a_crashed_component_is_reported_as_crashed(own_stack):
    own_stack.up(report=lambda _: None)
    warehouse = next(s for s in own_stack.status() if s.name == "warehouse")
    os.killpg(warehouse.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pid_alive(warehouse.pid) and time.monotonic() < deadline:
        try:
            os.waitpid(warehouse.pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    assert states(own_stack)["warehouse"] == "crashed"
    assert {name for name, state in states(own_stack).items() if state != "healthy"} == {"warehouse"}
    # `up` brings the crashed component back
    own_stack.up(report=lambda _: None)
    assert set(states(own_stack).values()) == {"healthy"}


def test_external_engines_are_not_started(tmp_path):
    # Stand-ins for clusters on loopback ports nothing listens on: tests never send traffic off this machine.
    settings = Settings(data_dir=tmp_path / "ext", clickhouse_url="http://127.0.0.1:1", kafka_bootstrap="127.0.0.1:1")
    stack = Stack(settings)
    try:
        stack.up(report=lambda _: None)
        assert states(stack)["broker"] == "external" and states(stack)["warehouse"] == "external"
    finally:
        stack.down(report=lambda _: None)  # the services that still run locally (collector)


def test_cli_status_and_logs(stack):
    from typer.testing import CliRunner

    from pipelines.cli import app

    runner = CliRunner()
    shown = runner.invoke(app, ["status"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "warehouse" in shown.output and "healthy" in shown.output and "http://127.0.0.1:" in shown.output
    assert runner.invoke(app, ["logs", "warehouse", "-n", "5"]).exit_code == 0
    unknown = runner.invoke(app, ["logs", "nonesuch"])
    assert unknown.exit_code == 1 and "unknown component 'nonesuch'" in unknown.output


def test_down_stops_the_collector_first_and_the_engines_last(own_stack):
    own_stack.up(report=lambda _: None)
    stopped: list[str] = []
    own_stack.down(report=stopped.append)
    order = [line.split()[0] for line in stopped]
    assert order == ["alerts", "collector", "api", "broker", "warehouse", "postgres"]  # the monitoring first: it would alert on the rest


def test_status_names_a_broker_that_lost_its_topics(own_stack):
    from kafka import KafkaAdminClient

    from pipelines import messaging

    own_stack.up(report=lambda _: None)
    assert {s.name: s.state for s in own_stack.status(diagnose=True)}["broker"] == "healthy"
    # What a restarted memory-only broker looks like before `trackflow up` prepares it: no incarnation marker.
    admin = KafkaAdminClient(bootstrap_servers=messaging.bootstrap_servers(own_stack.settings))
    admin.delete_topics([messaging.INCARNATION])
    admin.close()
    broker = next(s for s in own_stack.status(diagnose=True) if s.name == "broker")
    assert broker.state == "unhealthy" and "no incarnation marker" in broker.reason
    assert next(s for s in own_stack.status() if s.name == "broker").state == "healthy"  # `up` keeps its cheap check
    own_stack.up(report=lambda _: None)  # prepares it again
    assert {s.name: s.state for s in own_stack.status(diagnose=True)}["broker"] == "healthy"


def test_input_lag_counts_to_the_real_end_of_each_partition(tmp_path):
    """The embedded broker under-reports partition ends (PLATFORM_NOTES); lag must count every message anyway, per
    incarnation's consumer group, and a lag that stands still is seen as stalled across looks."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    from pipelines import messaging
    from pipelines.flinkrun.environment import consumer_group
    from pipelines.flinkrun.progress import input_lag, observe
    from pipelines.ports import free_port
    from pipelines.stack.processes import Broker

    broker = Broker(None, free_port(), tmp_path / "broker.log")
    broker.start()
    try:
        settings = Settings(data_dir=tmp_path / "tf", kafka_bootstrap=broker.bootstrap)
        messaging.ensure_topics(settings)
        incarnation = messaging.broker_incarnation(settings)
        producer = messaging.producer(settings)
        for i in range(5000):
            producer.send(messaging.RAW, key=f"k{i % 13}".encode(), value=b"{}")
        for i in range(700):
            producer.send(messaging.ods_topic("default"), key=f"k{i % 5}".encode(), value=b"{}")
        producer.flush()
        producer.close()
        assert {(i.job, i.lag) for i in input_lag(settings, "all", incarnation)} == {("layering", 5000), ("dwd", 700)}

        committer = KafkaConsumer(
            bootstrap_servers=broker.bootstrap, group_id=consumer_group("trackflow-layering", incarnation), enable_auto_commit=False
        )
        raw = TopicPartition(messaging.RAW, 0)
        committer.commit({raw: OffsetAndMetadata(100, None, -1)})
        assert {(i.job, i.lag) for i in input_lag(settings, "layering", incarnation)} == {("layering", 4900)}
        assert input_lag(settings, "dwd", "another-incarnation")[0].lag == 700  # that group committed nothing

        first = observe(settings, "layering", incarnation)
        time.sleep(1.2)
        assert observe(settings, "layering", incarnation).stalled_s >= 1 > first.stalled_s
        committer.commit({raw: OffsetAndMetadata(200, None, -1)})  # progress: no longer stalled
        assert observe(settings, "layering", incarnation).stalled_s < 1
        committer.close()
    finally:
        broker.stop()


def test_jobs_diagnosis_names_another_incarnation_a_backlog_and_a_stall(tmp_path):
    """`trackflow status`'s verdict on the jobs, against a real broker: the record the running job wrote says which
    broker incarnation it reads; nothing consumes here, so the produced messages stay waiting."""
    from pipelines import messaging
    from pipelines.flinkrun.runner import ALL, BrokerSeen, record_started
    from pipelines.ports import free_port
    from pipelines.stack.components import jobs_diagnosis
    from pipelines.stack.processes import Broker

    broker = Broker(None, free_port(), tmp_path / "broker.log")
    broker.start()
    try:
        settings = Settings(data_dir=tmp_path / "tf", kafka_bootstrap=broker.bootstrap, status_max_lag_messages=1000)
        messaging.ensure_topics(settings)
        incarnation = messaging.broker_incarnation(settings)
        assert jobs_diagnosis(settings) == "the job has not recorded which broker it reads (starting?)"
        record_started(settings, ALL, BrokerSeen(broker.bootstrap, "an-older-one"))
        assert f"started on broker incarnation an-older-one, the broker is at {incarnation}" in jobs_diagnosis(settings)

        record_started(settings, ALL, BrokerSeen(broker.bootstrap, incarnation))
        assert jobs_diagnosis(settings) is None  # nothing waiting
        producer = messaging.producer(settings)
        for _ in range(1500):
            producer.send(messaging.RAW, value=b"{}")
        producer.flush()
        producer.close()
        assert jobs_diagnosis(settings).startswith("behind: 1,500 messages waiting (layering 1,500 on events.raw")

        patient = settings.model_copy(update={"status_max_lag_messages": 10_000, "status_stuck_after_s": 60.0})
        assert jobs_diagnosis(patient) is None  # waiting since the look before, not for long
        time.sleep(1.5)
        impatient = patient.model_copy(update={"status_stuck_after_s": 1.0})
        assert jobs_diagnosis(impatient).startswith("stuck: 1,500 messages waiting (layering 1,500 on events.raw, dwd 0 on ods.*)")
    finally:
        broker.stop()
