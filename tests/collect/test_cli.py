"""`trackflow plan|quarantine|collector` against the session stack: exit codes, output, and one clear line (no
stack trace) for a broken plan."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from pipelines.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_plan_validate_show_and_query():
    assert "demo-shop: version 1" in run("plan", "validate").output
    shown = json.loads(run("plan", "show", "demo-shop", "--json").output)
    assert shown["events"]["pay"]["properties"]["currency"]["enum"] == ["CNY", "USD", "EUR"]
    sql = run("plan", "query", "demo-shop", "pay").output
    assert "FROM events" in sql and '"event": "pay"' in sql
    unknown = run("plan", "query", "demo-shop", "teleport")
    assert unknown.exit_code == 1 and "not declared" in unknown.output


def test_broken_plan_is_one_clear_error(tmp_path):
    (tmp_path / "bad.yaml").write_text("app_id: x\nversion: 1\nevents:\n  pay:\n    properties:\n      amount: {type: money}\n")
    result = run("plan", "validate", "--dir", str(tmp_path))
    assert result.exit_code == 1
    text = " ".join(result.output.split())  # rich wraps long lines
    assert "bad.yaml: events.pay.properties.amount.type must be one of" in text and "Traceback" not in text


def test_plan_apply_health_and_quarantine_commands(stack):
    first = run("plan", "apply")
    assert first.exit_code == 0 and "demo-shop: version 1" in first.output
    assert "already applied" in run("plan", "apply").output
    report = json.loads(run("plan", "health", "demo-shop", "--json").output)
    assert report["app_id"] == "demo-shop" and {p["event"] for p in report["points"]} >= {"pay", "click", "page_view"}
    assert run("quarantine", "list").exit_code == 0
    assert "checked" in run("quarantine", "replay", "--dry-run").output


def test_collector_health_command(stack):
    result = run("collector", "health")
    assert result.exit_code == 0 and json.loads(result.output)["status"] == "ok"
