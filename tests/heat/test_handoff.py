"""`trackflow query` hands its heat to a detached drain: the record still arrives in query_log, and a drain that
cannot reach the warehouse keeps the record for the next one."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from pipelines.config import get_settings
from pipelines.heat.handoff import QueryHandoff, drain
from pipelines.warehouse.client import WarehouseUnavailable

REQUEST = {"model": "event", "app_id": "handoff-app", "date_from": "2026-11-01", "date_to": "2026-11-02"}


def logged_with_event(warehouse, event: str) -> int:
    return warehouse.scalar("SELECT count() FROM query_log FINAL WHERE has(events, {e:String})", {"e": event})


def records_per_query(warehouse, event: str) -> list[int]:
    """How many times each distinct query naming `event` was recorded: a CLI query runs the model's query and the
    unknown-name lookup (pipelines/analysis/names.py), and each must arrive exactly once."""
    rows = warehouse.rows(
        "SELECT count() FROM query_log FINAL WHERE has(events, {e:String}) GROUP BY query_hash", {"e": event}
    )
    return sorted(row[0] for row in rows)


def test_a_cli_query_arrives_in_query_log_after_the_command_ended(warehouse, analyst, tmp_path):
    from typer.testing import CliRunner

    from pipelines.cli import app

    event = f"handoff_{uuid.uuid4().hex[:8]}"  # a bound parameter: query_log's events name it once recorded
    spec = tmp_path / "request.json"
    spec.write_text(json.dumps({**REQUEST, "metrics": [{"event": event, "math": "total"}]}))
    result = CliRunner().invoke(app, ["query", "--spec", str(spec), "--format", "json"])
    assert result.exit_code == 0, result.output
    deadline = time.monotonic() + 60
    while logged_with_event(warehouse, event) == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)  # a doubled record would arrive with the first: give it the time to
    assert records_per_query(warehouse, event) == [1, 1], "the model's query and the name lookup, once each"


def test_a_drain_that_cannot_write_keeps_the_record_for_the_next(warehouse, analyst):
    settings = get_settings()
    event = f"kept_{uuid.uuid4().hex[:8]}"
    handoff = QueryHandoff(settings).attach(analyst)
    analyst.query("SELECT count() FROM events WHERE event = {e:String}", {"e": event})
    analyst.remove_listener(handoff)
    path = handoff.write_pending()  # what close() writes, without its detached drain: this test drains

    nowhere = settings.model_copy(update={"clickhouse_url": "http://127.0.0.1:9"})  # port 9: nothing listens
    with pytest.raises(WarehouseUnavailable):
        drain(nowhere)
    assert path.exists() and logged_with_event(warehouse, event) == 0

    assert drain(settings) >= 1
    assert not path.exists() and logged_with_event(warehouse, event) == 1
