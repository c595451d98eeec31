"""Pushes into the real PostgreSQL from the real warehouse: complete, repeatable, resumable after SIGKILL."""

from __future__ import annotations

import signal
import time

import pytest

from pipelines.push import state
from pipelines.push.runner import run_push
from tests.push.conftest import DIRTY_PRICES, push_definition, push_subprocess, target_summary


def test_push_arrives_complete(stack_settings, warehouse, pg, push_day, source_rows):
    push = push_definition("complete")
    result = run_push(stack_settings, push, push_day, warehouse)
    clean = source_rows - len(DIRTY_PRICES)
    assert result.reconciliation.ok, result.reconciliation.summary()
    assert result.reconciliation.source_rows == result.reconciliation.target_rows == clean
    assert result.rows_written == clean and result.rejected_rows == len(DIRTY_PRICES)
    assert target_summary(pg, "tests.complete", push_day) == (clean, clean)
    # Values arrive typed: a price is a double, a timestamp is a timestamptz of that day.
    price, ts = pg.execute("SELECT price, ts FROM tests.complete WHERE price IS NOT NULL LIMIT 1").fetchone()
    assert isinstance(price, float) and ts.date() == push_day
    url, props = pg.execute("SELECT url, props FROM tests.complete WHERE person_id LIKE '%%tricky'").fetchone()
    assert url == "https://shop.example/a\tb\nc\\d\"e'f\u00e9\u4e2d" and props["note"] == "\\N"


def test_same_partition_twice_gives_the_same_target(stack_settings, warehouse, pg, push_day):
    push = push_definition("twice", chunking={"by": "hour"}, parallelism=3)
    first = run_push(stack_settings, push, push_day, warehouse)
    second = run_push(stack_settings, push, push_day, warehouse)
    assert not second.resumed and second.chunks_written == 24
    assert first.reconciliation.ok and second.reconciliation.ok
    assert first.reconciliation.target_checksum == second.reconciliation.target_checksum
    rows, distinct = target_summary(pg, "tests.twice", push_day)
    assert rows == distinct == first.rows_written


def test_upsert_mode_twice_gives_the_same_target(stack_settings, warehouse, pg, push_day):
    push = push_definition("upserted", write_mode="upsert", key=["event_id"], chunking={"by": "key_hash", "key": "event_id", "chunks": 3})
    first = run_push(stack_settings, push, push_day, warehouse)
    second = run_push(stack_settings, push, push_day, warehouse)
    assert first.reconciliation.ok and second.reconciliation.ok
    assert target_summary(pg, "tests.upserted", push_day) == (first.rows_written, first.rows_written)


def test_killed_run_resumes_only_the_missing_chunks(stack_settings, warehouse, pg, push_day, tmp_path):
    # Throttled so the child is still busy when killed: 8 chunks of ~3,000 rows at 6,000 rows/s, 2 at a time.
    push = push_definition("killed", rows_per_s=6_000)
    child = push_subprocess(stack_settings, push, push_day, tmp_path / "pushes.yaml")
    deadline = time.monotonic() + 60
    done = []
    while time.monotonic() < deadline and child.poll() is None:
        done = [r.chunk for r in state.chunk_rows(pg, push.name, push_day) if r.state == "done"]
        if len(done) >= 2:
            break
        time.sleep(0.1)
    assert child.poll() is None, f"push finished before it could be killed: {child.stdout.read().decode()}"
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    chunks = state.chunk_rows(pg, push.name, push_day)
    done = [r.chunk for r in chunks if r.state == "done"]
    assert 2 <= len(done) < 8 and any(r.state == "running" for r in chunks)  # killed mid-chunk: stale locks left

    resumed = run_push(stack_settings, push.model_copy(update={"rows_per_s": 0}), push_day, warehouse)
    assert resumed.resumed and resumed.chunks_written == 8 - len(done)
    assert resumed.reconciliation.ok, resumed.reconciliation.summary()
    rows, distinct = target_summary(pg, "tests.killed", push_day)
    assert rows == distinct == resumed.reconciliation.source_rows  # no duplicates, no gaps


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_file_targets_arrive_complete_and_replace_on_rerun(stack_settings, warehouse, push_day, kind):
    push = push_definition(f"files_{kind}", target={"kind": kind, "folder": f"tests/{kind}"}, chunking={"by": "key_hash", "key": "event_id", "chunks": 3})
    first = run_push(stack_settings, push, push_day, warehouse)
    second = run_push(stack_settings, push, push_day, warehouse)
    assert first.reconciliation.ok, first.reconciliation.summary()
    assert second.reconciliation == first.reconciliation
    folder = stack_settings.data_dir / "push" / "files" / "tests" / kind / f"dt={push_day}"
    assert sorted(p.name for p in folder.iterdir()) == [f"part-000{n}.{kind}" for n in range(3)]  # no temporaries left


def test_reconciliation_catches_an_altered_or_missing_row(stack_settings, warehouse, pg, push_day):
    from pipelines.push.reconcile import reconcile

    push = push_definition("tampered", chunking={"by": "key_hash", "key": "event_id", "chunks": 2})
    result = run_push(stack_settings, push, push_day, warehouse)
    plans = []  # rejected-row figures do not matter here
    pg.execute("UPDATE tests.tampered SET url = url || '#' WHERE ctid = (SELECT ctid FROM tests.tampered LIMIT 1)")
    altered = reconcile(stack_settings, push, push_day, warehouse, pg, plans)
    assert altered.target_rows == altered.source_rows and altered.target_checksum != result.reconciliation.target_checksum
    assert not altered.ok
    pg.execute("DELETE FROM tests.tampered WHERE ctid = (SELECT ctid FROM tests.tampered LIMIT 1)")
    missing = reconcile(stack_settings, push, push_day, warehouse, pg, plans)
    assert missing.target_rows == missing.source_rows - 1 and not missing.ok
