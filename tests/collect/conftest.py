"""Fixtures for the collector tests: the session collector's URL, a tap that reads everything on events.raw and
events.quarantine (counting copies per event_id) and event factories. The outage tests' private broker and
collector processes are pipelines.stack.processes."""

from __future__ import annotations

import threading
import time
import uuid
import warnings
from collections import defaultdict
from pathlib import Path

import httpx
import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

from pipelines import messaging
from pipelines.collect.app import create_app
from pipelines.stack.components import COLLECTOR

APP_KEY = "demo-shop-key"
APP_ID = "demo-shop"
ROOT = Path(__file__).resolve().parents[2]


def make_event(event: str = "click", device: str | None = None, **props) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event": event,
        "ts": int(time.time() * 1000),
        "ids": {"device_id": device or f"dev-{uuid.uuid4().hex[:8]}"},
        "session_id": f"s-{uuid.uuid4().hex[:8]}",
        "context": {"platform": "web", "url": "https://shop.example/"},
        "props": props,
    }


class KafkaTap:
    """Reads events.raw and events.quarantine from the beginning in a background thread. Raw messages may hold
    one envelope or an array of them (docs/collector.md); both are split into envelopes and counted by event_id."""

    def __init__(self, bootstrap: str):
        self.raw: dict[str, list[dict]] = defaultdict(list)
        self.quarantine: dict[str, list[dict]] = defaultdict(list)
        self.raw_messages: list[tuple[bytes, bytes]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=200)
        partitions = []
        for topic in (messaging.RAW, messaging.QUARANTINE):
            deadline = time.monotonic() + 10
            while not (found := self._consumer.partitions_for_topic(topic)) and time.monotonic() < deadline:
                time.sleep(0.1)
            partitions += [TopicPartition(topic, p) for p in found or ()]
        self._consumer.assign(partitions)
        self._consumer.seek_to_beginning(*partitions)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            batches = self._consumer.poll(timeout_ms=200)
            with self._lock:
                for partition, messages in batches.items():
                    for message in messages:
                        try:
                            self._record(partition.topic, message)
                        except (orjson.JSONDecodeError, KeyError, TypeError):
                            # Other suites share these topics: broken messages on events.raw, the streaming
                            # jobs' dead letters on events.quarantine. Only the collector's shapes are counted.
                            continue

    def _record(self, topic: str, message) -> None:
        value = orjson.loads(message.value)
        if topic == messaging.RAW:
            envelopes = value if isinstance(value, list) else [value]
            ids = [envelope["event_id"] for envelope in envelopes]
            self.raw_messages.append((message.key, message.value))
            for event_id, envelope in zip(ids, envelopes):
                self.raw[event_id].append(envelope)
        else:
            self.quarantine[value["envelope"]["event_id"]].append(value)

    def wait(self, event_ids, topic: str = "raw", timeout: float = 20.0) -> dict[str, list[dict]]:
        """Wait until every id has arrived on the topic; then a short grace period to catch doubles."""
        store = self.raw if topic == "raw" else self.quarantine
        wanted = set(event_ids)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if wanted <= store.keys():
                    break
            time.sleep(0.05)
        time.sleep(0.3)
        with self._lock:
            missing = wanted - store.keys()
            assert not missing, f"{len(missing)} of {len(wanted)} events never reached {topic}: {sorted(missing)[:3]}"
            return {event_id: list(store[event_id]) for event_id in wanted}

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._consumer.close()


def quiet_test_client(app, **options):
    """Starlette's TestClient, without its notice that it would prefer `httpx2` (not a dependency here)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from starlette.testclient import TestClient

        return TestClient(app, **options)


def in_process_client(settings, spool_dir: Path, port: int):
    """The collector app in this process (same code as the service) with a TestClient; used as a context manager
    so the app's lifespan (Kafka connection, plan reloads) runs."""
    app = create_app(settings, port=port, spool_dir=spool_dir)
    return quiet_test_client(app, raise_server_exceptions=False, headers={"X-App-Key": APP_KEY})


@pytest.fixture(scope="session")
def collector_url(stack) -> str:
    return stack.url(COLLECTOR)


@pytest.fixture(scope="session")
def http(collector_url):
    with httpx.Client(base_url=collector_url, headers={"X-App-Key": APP_KEY}, timeout=20) as client:
        yield client


@pytest.fixture(scope="session")
def tap(stack, stack_settings):
    reader = KafkaTap(messaging.bootstrap_servers(stack_settings))
    yield reader
    reader.close()
