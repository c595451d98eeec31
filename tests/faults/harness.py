"""The fault drills' harness: a private stack run through the real CLI (`trackflow up --with-jobs`, `down`, on a temp
data dir and free ports), a steady sender that counts the event_ids the collector acknowledged (2xx), faults, and the
tally of what reached the warehouse. Shared by the tests (tests/faults/test_drills.py) and the measured table
(`python -m tests.faults.table`).

Every drill sends events through the collector, injects its fault mid-send, brings the stack back the way an
operator would, and counts by event_id: acknowledged = distinct in the warehouse = `SELECT count() FROM events`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import httpx

from pipelines.config import Settings
from pipelines.ports import free_port
from pipelines.stack.manager import pid_alive

ROOT = Path(__file__).resolve().parents[2]
TRACKFLOW = ROOT / ".venv" / "bin" / "trackflow"
APP_KEY, APP_ID = "demo-shop-key", "demo-shop"
# Fast feedback: short checkpoints and batch delays; one subtask per operator (the machine has two cores).
STACK_ENV = {
    "TRACKFLOW_COLLECTOR_PORT": "0",
    "TRACKFLOW_FLINK_REST_PORT": "0",
    # An external PostgreSQL that nothing here uses: the drills do not need the push targets' server.
    "TRACKFLOW_POSTGRES_URL": "postgresql://127.0.0.1:1/unused",
    "TRACKFLOW_FLINK_PARALLELISM": "1",
    "TRACKFLOW_FLINK_CHECKPOINT_INTERVAL_MS": "1500",
    "TRACKFLOW_DWD_BATCH_MAX_DELAY_MS": "300",
    "TRACKFLOW_METRICS_FLUSH_MS": "1000",
    "TRACKFLOW_JOBS_DRAIN_TIMEOUT_S": "60",
}
CLI_TIMEOUT_S = 240.0
SETTLE_DEADLINE_S = 150.0  # from the end of the send until every acknowledged event must be in the warehouse


class DrillStack:
    """A private stack in its own data dir, driven like an operator would: through the `trackflow` command. The
    broker listens on a fixed free port (a restart keeps it) unless a drill restarts it with port 0."""

    def __init__(self, root: Path | None = None):
        self.root = root or Path(tempfile.mkdtemp(prefix="trackflow-faults-"))
        # Fixed free ports, as the defaults are fixed: a component restarted by `up` comes back where it was.
        self.kafka_port, self.warehouse_port = free_port(), free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TRACKFLOW_")},
            **STACK_ENV,
            "TRACKFLOW_DATA_DIR": str(self.root / "data"),
            "TRACKFLOW_CONFIG": str(self.root / "absent.toml"),
            "TRACKFLOW_KAFKA_PORT": str(self.kafka_port),
            "TRACKFLOW_WAREHOUSE_PORT": str(self.warehouse_port),
        }
        self.settings = Settings(
            data_dir=self.root / "data",
            clickhouse_url="",
            kafka_bootstrap="",
            kafka_port=self.kafka_port,
            warehouse_port=self.warehouse_port,
        )
        self.log = self.root / "drill.log"

    # -- operating it -------------------------------------------------------------------------------------------
    def cli(self, *args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(TRACKFLOW), *args],
            env={**self.env, **(env or {}), "COLUMNS": "250"},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
        )
        with open(self.log, "a") as log:
            log.write(f"$ trackflow {' '.join(args)} -> {result.returncode}\n{result.stdout}{result.stderr}\n")
        if check and result.returncode != 0:
            raise RuntimeError(f"trackflow {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def up(self, **env: str) -> None:
        self.cli("up", "--with-jobs", env=env)

    def down(self) -> str:
        return self.cli("down").stdout

    def status(self) -> subprocess.CompletedProcess:
        return self.cli("status", check=False)

    def pid(self, component: str) -> int | None:
        try:
            return int((self.settings.state_dir / f"{component}.pid").read_text())
        except (OSError, ValueError):
            return None

    def port(self, component: str) -> int | None:
        try:
            return int((self.settings.state_dir / f"{component}.port").read_text())
        except (OSError, ValueError):
            return None

    def kill(self, component: str) -> None:
        """kill -9 of the component's whole process group (the jobs' JVM with its runner), as a crash would."""
        pid = self.pid(component)
        assert pid and pid_alive(pid), f"{component} is not running"
        os.killpg(pid, signal.SIGKILL)
        wait_until(lambda: not pid_alive(pid), 30, f"{component} (pid {pid}) to die")

    def wait_jobs_running(self, timeout_s: float = 120) -> None:
        from pipelines.flinkrun.rest import job_running

        wait_until(lambda: self.port("jobs") and job_running(f"http://127.0.0.1:{self.port('jobs')}"), timeout_s, "the jobs")

    def collector_url(self) -> str:
        return f"http://127.0.0.1:{self.port('collector')}"

    def close(self) -> None:
        self.cli("down", check=False)


# -- sending --------------------------------------------------------------------------------------------------
@dataclass
class Sender:
    """Sends `total` click events in batches through the collector at a steady pace, in a thread, and keeps the
    event_ids of every batch answered 2xx with all its events accepted. A refused or failed request is not retried
    (its events are not acknowledged); the collector's URL is re-read after a failure (a restarted collector may
    have a new port)."""

    stack: DrillStack
    total: int
    batch: int = 50
    interval_s: float = 0.05
    run: str = field(default_factory=lambda: uuid.uuid4().hex)
    acknowledged: set[str] = field(default_factory=set)
    sent: int = 0
    failures: int = 0

    def __post_init__(self):
        self._thread = threading.Thread(target=self._send_all, daemon=True)

    def start(self) -> "Sender":
        self._thread.start()
        return self

    def join(self) -> None:
        self._thread.join()

    def progress(self) -> float:
        return self.sent / self.total

    def _send_all(self) -> None:
        client = httpx.Client(timeout=10, headers={"X-App-Key": APP_KEY})
        url = self.stack.collector_url()
        try:
            while self.sent < self.total:
                events = [self._event(self.sent + i) for i in range(min(self.batch, self.total - self.sent))]
                self.sent += len(events)
                try:
                    answer = client.post(f"{url}/v1/batch", json=events)
                    if 200 <= answer.status_code < 300 and answer.json().get("accepted") == len(events):
                        self.acknowledged.update(e["event_id"] for e in events)
                    else:
                        self.failures += 1
                except (httpx.HTTPError, ValueError):
                    self.failures += 1
                    time.sleep(0.2)
                    url = self.stack.collector_url()
                time.sleep(self.interval_s)
        finally:
            client.close()

    def _event(self, seq: int) -> dict:
        return {
            "event_id": str(uuid.uuid4()),
            "event": "click",
            "ts": int(time.time() * 1000),
            "ids": {"device_id": f"drill-{seq % 97}"},
            "context": {"platform": "web", "url": "https://shop.example/"},
            "props": {"x": seq, "y": 1, "demo_run": self.run},
        }


# -- counting -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    fault: str
    sent: int
    acknowledged: int
    distinct: int  # distinct acknowledged event_ids in the warehouse
    rows: int  # SELECT count() FROM events (no FINAL) for the run
    unacknowledged_stored: int  # stored though the collector did not answer 2xx (a request cut by a crash)
    seconds: float

    @property
    def lost(self) -> int:
        return self.acknowledged - self.distinct

    @property
    def duplicates(self) -> int:
        return self.rows - self.distinct - self.unacknowledged_stored

    @property
    def exact(self) -> bool:
        return self.lost == 0 and self.duplicates == 0


def stored(stack: DrillStack, run: str) -> tuple[dict[str, int], int]:
    """event_id -> rows, and `SELECT count() FROM events` of the run (0 before the first insert made the tables)."""
    from pipelines.warehouse.client import Warehouse

    warehouse = Warehouse(stack.settings)
    try:
        if not int(warehouse.scalar("EXISTS TABLE events") or 0):
            return {}, 0
        where = "props['demo_run'] = {run:String}"
        per_id = dict(warehouse.rows(f"SELECT toString(event_id), count() FROM events WHERE {where} GROUP BY event_id", {"run": run}))
        return per_id, int(warehouse.scalar(f"SELECT count() FROM events WHERE {where}", {"run": run}))
    finally:
        warehouse.close()


def tally(stack: DrillStack, fault: str, senders: list[Sender], started: float) -> Outcome:
    """Waits (bounded) until every acknowledged event is in the warehouse, gives late duplicates a moment to show,
    then counts."""
    acknowledged = set().union(*(s.acknowledged for s in senders))

    def look() -> tuple[set[str], int, int]:
        ids: dict[str, int] = {}
        rows = 0
        for sender in senders:
            per_id, count = stored(stack, sender.run)
            ids.update(per_id)
            rows += count
        return set(ids), rows, sum(ids.values())

    deadline = time.monotonic() + SETTLE_DEADLINE_S
    while True:
        try:
            ids, rows, _ = look()
        except Exception:  # the warehouse restarting
            ids, rows = set(), 0
        if acknowledged <= ids or time.monotonic() > deadline:
            break
        time.sleep(1)
    time.sleep(3)  # a duplicate written late (a replay) shows up within this
    ids, rows, _ = look()
    return Outcome(
        fault=fault,
        sent=sum(s.sent for s in senders),
        acknowledged=len(acknowledged),
        distinct=len(acknowledged & ids),
        rows=rows,
        unacknowledged_stored=len(ids - acknowledged),
        seconds=time.monotonic() - started,
    )


def seconds_until_acknowledged(stack: DrillStack, timeout_s: float = 90.0) -> str:
    """Seconds (formatted) until a new request is answered 200: acknowledged by Kafka, not spooled, so the collector
    delivers to the broker again and has replayed its spool. The probe's event is tagged with a run of its own: the
    drill does not count it."""
    probe = Sender(stack, total=1, run=f"probe-{uuid.uuid4().hex}")
    started = time.monotonic()
    with httpx.Client(timeout=10, headers={"X-App-Key": APP_KEY}) as client:
        while time.monotonic() - started < timeout_s:
            try:
                if client.post(f"{stack.collector_url()}/v1/batch", json=[probe._event(0)]).status_code == 200:
                    return f"{time.monotonic() - started:.1f}"
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    return f"more than {timeout_s:.0f}"


def collector_counts(stack: DrillStack) -> dict[str, float]:
    """The collector's events spooled (answered 202) and journaled records replayed so far (its /metrics)."""
    wanted = {
        'trackflow_collector_events_total{app_id="demo-shop",outcome="spooled"}': "spooled",
        "trackflow_collector_journal_replayed_records_total": "replayed",
    }
    counts = dict.fromkeys(wanted.values(), 0.0)
    for line in httpx.get(f"{stack.collector_url()}/metrics", timeout=5).text.splitlines():
        name, _, value = line.rpartition(" ")
        if name in wanted:
            counts[wanted[name]] = float(value)
    return counts


