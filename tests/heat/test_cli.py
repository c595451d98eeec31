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
