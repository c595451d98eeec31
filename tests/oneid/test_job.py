"""The one end-to-end Flink test: events on ods.default -> jobs/oneid on a local MiniCluster -> identity.changes and
the warehouse (oneid_edges, oneid_map, oneid_merge_log). Slow (JVM start), so it checks everything in one run."""

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
from typer.testing import CliRunner

from pipelines import messaging
from pipelines.cli import app

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_790_000_000_000


def _event(ts: int, ids: dict) -> bytes:
    return json.dumps({"event_id": str(uuid.uuid4()), "event": "page_view", "app_id": "demo", "ts": ts, "ids": ids}).encode()


@pytest.mark.jvm
def test_job_links_events_into_the_graph_and_the_warehouse(stack, warehouse, stack_settings):
    for table in ("oneid_edges", "oneid_map", "oneid_merge_log"):
        warehouse.command(f"TRUNCATE TABLE IF EXISTS {table}")
    producer = messaging.producer(stack_settings)
    for ts, ids in [
        (T0 + 1, {"user_id": "job-alice", "device_id": "job-phone"}),
        (T0 + 2, {"device_id": "job-phone", "cookie_id": "job-c1", "idfa": "null"}),
        (T0 + 3, {"device_id": "job-kiosk", "user_id": "job-alice"}),
        (T0 + 4, {"device_id": "job-kiosk", "user_id": "job-bob"}),
    ]:
        producer.send(messaging.ods_topic(messaging.DEFAULT_LAYER), key=b"k", value=_event(ts, ids))
    producer.flush()
    producer.close()

    env = {**os.environ, "TRACKFLOW_FLINK_REST_PORT": "0", "TRACKFLOW_ONEID_FLUSH_MS": "300",
           "TRACKFLOW_IDENTITY_RULES": str(ROOT / "identity.yaml")}  # fmt: skip
    log = open(Path(stack_settings.data_dir) / "oneid-job.log", "w")
    job = subprocess.Popen([sys.executable, "-m", "jobs.oneid", "--recover", "none"], cwd=ROOT, env=env, stdout=log,
                           stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        # Other suites may have put events on ods.default in this session: wait for these ids, not for a count.
        wanted = {"user_id:job-alice", "device_id:job-phone", "cookie_id:job-c1", "device_id:job-kiosk", "user_id:job-bob"}
        deadline, mapped = time.time() + 150, {}
        while time.time() < deadline and not wanted <= mapped.keys():
            time.sleep(2)
            assert job.poll() is None, (Path(stack_settings.data_dir) / "oneid-job.log").read_text()[-3000:]
            mapped = dict(warehouse.rows("SELECT person_id, oneid FROM oneid_current"))
        assert mapped["device_id:job-phone"] == mapped["user_id:job-alice"] == mapped["cookie_id:job-c1"]
        assert mapped["user_id:job-bob"] != mapped["user_id:job-alice"]
        assert not any(person.lower() == "idfa:null" for person in mapped)  # junk never becomes an identity
        rules = [rule for (rule,) in warehouse.rows("SELECT rule FROM oneid_merge_log WHERE action = 'refuse'")]
        assert "unique:user_id" in rules
        assert warehouse.scalar("SELECT count() FROM oneid_edges") >= 4
    finally:
        os.killpg(job.pid, signal.SIGTERM)
        try:
            job.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(job.pid, signal.SIGKILL)
        log.close()


def _row(output: str, name: str) -> list[str]:
    """The cells of the table row that has a cell `name` (rich tables: cells between │)."""
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if name in cells:
            return cells
    return []


@pytest.mark.jvm
def test_the_oneid_job_started_through_the_cli_is_seen_by_status_and_jobs_list(stack, stack_settings):
    """`trackflow jobs start oneid` runs the job in the background as a stack component: `status` shows it running,
    `jobs list` lists it next to the event path's jobs, and once stopped `status` shows it is not running."""
    from pipelines.stack import Stack
    from pipelines.stack.components import ONEID_JOB

    runner = CliRunner()
    invoke = lambda *args: runner.invoke(app, list(args), env={"COLUMNS": "250"})  # noqa: E731
    try:
        started = invoke("jobs", "start", "oneid")
        assert started.exit_code == 0 and "oneid-job" in started.output and "started at http://127.0.0.1:" in started.output, started.output
        assert "healthy" in _row(invoke("status").output, ONEID_JOB.name)
        listed = invoke("jobs", "list")
        assert listed.exit_code == 0 and "RUNNING" in _row(listed.output, "trackflow-oneid"), listed.output
        assert invoke("jobs", "start", "dwd").exit_code == 1
    finally:
        Stack(stack_settings, [ONEID_JOB]).down(report=lambda _: None)
    assert "off" in _row(invoke("status").output, ONEID_JOB.name)
