"""The journal of acknowledged records, on its own and in drills where the broker loses everything it held: every
event the collector acknowledged must be on the new broker's events.raw afterwards (duplicates allowed: the
detail layer dedups by event_id; loss is not)."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition

from pipelines import messaging
from pipelines.collect.frames import Record
from pipelines.collect.journal import Journal, read_entries
from pipelines.config import Settings
from pipelines.ports import free_port
from pipelines.stack.processes import Broker, start_collector, stop_process
from pipelines.streaming.decode import decode_message
from tests.collect.conftest import APP_KEY, make_event


class Clock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def records(n: int, start: int = 0) -> list[Record]:
    return [Record(messaging.RAW, f"k{i}".encode(), f"value-{i}".encode()) for i in range(start, start + n)]


def entries_of(journal: Journal) -> list:
    return [entry for segment in journal.segments for entry in read_entries(segment.path, 0, 1_000_000)[0]]


# -- the journal on its own -------------------------------------------------------------------------------------
def test_entries_keep_order_ack_time_and_incarnation_across_rotations_and_reopen(tmp_path):
    clock = Clock()
    journal = Journal(tmp_path, retention_s=600, max_bytes=1 << 20, segment_bytes=150, clock=clock)
    journal.append(records(5), "broker-a")
    clock.now += 2
    journal.append(records(5, 5), "broker-a")
    assert len(journal.segments) > 1  # rotated on size
    journal.close()
    reopened = Journal(tmp_path, retention_s=600, max_bytes=1 << 20, segment_bytes=150, clock=clock)
    reopened.append(records(2, 10), "broker-b")
    found = entries_of(reopened)
    assert [e.record for e in found] == records(12)
    assert [e.incarnation for e in found] == ["broker-a"] * 10 + ["broker-b"] * 2
    assert [e.acked_ms for e in found] == [1_800_000_000_000] * 5 + [1_800_000_002_000] * 7
    # one incarnation per segment: what broker-a acknowledged is a set of whole segments
    assert {s.incarnation for s in reopened.foreign("broker-b")} == {"broker-a"}
    assert all(e.incarnation == "broker-b" for s in reopened.segments if s not in reopened.foreign("broker-b") for e in read_entries(s.path, 0, 100)[0])


def test_segments_past_the_window_are_deleted_whole(tmp_path):
    clock = Clock()
    journal = Journal(tmp_path, retention_s=100, max_bytes=1 << 20, clock=clock)
    journal.append(records(3), "a")
    clock.now += 30  # a quarter of the window: the next append starts a new segment
    journal.append(records(3, 3), "a")
    assert len(journal.segments) == 2
    clock.now += 80  # the first segment's last write is now 110 s old, the second's 80 s
    assert journal.expire() == 1
    assert [e.record for e in entries_of(journal)] == records(3, 3)
    assert len(list(tmp_path.glob("jrn-*.log"))) == 1
    clock.now += 200
    assert journal.expire() == 0  # the open segment is never expired under the writer
    assert journal.window_start_ms() == int((clock.now - 100) * 1000)


def test_cap_eviction_inside_the_window_is_logged_and_counted(tmp_path, caplog):
    clock, evicted = Clock(), []
    journal = Journal(tmp_path, retention_s=3600, max_bytes=2000, clock=clock, on_evicted=evicted.append)
    with caplog.at_level(logging.WARNING, logger="trackflow.collector.journal"):
        for i in range(100):
            journal.append(records(1, i), "a")
    assert sum(evicted) >= 1
    assert "inside the 3600s replay window" in caplog.text
    assert journal.size_bytes() <= 2000 + journal.segment_bytes
    kept = [e.record for e in entries_of(journal)]
    assert kept == records(100)[100 - len(kept) :]  # the newest survive, in order


def test_cap_eviction_outside_the_window_is_not_counted(tmp_path):
    clock, evicted = Clock(), []
    journal = Journal(tmp_path, retention_s=60, max_bytes=2000, clock=clock, on_evicted=evicted.append)
    for i in range(40):
        journal.append(records(1, i), "a")
        clock.now += 10  # each segment is out of the window before the cap reaches it
    assert evicted == []


def test_a_torn_tail_is_skipped_and_never_written_behind(tmp_path):
    journal = Journal(tmp_path, retention_s=600, max_bytes=1 << 20)
    journal.append(records(3), "a")
    journal.close()
    segment = next(tmp_path.glob("jrn-*.log"))
    with open(segment, "ab") as handle:  # a crash in the middle of a write
        handle.write(b"\x00\x00\x00\x40partial")
    reopened = Journal(tmp_path, retention_s=600, max_bytes=1 << 20)
    reopened.append(records(2, 3), "a")
    assert [e.record for e in entries_of(reopened)] == records(5)
    assert len(reopened.segments) == 2


def test_drop_removes_replayed_segments_including_the_open_one(tmp_path):
    journal = Journal(tmp_path, retention_s=600, max_bytes=1 << 20)
    journal.append(records(2), "old")
    old = journal.foreign("new")
    journal.drop(old)
    assert journal.segments == [] and list(tmp_path.glob("jrn-*.log")) == []
    journal.append(records(1, 2), "new")
    assert [e.record for e in entries_of(journal)] == records(1, 2)


# -- drills against a real broker and collector process ---------------------------------------------------------
class Sender:
    """Sends batches from a thread, back to back or `pause_s` apart; remembers the event_ids of every 200/202 answer."""

    def __init__(self, url: str, batch: int = 20, pause_s: float = 0.0):
        self.url, self.batch, self.pause_s = url, batch, pause_s
        self.acknowledged: list[str] = []
        self.statuses: Counter = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, headers={"X-App-Key": APP_KEY}, timeout=30) as client:
            while not self._stop.wait(self.pause_s):
                self.send(client)

    def send(self, client: httpx.Client) -> int:
        events = [make_event("click", x=i, y=i) for i in range(self.batch)]
        status = client.post("/v1/batch", json=events).status_code
        self.statuses[status] += 1
        if status in (200, 202):
            self.acknowledged += [e["event_id"] for e in events]
        return status

    def send_now(self, batches: int) -> list[int]:
        with httpx.Client(base_url=self.url, headers={"X-App-Key": APP_KEY}, timeout=30) as client:
            return [self.send(client) for _ in range(batches)]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def raw_event_ids(bootstrap: str, expected: set[str], timeout: float = 60.0) -> Counter:
    """event_id -> copies on events.raw, reading every partition from offset 0 (not from the reported beginning or
    end: Tansu under-reports offsets) until every expected id was seen or the deadline passed."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    seen: Counter = Counter()
    try:
        deadline = time.monotonic() + timeout
        while not (partitions := consumer.partitions_for_topic(messaging.RAW)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert partitions, "events.raw does not exist on the new broker"
        assigned = [TopicPartition(messaging.RAW, p) for p in partitions]
        consumer.assign(assigned)
        for partition in assigned:
            consumer.seek(partition, 0)
        while time.monotonic() < deadline:
            batches = consumer.poll(timeout_ms=500)
            for messages in batches.values():
                for message in messages:
                    events, _ = decode_message(message.value, "test")
                    seen.update(event["event_id"] for event in events)
            if expected <= seen.keys() and not batches:  # read to the end, so the copies are counted too
                break
    finally:
        consumer.close()
    return seen


def assert_all_on_broker(bootstrap: str, acknowledged: list[str]) -> Counter:
    expected = set(acknowledged)
    seen = raw_event_ids(bootstrap, expected)
    missing = expected - seen.keys()
    assert not missing, f"{len(missing)} of {len(expected)} acknowledged events are not on the new broker's events.raw"
    return seen


# Port 0 (a free port on every start, as in a private stack): a restarted collector finds its journal all the same.
COLLECTOR_SETTINGS = dict(collector_port="0", collector_ack_timeout_s="1.5", collector_metrics_flush_s="0")


@pytest.fixture
def rig(tmp_path):
    """A private broker on a fixed port (it can be killed and started again empty) and a collector on it."""
    settings = Settings(data_dir=tmp_path)
    broker = Broker(settings, free_port(), tmp_path / "broker.log")
    broker.start()
    processes: list = []

    def collector(bootstrap: str | None = None) -> str:
        process, url = start_collector(tmp_path / "collector", broker.bootstrap if bootstrap is None else bootstrap, **COLLECTOR_SETTINGS)
        processes.append(process)
        return url

    yield broker, collector, processes, tmp_path
    for process in processes:
        if process.poll() is None:
            stop_process(process)
    broker.stop()


def metric(url: str, name: str) -> float:
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def test_broker_killed_during_a_send_loses_nothing_acknowledged(rig):
    broker, collector, _, _ = rig
    url = collector()
    sender = Sender(url)
    sender.start()
    time.sleep(2.0)
    acknowledged_by_old_broker = len(sender.acknowledged)
    broker.stop()  # kill -9: the broker's memory, and every record in it, is gone
    time.sleep(1.0)
    broker.start()  # same port, empty
    time.sleep(4.0)
    sender.stop()
    assert acknowledged_by_old_broker > 0 and sender.statuses[200] > 0, sender.statuses
    assert_all_on_broker(broker.bootstrap, sender.acknowledged)
    # one record per event (each has its own device): at least what the old broker had acknowledged was replayed
    assert metric(url, "trackflow_collector_journal_replayed_records_total") >= acknowledged_by_old_broker


def test_broker_restarted_while_the_collector_was_stopped_gets_the_journal_replayed(rig):
    broker, collector, processes, _ = rig
    sender = Sender(collector())
    assert sender.send_now(10) == [200] * 10
    stop_process(processes[0])  # SIGTERM: a graceful stop, as `trackflow down` does first
    assert processes[0].returncode == 0
    broker.stop()
    broker.start()
    url = collector()  # the journal on disk holds records of the old broker's incarnation
    assert_all_on_broker(broker.bootstrap, sender.acknowledged)
    assert metric(url, "trackflow_collector_journal_replayed_records_total") == len(sender.acknowledged)  # a record per event


def test_broker_back_on_another_port_named_in_the_state_dir(rig):
    broker, collector, _, tmp_path = rig
    port_file = tmp_path / "collector" / "run" / "broker.port"  # where `trackflow up` records the bound port
    port_file.parent.mkdir(parents=True)
    port_file.write_text(str(broker.port))
    sender = Sender(collector(bootstrap=""))  # no bootstrap configured: the embedded broker, found by its port file
    assert sender.send_now(5) == [200] * 5
    broker.stop()
    moved = Broker(broker.settings, free_port(), Path(broker.log))
    moved.start()
    try:
        port_file.write_text(str(moved.port))
        statuses = sender.send_now(5)
        assert set(statuses) <= {200, 202}, statuses
        assert_all_on_broker(moved.bootstrap, sender.acknowledged)
    finally:
        moved.stop()



def journal_incarnations(collector_dir: Path) -> set[str]:
    """The broker incarnations the collector's journal segments on disk hold (port 0: spool/0)."""
    found = set()
    for path in (collector_dir / "spool" / "0" / "journal").glob("jrn-*.log"):
        entries, _ = read_entries(path, 0, 1)
        found.update(entry.incarnation for entry in entries)
    return found


def wait_for(condition, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert value, f"timed out waiting for {what}"
    return value


def test_a_replay_keeps_the_first_acknowledgement_so_a_later_loss_outside_the_window_replays_nothing_again(rig):
    """A record replayed after one broker loss is journaled again with the time it was first acknowledged: once
    that is older than the window, a second loss does not replay it again. (Journaled with the replay's time, every
    loss inside the window replayed everything since the first one, and the jobs re-read it all.)"""
    broker, _, processes, tmp_path = rig
    window_s = 10.0
    process, url = start_collector(tmp_path / "collector", broker.bootstrap, **COLLECTOR_SETTINGS,
                                   collector_journal_retention_s=str(window_s))  # fmt: skip
    processes.append(process)
    sender = Sender(url)
    first_acked = time.monotonic()
    assert sender.send_now(10) == [200] * 10
    first = list(sender.acknowledged)
    (before,) = journal_incarnations(tmp_path / "collector")
    time.sleep(window_s / 2)  # the replay comes mid-window: its own time would keep these inside it until 1.5 windows
    broker.stop()
    broker.start()
    assert_all_on_broker(broker.bootstrap, first)
    replayed = lambda: metric(url, "trackflow_collector_journal_replayed_records_total")  # noqa: E731
    wait_for(lambda: replayed() >= len(first), "the first replay")
    (after_first,) = wait_for(lambda: journal_incarnations(tmp_path / "collector") - {before}, "the first replay journaled")
    assert journal_incarnations(tmp_path / "collector") == {after_first}  # the old broker's segments dropped
    assert replayed() == len(first)
    time.sleep(max(0.0, first_acked + window_s + 1.0 - time.monotonic()))  # now outside the window since acceptance
    broker.stop()
    broker.start()
    assert set(sender.send_now(2)) <= {200, 202}
    wait_for(lambda: after_first not in journal_incarnations(tmp_path / "collector"), "the second loss handled")
    assert_all_on_broker(broker.bootstrap, sender.acknowledged[len(first) :])
    assert replayed() == len(first)