def wait_until(condition: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(0.2)


# -- the drills -----------------------------------------------------------------------------------------------
EVENTS_PER_DRILL = 3000


def send_with_fault(stack: DrillStack, fault: str, inject: Callable[[], None], at: float = 0.4) -> Outcome:
    """A steady send; `inject` runs once `at` of it has gone out (the send goes on meanwhile)."""
    started = time.monotonic()
    sender = Sender(stack, EVENTS_PER_DRILL).start()
    wait_until(lambda: sender.progress() >= at, 120, f"{at:.0%} of the send")
    inject()
    sender.join()
    return tally(stack, fault, [sender], started)


def broker_down_up(stack: DrillStack) -> Outcome:
    """`trackflow down` (drains) then `up --with-jobs`: the broker comes back empty; events sent before and after."""
    started = time.monotonic()
    before = Sender(stack, EVENTS_PER_DRILL // 2).start()
    before.join()
    stack.down()
    stack.up()
    after = Sender(stack, EVENTS_PER_DRILL // 2).start()
    after.join()
    return tally(stack, "broker restart (down / up)", [before, after], started)


def broker_kill(stack: DrillStack) -> Outcome:
    """kill -9 of the broker during a steady send, restarted on its port by `trackflow up`."""

    def inject():
        stack.kill("broker")
        time.sleep(2)
        stack.up()

    return send_with_fault(stack, "broker kill -9 (same port)", inject)


def broker_kill_new_port(stack: DrillStack) -> Outcome:
    """kill -9 of the broker during a steady send, restarted by `trackflow up` with port 0: a new port. Prints how
    long after `up` returned the collector delivered there again."""
    old, before, followed = stack.port("broker"), collector_counts(stack), []

    def inject():
        stack.kill("broker")
        time.sleep(2)
        stack.up(TRACKFLOW_KAFKA_PORT="0")
        assert stack.port("broker") != old, "the broker came back on its old port"
        followed.append(seconds_until_acknowledged(stack))

    outcome = send_with_fault(stack, "broker kill -9 (new port)", inject)
    after = collector_counts(stack)
    print(
        f"broker_kill_new_port: a new request acknowledged by Kafka {followed[0]} s after `up` returned; "
        f"{after['spooled'] - before['spooled']:.0f} events spooled, "
        f"{after['replayed'] - before['replayed']:.0f} journaled records replayed; {outcome}"
    )
    stack.env["TRACKFLOW_KAFKA_PORT"] = str(stack.port("broker"))  # later drills restart it where it is now
    return outcome


def jobs_kill(stack: DrillStack) -> Outcome:
    """kill -9 of the jobs (runner and MiniCluster) mid-stream; `up --with-jobs` restores them from the checkpoint."""

    def inject():
        stack.kill("jobs")
        stack.up()

    return send_with_fault(stack, "jobs kill -9", inject)


def warehouse_kill(stack: DrillStack) -> Outcome:
    def inject():
        stack.kill("warehouse")
        time.sleep(2)
        stack.up()

    return send_with_fault(stack, "warehouse kill -9", inject)


def collector_kill(stack: DrillStack) -> Outcome:
    def inject():
        stack.kill("collector")
        stack.up()

    return send_with_fault(stack, "collector kill -9", inject)


DRILLS: dict[str, Callable[[DrillStack], Outcome]] = {
    "broker_down_up": broker_down_up,
    "broker_kill": broker_kill,
    "broker_kill_new_port": broker_kill_new_port,
    "jobs_kill": jobs_kill,
    "warehouse_kill": warehouse_kill,
    "collector_kill": collector_kill,
}
