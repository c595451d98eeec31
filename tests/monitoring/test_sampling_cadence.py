"""How often the jobs source reads what from a Flink REST API: the jobs' state and checkpoints every round, their
Flink metrics (restarts, back-pressure: each read makes the cluster collect all its metrics, in a MiniCluster on
the jobs' own cores) every SLOW_EVERY_ROUNDS rounds, and at once when a job restarts, so `job_down` still fires
within its `for` window and the restart count is current in the round the restart is seen.

A Flink job cannot be made to restart on demand in a test, so the Flink REST API here is a local HTTP server
answering the five calls the source makes with the documented response shapes of Flink 2.0, the job's state,
restore and restart count set by the test; it counts the calls it gets."""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pipelines.config import Settings
from pipelines.monitoring.engine import Evaluator
from pipelines.monitoring.rules import load
from pipelines.monitoring.sources import SLOW_EVERY_ROUNDS, JobsSource
from pipelines.ports import free_port

JOB, VERTICES = "a1b2c3", ("v-source", "v-sink")
INTERVAL_S = 15.0  # the shipped evaluation interval


class FlinkRest:
    """One job on a Flink REST API: `state`, `restored_at` (ms of its latest restore, None before any) and
    `restarts` are what the next calls answer; `calls` counts them by kind."""

    def __init__(self):
        self.state, self.restored_at, self.restarts = "RUNNING", None, 0
        self.calls: Counter = Counter()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                kind, body = owner.answer(urlsplit(self.path).path)
                owner.calls[kind] += 1
                payload = json.dumps(body).encode()
                self.send_response(200 if kind else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str) -> tuple[str, object]:
        job = f"/jobs/{JOB}"
        if path == "/jobs/overview":
            return "overview", {"jobs": [{"jid": JOB, "name": "trackflow-dwd", "state": self.state, "start-time": 1_000}]}
        if path == f"{job}/checkpoints":
            restored = None if self.restored_at is None else {"id": 7, "restore_timestamp": self.restored_at, "is_savepoint": False}
            latest = {"completed": {"latest_ack_timestamp": 2_000, "end_to_end_duration": 40}, "restored": restored}
            return "checkpoints", {"counts": {"completed": 7, "failed": 0}, "latest": latest}
        if path == f"{job}/metrics":
            return "restarts", [{"id": "numRestarts", "value": str(self.restarts)}]
        if path == job:
            return "details", {"jid": JOB, "vertices": [{"id": vertex} for vertex in VERTICES]}
        if path in {f"{job}/vertices/{vertex}/subtasks/metrics" for vertex in VERTICES}:
            return "backpressure", [{"id": "backPressuredTimeMsPerSecond", "max": 250.0}]
        return "", {"errors": ["Not found"]}


@pytest.fixture
def flink(tmp_path):
    rest = FlinkRest()
    yield rest, JobsSource(Settings(data_dir=tmp_path, flink_jobmanager=rest.address))
    rest.server.shutdown()
    rest.server.server_close()


def reported(triples) -> dict[str, float]:
    return {name: value for name, labels, value in triples if labels.get("job") == "trackflow-dwd"}


def test_flink_metrics_are_read_every_nth_round_state_and_checkpoints_every_round(flink):
    rest, source = flink
    rounds = [reported(source.sample()) for _ in range(2 * SLOW_EVERY_ROUNDS)]
    assert rest.calls["overview"] == rest.calls["checkpoints"] == 2 * SLOW_EVERY_ROUNDS
    assert rest.calls["restarts"] == 2 and rest.calls["backpressure"] == 2 * len(VERTICES)  # rounds 1 and N + 1
    assert rest.calls["details"] == 1  # the vertex ids: once per job
    # Between the reads the last ones are reported: every round has every series.
    assert all(r["trackflow_job_restarts_total"] == 0 and r["trackflow_job_backpressure_ratio"] == 0.25 for r in rounds)
    assert all(r["trackflow_job_up"] == 1 for r in rounds)


def test_a_restart_is_reported_the_round_it_is_seen_and_job_down_fires_within_its_window(flink):
    rest, source = flink
    rules = [rule for rule in load(Path(__file__).resolve().parents[2] / "alerts.yaml").rules if rule.name == "job_down"]
    engine = Evaluator(tuple(rules))
    fired: list[float] = []

    def evaluate(now: float) -> dict[str, float]:
        triples = source.sample()
        samples: dict = {}
        for name, labels, value in triples:
            samples.setdefault(name, []).append((labels, value))
        fired.extend(now for change in engine.step(now, samples, []) if change.state == "firing")
        return reported(triples)

    now = 0.0
    evaluate(now)  # rounds 1 and 2: the metrics read once
    now += INTERVAL_S
    evaluate(now)
    # The job fails and Flink restarts it (RESTARTING; numRestarts counts from the restart's start), and stays so.
    rest.state, rest.restarts = "RESTARTING", 1
    failed_at = now + 1
    now += INTERVAL_S
    seen = evaluate(now)
    assert seen["trackflow_job_restarts_total"] == 1 and seen["trackflow_job_up"] == 0
    while now < failed_at + rules[0].for_s + INTERVAL_S:
        now += INTERVAL_S
        evaluate(now)
    assert len(fired) == 1 and fired[0] - failed_at <= rules[0].for_s + INTERVAL_S
    # Back to running from its latest checkpoint, then again between two rounds (never seen other than running):
    # the changed restore has the restarts read in that round, not up to SLOW_EVERY_ROUNDS rounds later.
    rest.state, rest.restored_at = "RUNNING", 5_000
    now += INTERVAL_S
    assert evaluate(now)["trackflow_job_up"] == 1
    reads = rest.calls["restarts"]
    now += INTERVAL_S
    evaluate(now)
    assert rest.calls["restarts"] == reads  # nothing changed: not read
    rest.restored_at, rest.restarts = 9_000, 2
    now += INTERVAL_S
    assert evaluate(now)["trackflow_job_restarts_total"] == 2
