"""The collector follows a broker that `trackflow up` restarted on a new port (TRACKFLOW_KAFKA_PORT=0): the port
file in the state dir names the new port, and the collector must deliver there within seconds, every event it
answered 200/202 on the new broker exactly once. A real broker and collector process, as in test_journal.py.

Before the fix it took ~27 s: the once-a-second incarnation probe's consumer waited kafka-python's 30 s bootstrap
timeout on the dead port, and the producer's rebuild queued behind it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from pipelines import messaging
from pipelines.config import Settings
from pipelines.ports import free_port
from pipelines.stack.processes import Broker, start_collector, stop_process
from tests.collect.conftest import APP_KEY
from tests.collect.test_journal import Sender, metric, raw_event_ids

# What an on-call engineer expects; the old collector needed ~27 s.
FOLLOW_BOUND_S = 10.0
# The drills' collector: port 0, the default ack timeout (5 s), no count flushes (only the test's events on Kafka).
COLLECTOR_SETTINGS = dict(collector_port="0", collector_metrics_flush_s="0")


@pytest.fixture
def moving_broker(tmp_path):
    """A private broker named by a port file, as `trackflow up` records it, and a collector that finds it there."""
    broker = Broker(Settings(data_dir=tmp_path), free_port(), tmp_path / "broker.log")
    broker.start()
    port_file = tmp_path / "collector" / "run" / "broker.port"
    port_file.parent.mkdir(parents=True)
    port_file.write_text(str(broker.port))
    process, url = start_collector(tmp_path / "collector", "", **COLLECTOR_SETTINGS)  # no bootstrap: the port file
    brokers = [broker]
    yield brokers, port_file, url
    stop_process(process)
    for each in brokers:
        each.stop()


def restart_on_new_port(brokers: list[Broker], port_file: Path) -> Broker:
    """What `trackflow up` does with port 0: start a broker on a free port, record it, prepare its topics."""
    moved = Broker(brokers[0].settings, free_port(), Path(brokers[0].log))
    moved.start()
    brokers.append(moved)
    port_file.write_text(str(moved.port))
    messaging.ensure_topics(moved.settings.model_copy(update={"kafka_bootstrap": moved.bootstrap}))
    return moved


def followed_within(url: str, sender: Sender, bound_s: float) -> float:
    """Seconds until the collector delivers directly again (a new request answered 200, the spool drained). A
    request still unanswered at the bound counts as not followed (its events are not acknowledged)."""
    started = time.monotonic()
    with httpx.Client(base_url=url, headers={"X-App-Key": APP_KEY}) as client:
        while (left := bound_s - (time.monotonic() - started)) > 0:
            client.timeout = httpx.Timeout(left)
            try:
                if sender.send(client) == 200 and metric(url, "trackflow_collector_spool_bytes") == 0:
                    return time.monotonic() - started
            except httpx.TimeoutException:
                break
            time.sleep(0.2)
    raise AssertionError(f"the collector did not deliver to the broker's new port within {bound_s:.0f}s")


def assert_exactly_once(bootstrap: str, acknowledged: list[str]) -> None:
    copies = raw_event_ids(bootstrap, set(acknowledged))
    missing = set(acknowledged) - copies.keys()
    doubled = {event_id: n for event_id, n in copies.items() if n > 1}
    assert not missing and not doubled, f"{len(missing)} missing, {len(doubled)} doubled of {len(acknowledged)}"
    assert copies.keys() == set(acknowledged)


def test_a_broker_killed_and_restarted_on_a_new_port_is_followed_within_seconds(moving_broker):
    brokers, port_file, url = moving_broker
    sender = Sender(url, pause_s=0.05)  # a steady pace, as the drills send: the spool stays a few thousand records
    sender.start()
    time.sleep(1.5)
    brokers[0].stop()  # kill -9: its records are gone; the journal replays what it had acknowledged
    time.sleep(1.0)
    moved = restart_on_new_port(brokers, port_file)
    try:
        followed_within(url, sender, FOLLOW_BOUND_S)
    finally:
        sender.stop()
    assert set(sender.statuses) <= {200, 202} and sender.statuses[202] > 0, sender.statuses
    assert_exactly_once(moved.bootstrap, sender.acknowledged)
