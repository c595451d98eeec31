"""Dirty records (reject file under the limit, failure report over it), the Dagster asset with its checks, and
the deadline sensor alerting a local webhook before a throttled push misses its deadline."""

from __future__ import annotations

import csv
import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from pipelines.config import get_settings
from pipelines.push.runner import DirtyLimitExceeded, run_push
from tests.push.conftest import DIRTY_PRICES, push_definition, push_subprocess, target_summary


def test_dirty_rows_under_the_limit_go_to_the_reject_file(stack_settings, warehouse, pg, push_day, source_rows):
    push = push_definition("dirty_ok", dirty={"max_rows": len(DIRTY_PRICES), "max_percent": 1})
    result = run_push(stack_settings, push, push_day, warehouse)
    rejected = [row for path in result.reject_files for row in csv.DictReader(path.open())]
    assert sorted(row["price"] for row in rejected) == sorted(DIRTY_PRICES)
    assert all(row["reason"] == f"price: {row['price']} is not double" for row in rejected)
    assert target_summary(pg, "tests.dirty_ok", push_day)[0] == source_rows - len(DIRTY_PRICES)


def test_dirty_rows_over_the_limit_fail_the_push_with_a_report(stack_settings, warehouse, pg, push_day):
    push = push_definition("dirty_over", dirty={"max_rows": 100, "max_percent": 0.001})
    with pytest.raises(DirtyLimitExceeded) as caught:
        run_push(stack_settings, push, push_day, warehouse)
    report = str(caught.value)
    assert f"{len(DIRTY_PRICES)} dirty of" in report and "limit 100 rows and 0.001%" in report
    assert f"price: {len(DIRTY_PRICES)} rows" in report
    reject_file = report.split("rejected rows with reasons: ")[1].splitlines()[0]
    assert len(list(csv.DictReader(open(reject_file)))) == len(DIRTY_PRICES)
    # Checked before anything was written.
    assert pg.execute("SELECT to_regclass('tests.dirty_over') IS NULL OR NOT EXISTS (SELECT 1 FROM tests.dirty_over)").fetchone()[0]


def test_dagster_asset_pushes_a_partition_and_passes_its_checks(stack, push_day, tmp_path, monkeypatch):
    from dagster import materialize

    from dagster_project.pushes import build_push_asset
    from dagster_project.resources import PostgresResource, WarehouseResource

    push = push_definition("dagster_asset")
    result = materialize(
        [build_push_asset(push)],
        partition_key=push_day.isoformat(),
        resources={"warehouse": WarehouseResource(), "postgres": PostgresResource()},
    )
    assert result.success
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"reconciled": True, "arrived_by_deadline": dt.datetime.now(dt.timezone.utc) <= push.deadline.due(push_day)}


class Webhook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Webhook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    server = HTTPServer(("127.0.0.1", 0), Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Webhook.received = []
    yield f"http://127.0.0.1:{server.server_port}/alerts", Webhook.received
    server.shutdown()


def test_deadline_sensor_alerts_before_a_throttled_push_misses_its_deadline(stack_settings, pg, push_day, tmp_path, monkeypatch, webhook):
    from dagster import build_sensor_context

    from dagster_project.pushes import push_deadline_sensor
    from dagster_project.resources import PostgresResource

    url, received = webhook
    due = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=2)
    if due.date() != push_day + dt.timedelta(days=1):
        pytest.skip("too close to midnight UTC for a deadline minutes from now")
    # ~24,000 rows at 150 rows/s: about 160 s, finishing well after a deadline 1-2 minutes away.
    push = push_definition("late", rows_per_s=150, deadline=f"{due:%H:%M} UTC", chunking={"by": "key_hash", "key": "event_id", "chunks": 2})
    definitions = tmp_path / "pushes.yaml"
    child = push_subprocess(stack_settings, push, push_day, definitions)
    try:
        monkeypatch.setenv("TRACKFLOW_PUSH_DEFINITIONS", str(definitions))
        monkeypatch.setenv("TRACKFLOW_PUSH_ALERT_WEBHOOK_URL", url)
        get_settings.cache_clear()
        waited = time.monotonic() + 60
        while time.monotonic() < waited:  # the run reports progress every 2 s; predict once there is throughput
            row = pg.execute("SELECT rows_done FROM trackflow_push.runs WHERE push = 'late' ORDER BY started_at DESC LIMIT 1").fetchone()
            if row and row[0] > 0:
                break
            assert child.poll() is None, child.stdout.read().decode()
            time.sleep(0.2)
        context = build_sensor_context(resources={"postgres": PostgresResource()})
        outcome = push_deadline_sensor(context)
        assert received, f"no alert posted ({outcome})"
        alert = received[0]
        assert alert["push"] == "late" and alert["level"] in ("P1", "P2") and alert["state"] == "running"
        assert dt.datetime.fromisoformat(alert["predicted_finish"]) > dt.datetime.fromisoformat(alert["deadline"])
        # Same level again: not re-sent (the cursor remembers it).
        push_deadline_sensor(build_sensor_context(resources={"postgres": PostgresResource()}, cursor=context.cursor))
        assert len(received) == 1
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
        get_settings.cache_clear()


def test_cli_run_status_and_clear_errors(stack, push_day, tmp_path, monkeypatch):
    import yaml
    from typer.testing import CliRunner

    from pipelines.cli import app

    push = push_definition("cli_push", chunking={"by": "key_hash", "key": "event_id", "chunks": 2})
    definitions = tmp_path / "pushes.yaml"
    definitions.write_text(yaml.safe_dump({"pushes": [push.model_dump(mode="json")]}))
    monkeypatch.setenv("TRACKFLOW_PUSH_DEFINITIONS", str(definitions))
    monkeypatch.setenv("COLUMNS", "250")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        listed = runner.invoke(app, ["push", "list"])
        assert listed.exit_code == 0 and "cli_push" in listed.output
        ran = runner.invoke(app, ["push", "run", "cli_push", "--date", push_day.isoformat()])
        assert ran.exit_code == 0, ran.output
        assert "reconciliation match" in ran.output
        status = runner.invoke(app, ["push", "status"])
        assert status.exit_code == 0 and "cli_push" in status.output and "ok" in status.output
        unknown = runner.invoke(app, ["push", "run", "nope", "--date", push_day.isoformat()])
        assert unknown.exit_code == 1 and "no push named 'nope'; defined: cli_push" in unknown.output
        backwards = runner.invoke(app, ["push", "backfill", "cli_push", "--from", "2026-11-02", "--to", "2026-11-01"])
        assert backwards.exit_code == 1 and "--to 2026-11-01 is before --from 2026-11-02" in backwards.output
    finally:
        get_settings.cache_clear()
