"""`trackflow warehouse load`: validation with line numbers and fields, idempotent re-load; demo generator."""

from __future__ import annotations

import gzip
import json

from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.demogen import DemoSpec, generate_frame, write_jsonl
from pipelines.warehouse.load import load_file

from .conftest import T0, envelope

LOAD_APP = "load-app"


def test_load_validates_and_reloads_idempotently(warehouse, tmp_path):
    good = [envelope(f"p{i}", "view", T0 + i * 1000, app=LOAD_APP) for i in range(120)]
    bad_ts = {**envelope("x", "view", 5, app=LOAD_APP)}
    no_ids = {**envelope("y", "view", T0, app=LOAD_APP), "ids": {}}
    path = tmp_path / "events.jsonl.gz"
    with gzip.open(path, "wt") as out:
        for event in good[:60]:
            out.write(json.dumps(event) + "\n")
        out.write("{broken\n")
        out.write(json.dumps(bad_ts) + "\n")
        out.write(json.dumps(no_ids) + "\n")
        for event in good[60:]:
            out.write(json.dumps(event) + "\n")
    count = lambda: warehouse.scalar("SELECT count() FROM events WHERE app_id = {a:String}", {"a": LOAD_APP})  # noqa: E731
    first = load_file(path, warehouse, chunk_rows=50)
    assert first.sent == 120 and first.chunks == 3
    assert [line for line, _ in first.invalid] == [61, 62, 63]
    assert first.invalid[1][1].startswith("ts:") and first.invalid[2][1].startswith("ids:")
    assert count() == 120
    load_file(path, warehouse, chunk_rows=50)  # again: every chunk's token was seen
    assert count() == 120


def test_cli_load_and_query(stack, tmp_path):
    events = [envelope(f"c{i}", "view" if i % 2 else "pay", T0 + i * 60_000, app="cli-app", price=3) for i in range(40)]
    path = tmp_path / "cli.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    runner = CliRunner()
    result = runner.invoke(app, ["warehouse", "load", str(path)])
    assert result.exit_code == 0, result.output
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"model": "distribution", "app_id": "cli-app", "date_from": "2026-11-01", "date_to": "2026-11-02", "event": {"event": "view"}}))
    result = runner.invoke(app, ["query", "--spec", str(spec), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "from,to,persons" and "1,2,20" in result.output
    spec.write_text(json.dumps({"model": "distribution", "app_id": "cli-app", "date_from": "2026-11-01", "date_to": "2026-11-02", "event": {"event": "v'"}}))
    result = runner.invoke(app, ["query", "--spec", str(spec)])
    assert result.exit_code == 1 and "event.event" in result.output
    request = {"model": "distribution", "app_id": "cli-app", "date_from": "2026-11-01", "date_to": "2026-11-02", "event": {"event": "pay"}}
    result = runner.invoke(app, ["query", "--spec", "-", "--format", "json"], input=json.dumps(request))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rows"][0] == [1, 2, 20]
    event = {"model": "event", "app_id": "cli-app", "date_from": "2026-11-01", "date_to": "2026-11-02", "metrics": [{"event": "view"}]}
    result = runner.invoke(app, ["query", "--spec", "-", "--format", "csv"], input=json.dumps({**event, "granularity": "minute", "max_rows": 3}))
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 4 and "only the first are shown" in result.stderr
    result = runner.invoke(app, ["query", "--spec", "-"], input="{not json")
    assert result.exit_code == 1 and "standard input: not a JSON request" in result.output
    result = runner.invoke(app, ["query", "--spec", str(tmp_path / "missing.json")])
    assert result.exit_code == 1 and "cannot read the request file" in result.output and "missing.json" in result.output


def test_demo_generator_shape(tmp_path):
    frame = generate_frame(DemoSpec(events=20_000, persons=1_000, days=14, seed=1))
    assert len(frame) == 20_000
    assert set(frame.platform) == {"web", "h5", "ios", "android"}
    assert {"page_view", "search", "product_view", "add_to_cart", "sign_up", "order", "pay"} <= set(frame.event)
    # Multi-device persons with login linking: one OneID spans several touchpoint ids.
    ids_per_person = frame.groupby("oneid").person_id.nunique()
    assert (ids_per_person > 1).mean() > 0.2
    weekend = frame.ts.dt.weekday >= 5
    assert weekend.mean() > 2 / 7  # busier weekends
    assert frame.ts.is_monotonic_increasing
    assert write_jsonl(frame.head(100), tmp_path / "demo.jsonl.gz") == 100


def test_cli_demo_generate_inserts(stack, warehouse):
    result = CliRunner().invoke(app, ["demo", "generate", "--events", "3000", "--persons", "200", "--days", "7", "--app-id", "demo-cli"])
    assert result.exit_code == 0, result.output
    assert warehouse.scalar("SELECT count() FROM events WHERE app_id = 'demo-cli'") == 3000
