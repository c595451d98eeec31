"""`trackflow heat parse` prints the extraction as JSON and exits 1 with a position on bad SQL."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from pipelines.cli import app

runner = CliRunner()


def test_heat_parse_prints_the_extraction():
    result = runner.invoke(app, ["heat", "parse", "SELECT event FROM db.events WHERE event IN ('a', 'b')", "--database", "db"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert {"tables", "columns", "events", "time_range", "unresolved"} <= set(out)
    assert out["tables"] == ["db.events"] and out["events"] == ["a", "b"]
    assert out["columns"] == [{"column": "db.events.event", "roles": ["select", "where"]}]


def test_heat_parse_binds_parameters():
    result = runner.invoke(app, ["heat", "parse", "SELECT 1 FROM t WHERE event = {e:String}", "-p", "e=signup"])
    assert json.loads(result.output)["events"] == ["signup"]


def test_heat_parse_reports_the_error_position():
    result = runner.invoke(app, ["heat", "parse", "SELECT a,\nFROM"])
    assert result.exit_code == 1
    assert json.loads(result.output) == {"error": json.loads(result.output)["error"], "line": 2, "column": 4}


def test_heat_report_ranks_what_was_queried(warehouse, analyst):
    from pipelines.heat.recorder import HeatRecorder

    recorder = HeatRecorder(warehouse).attach(analyst)
    try:
        for _ in range(3):
            analyst.query("SELECT count() FROM dwd_default WHERE event = 'report_probe'")
        assert recorder.flush()
    finally:
        recorder.close()
    result = runner.invoke(app, ["heat", "report", "--kind", "event", "--limit", "200", "--write"])
    assert result.exit_code == 0, result.output
    assert "report_probe" in result.output and "rows written to heat_tiers" in result.output
    tier = warehouse.scalar("SELECT tier FROM heat_tiers FINAL WHERE object_kind = 'event' AND object = 'report_probe'")
    assert tier == "warm"  # three uses just now: score ~3, between the warm (1) and hot (10) thresholds


def test_heat_import_without_a_query_log_is_a_clear_error(warehouse):
    result = runner.invoke(app, ["heat", "import", "--table", "trackflow.no_such_log"])
    assert result.exit_code == 1 and "cannot import from trackflow.no_such_log" in result.output


def test_heat_parse_check_compares_with_explain(warehouse):
    result = runner.invoke(app, ["heat", "parse", "--check", "SELECT event, count() FROM events WHERE event = 'x' GROUP BY event"])
    assert result.exit_code == 0, result.output
    check = json.loads(result.output)["check"]
    assert check == {name: {"missing": [], "extra": []} for name in ("tables", "columns", "events")}
