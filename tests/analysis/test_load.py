"""`trackflow warehouse load`: validation with line numbers and fields, idempotent re-load; demo generator."""

from __future__ import annotations

import gzip
import json

import pytest
from typer.testing import CliRunner

from pipelines.backfill import LoadError, load_file
from pipelines.cli import app
from pipelines.demogen import DemoSpec, generate_frame, write_jsonl
from pipelines.envelope import DETAIL_COLUMNS, detail_row

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
    assert (first.written, first.duplicates, first.chunks) == (120, 0, 3)
    assert [line for line, _ in first.invalid] == [61, 62, 63]
    assert first.invalid[1][1].startswith("ts:") and first.invalid[2][1].startswith("ids:")
    assert count() == 120
    again = load_file(path, warehouse, chunk_rows=40)  # again, cut into other chunks: every event_id is known
    assert (again.written, again.duplicates) == (0, 120) and count() == 120


def test_a_reload_after_more_than_a_thousand_other_inserts_adds_nothing(warehouse, tmp_path):
    """Insert deduplication tokens are forgotten after the table's last 1,000 blocks; the event index is not."""
    app = "reload-app"
    path = tmp_path / "reload.jsonl"
    path.write_text("".join(json.dumps(envelope(f"q{i}", "view", T0 + i * 1000, app=app)) + "\n" for i in range(300)))
    assert load_file(path, warehouse, chunk_rows=100).written == 300
    for i in range(1_001):  # small blocks into the same table and day partition push the file's tokens out
        warehouse.insert("dwd_default", [detail_row(envelope(f"filler{i}", "view", T0, app="filler-app"))], DETAIL_COLUMNS,
                         settings={"async_insert": 0})  # fmt: skip
    assert load_file(path, warehouse, chunk_rows=100).written == 0
    counts = warehouse.rows("SELECT count(), uniqExact(event_id) FROM events WHERE app_id = {a:String}", {"a": app})
    assert counts == [(300, 300)]


def test_a_file_overlapping_what_the_stream_wrote_adds_only_the_rest(stack_settings, warehouse, tmp_path):
    """The loader and the dwd job share one index: events the stream wrote (to another layer, on another day after
    re-stamping) are not written again by a backfill of the same events."""
    from pipelines.streaming.writer import DetailWriter

    app = "overlap-app"
    events = [envelope(f"o{i}", "view", T0 + i * 1000, app=app) for i in range(100)]
    writer = DetailWriter(stack_settings)
    assert writer.write("load_overlap", [dict(e, ts=e["ts"] + 86_400_000) for e in events[:60]]).written == 60
    writer.close()
    path = tmp_path / "overlap.jsonl"
    # Upper-case ids in the file: the same events (a UUID is case-blind).
    path.write_text("".join(json.dumps(dict(e, event_id=e["event_id"].upper())) + "\n" for e in events))
    report = load_file(path, warehouse)
    assert (report.written, report.duplicates) == (40, 60)
    counts = warehouse.rows("SELECT count(), uniqExact(event_id) FROM events WHERE app_id = {a:String}", {"a": app})
    assert counts == [(100, 100)]


def test_invalid_lines_are_set_aside_and_unreadable_files_named(warehouse, tmp_path):
    good = [json.dumps(envelope(f"r{i}", "view", T0 + i * 1000, app=LOAD_APP)) for i in range(10)]
    bad = [b"\xff\xfe not utf-8", b'{"event": "view"}', b"[1, 2]"]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join([good[0].encode(), *bad, *(g.encode() for g in good[1:])]) + b"\n")
    report = load_file(path, warehouse, rejects=tmp_path / "mixed.rejected.jsonl")
    assert report.written == 10 and [line for line, _ in report.invalid] == [2, 3, 4]
    assert report.rejects.read_bytes() == b"\n".join(bad) + b"\n"
    reasons = (tmp_path / "mixed.rejected.jsonl.reasons.tsv").read_text().splitlines()
    assert reasons[0] == "input_line\treason" and reasons[1] == "2\tnot UTF-8 text" and reasons[3] == "4\tnot a JSON object"
    fixed = tmp_path / "fixed.jsonl"  # the rejects, fixed, load like any file
    fixed.write_text(json.dumps(envelope("r-fixed", "view", T0, app=LOAD_APP)) + "\n")
    assert load_file(fixed, warehouse).written == 1
    clean = load_file(fixed, warehouse, rejects=tmp_path / "none.jsonl")
    assert clean.rejects is None and not (tmp_path / "none.jsonl").exists()

    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress("".join(g + "\n" for g in good).encode() * 50)[:-30])
    with pytest.raises(LoadError, match=r"cut.jsonl.gz: not a readable gzip file .*after line"):
        load_file(cut, warehouse, chunk_rows=100)
    with pytest.raises(LoadError, match="no detail table dwd_nope; there are: .*dwd_default"):
        load_file(fixed, warehouse, table="dwd_nope")
    plain = tmp_path / "plain.jsonl.gz"
    plain.write_text(good[0] + "\n")
    with pytest.raises(LoadError, match="not a readable gzip file"):
        load_file(plain, warehouse)


def test_cli_load_and_query(stack, tmp_path):
    events = [envelope(f"c{i}", "view" if i % 2 else "pay", T0 + i * 60_000, app="cli-app", price=3) for i in range(40)]
    path = tmp_path / "cli.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    runner = CliRunner()
    result = runner.invoke(app, ["warehouse", "load", str(path)])
    assert result.exit_code == 0, result.output
    broken = tmp_path / "broken.jsonl.gz"
    other_app = envelope("c-other", "view", T0, app="cli-other-app")
    broken.write_bytes(gzip.compress(json.dumps(other_app).encode() + b"\n{oops\n"))
    result = runner.invoke(app, ["warehouse", "load", str(broken), "--strict"])
    assert result.exit_code == 1 and "line 2:" in result.output and "broken.rejected.jsonl" in result.output
    assert (tmp_path / "broken.rejected.jsonl").read_text() == "{oops\n"
    # user text in the warnings prints as it is, never read as markup
    marked = tmp_path / "a[bold]b.jsonl"
    marked.write_text(json.dumps({**other_app, "event_id": "[red]x[/]"}) + "\n")
    result = runner.invoke(app, ["warehouse", "load", str(marked)])
    assert "loading a[bold]b.jsonl" in result.output and "a[bold]b.rejected.jsonl" in result.output, result.output
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress(b"{}\n")[:-9])
    result = runner.invoke(app, ["warehouse", "load", str(tmp_path / "cut.jsonl.gz")])
    assert result.exit_code == 1 and "not a readable gzip file" in result.output and "Traceback" not in result.output
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
    # the same seed again would double every row: refused, and the events' ids are in the event index
    again = CliRunner().invoke(app, ["demo", "generate", "--events", "3000", "--persons", "200", "--days", "7", "--app-id", "demo-cli"])
    assert again.exit_code == 1 and "in the warehouse already" in again.output and "--seed" in again.output
    assert warehouse.scalar("SELECT count() FROM events WHERE app_id = 'demo-cli'") == 3000
    indexed = "SELECT count() FROM event_index WHERE written AND event_id IN (SELECT event_id FROM events WHERE app_id = 'demo-cli')"
    assert warehouse.scalar(indexed) == 3000
