"""Fixtures of the end-to-end streaming tests: the jobs as separate processes (so one can be killed) on the session
stack, with short batching/checkpoint intervals, and helpers that wait on warehouse content (never on Kafka end
offsets, which the embedded broker reports wrong)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from pipelines import messaging
from pipelines.envelope import partition_key
from pipelines.ports import free_port

# Fast feedback in tests; the defaults are tuned for throughput instead. Parallelism 2: every subtask boundary
# (two readers per topic, shard keys split across two writers) is exercised by every end-to-end test.
JOB_ENV = {
    "TRACKFLOW_CLOCK_SKEW_TOLERANCE_MS": "1000",
    "TRACKFLOW_DWD_BATCH_MAX_DELAY_MS": "300",
    "TRACKFLOW_FLINK_CHECKPOINT_INTERVAL_MS": "1500",
    "TRACKFLOW_FLINK_PARALLELISM": "2",
    "TRACKFLOW_METRICS_FLUSH_MS": "1000",
}
START_TIMEOUT_S = 120.0


def pytest_configure(config):
    config.addinivalue_line("markers", "jvm: starts Flink MiniClusters (slow; part of `make test`)")


class JobProcess:
    """One `pipelines.flinkrun.runner <job>` process with its own MiniCluster."""

    def __init__(self, job: str, log_dir: Path):
        self.job = job
        self.log_path = log_dir / f"job-{job}.log"
        self.process: subprocess.Popen | None = None
        self.port = 0

    def start(self, recover: str = "latest") -> None:
        from pipelines.flinkrun.rest import job_running

        self.port = free_port()
        env = dict(os.environ, **JOB_ENV)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipelines.flinkrun.runner", self.job, "--rest-port", str(self.port), "--recover", recover],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not job_running(f"http://127.0.0.1:{self.port}"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"job {self.job} did not start; see {self.log_path}:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.5)

    def kill(self) -> None:
        """SIGKILL the whole process group: no savepoint, no clean shutdown (a crash)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="module")
def streaming_jobs(stack, stack_settings, tmp_path_factory):
    """layering and dwd running (separately) for the module, on the default rules, as the only jobs of the stack."""
    from pipelines.layering.control import apply
    from pipelines.stack import Stack
    from pipelines.stack.components import JOBS

    # Another test (the demo) may have started the stack's own jobs or published rules: two dwd jobs writing the
    # same events could race, and the assertions here expect the default layer unless a test sets rules itself.
    Stack(stack_settings, [JOBS]).down(report=lambda _: None)
    apply(stack_settings, "rules: []")
    log_dir = tmp_path_factory.mktemp("jobs")
    jobs = {name: JobProcess(name, log_dir) for name in ("layering", "dwd")}
    try:
        for job in jobs.values():
            job.start()
        yield jobs
    finally:
        for job in jobs.values():
            job.stop()


# -- producing and waiting -----------------------------------------------------------------------------------------
def make_events(count: int, run: str, event: str = "page_view", age_ms: int = 0, **props) -> list[dict]:
    """`count` events of 50 devices, happened `age_ms` ago (an SDK's offline queue sends old events)."""
    now = int(time.time() * 1000) - age_ms
    return [
        {
            "event_id": str(uuid.uuid4()),
            "event": event,
            "app_id": "test-app",
            "ts": now - i,
            "ids": {"device_id": f"dev-{i % 50}"},
            "context": {"platform": "web"},
            "props": {"run": run, "seq": i, **props},
        }
        for i in range(count)
    ]


def send(settings, events: list[dict], per_message: int = 1, raw: list[bytes] = ()) -> None:
    """Events with received_at stamped, `per_message` consecutive events per Kafka message (one object when 1, else a
    JSON array), keyed by the first one's person. Unlike the collector's, a message may mix persons: the layering
    job splits it by person."""
    producer = messaging.producer(settings)
    received = int(time.time() * 1000)
    for start in range(0, len(events), per_message):
        chunk = [dict(event, received_at=received) for event in events[start : start + per_message]]
        value = chunk[0] if per_message == 1 else chunk
        producer.send(messaging.RAW, key=partition_key(chunk[0]).encode(), value=json.dumps(value).encode())
    for value in raw:
        producer.send(messaging.RAW, value=value)
    producer.flush()
    producer.close()


def rows_of_run(warehouse, run: str, table: str = "events") -> int:
    """Rows of a run in a table; 0 while the table does not exist yet (dwd creates dwd_<layer> on first write)."""
    exists = warehouse.scalar("EXISTS TABLE {table:Identifier}", {"table": table})
    if not int(exists or 0):
        return 0
    return int(warehouse.scalar(f"SELECT count() FROM {table} WHERE props['run'] = {{run:String}}", {"run": run}))


def wait_for(predicate, timeout_s: float = 90.0, every_s: float = 0.3, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
