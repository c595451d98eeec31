"""DetailWriter and the event index against the embedded warehouse (no JVM): replays, regrouped batches, late
re-sends with a new client time and writers stopped mid-write never double or lose a row."""

from __future__ import annotations

import threading
import uuid

from pipelines.envelope import DETAIL_COLUMNS, detail_row
from pipelines.streaming.normalise import normalise
from pipelines.streaming.writer import DetailWriter
from pipelines.warehouse.eventindex import LOOKUP_CHUNK, EventIndex, utc_day
from tests.streaming.conftest import make_events, rows_of_run

DAY_MS = 86_400_000


def batch(count: int, run: str, age_ms: int = 0) -> list[dict]:
    return [normalise(dict(event, received_at=event["ts"] + age_ms), 60_000) for event in make_events(count, run, age_ms=age_ms)]


def distinct_of_run(warehouse, run: str) -> int:
    return int(warehouse.scalar("SELECT uniqExact(event_id) FROM events WHERE props['run'] = {run:String}", {"run": run}))


def test_replayed_and_regrouped_batches_write_each_event_once(stack_settings, warehouse):
    run = uuid.uuid4().hex
    writer = DetailWriter(stack_settings)
    first = batch(LOOKUP_CHUNK + 1_500, run)  # more ids than one lookup statement takes
    assert writer.write("writer_probe", first).written == len(first)

    replay = writer.write("writer_probe", first)  # the same batch again (a retried insert)
    assert (replay.written, replay.already_present) == (0, len(first))

    more = batch(700, run)
    respelled = [dict(event, event_id="{" + event["event_id"].upper() + "}") for event in more[:50]]  # one UUID each
    regrouped = first[-300:] + more + respelled  # a restore regroups buffered and replayed events, with re-sends
    result = writer.write("writer_probe", regrouped)
    assert (result.written, result.already_present) == (len(more), 350)
    assert [event["event_id"] for event in result.events] == [event["event_id"] for event in more]

    assert rows_of_run(warehouse, run, "dwd_writer_probe") == len(first) + len(more)
    assert rows_of_run(warehouse, run) == len(first) + len(more)  # the Merge table `events` sees the new layer
    writer.close()


def test_a_late_resend_with_a_new_client_time_adds_no_row(stack_settings, warehouse):
    """An offline queue re-sends 500 written events days later, re-stamped: another day partition, possibly another
    layer, a new writer (the job restarted in between). The event_id is the key, so none is written again."""
    run = uuid.uuid4().hex
    events = batch(500, run, age_ms=3 * DAY_MS)
    first = DetailWriter(stack_settings)
    assert first.write("default", events).written == 500
    first.close()

    restamped = [dict(event, ts=event["ts"] + 2 * DAY_MS + 5_000) for event in events]
    assert {utc_day(e["ts"]) for e in restamped}.isdisjoint({utc_day(e["ts"]) for e in events})
    later = DetailWriter(stack_settings)
    assert later.write("default", restamped).written == 0
    assert later.write("resend_probe", restamped[:200]).written == 0  # a rule change routes them elsewhere
    later.close()
    assert rows_of_run(warehouse, run) == distinct_of_run(warehouse, run) == 500
    stored = {int(ms) for (ms,) in warehouse.rows(
        "SELECT toUnixTimestamp64Milli(ts) FROM events WHERE props['run'] = {run:String}", {"run": run})}  # fmt: skip
    assert stored == {event["ts"] for event in events}  # the first copy stays


def test_a_writer_stopped_between_claim_and_insert_loses_nothing(stack_settings, warehouse):
    """Claimed, never inserted (the writer died in between): the retry finds the claim unconfirmed, looks in the
    claimed partition, finds nothing and writes the events; a claim whose row did land is only confirmed."""
    run = uuid.uuid4().hex
    events = batch(300, run)
    index = EventIndex(warehouse, grace_s=0.0)
    claimed_only, inserted_unconfirmed = events[:200], events[200:]
    index.record([(e["event_id"], "dwd_default", utc_day(e["ts"])) for e in events])
    writer = DetailWriter(stack_settings)
    writer.index.grace_s = 0.0  # the claims are seconds old here, not a killed writer's insert still running
    # The rows of the last 100 landed but their confirmation did not (stopped after the insert).
    warehouse.insert("dwd_default", [detail_row(e) for e in inserted_unconfirmed], DETAIL_COLUMNS, settings={"async_insert": 0})
    retry = writer.write("default", events[::-1])  # the replay after the restore, in another order
    assert retry.written == len(claimed_only) and retry.already_present == len(inserted_unconfirmed)
    assert rows_of_run(warehouse, run) == distinct_of_run(warehouse, run) == 300
    assert writer.write("default", events).written == 0
    writer.close()  # sends the confirmations it holds
    assert all(claim.written for claim in index.claims([e["event_id"] for e in events]).values())


def test_a_young_unconfirmed_claim_is_given_time_for_its_insert_in_flight(stack_settings, warehouse):
    """A writer killed during a failover may leave an insert the server is still running: a claim younger than the
    grace period whose row is missing is looked at again once the grace has passed, not written at once."""
    run = uuid.uuid4().hex
    events = batch(50, run)
    index = EventIndex(warehouse, grace_s=2.0)
    index.record([(e["event_id"], "dwd_default", utc_day(e["ts"])) for e in events])
    late_insert = threading.Timer(
        0.5, lambda: warehouse.insert("dwd_default", [detail_row(e) for e in events], DETAIL_COLUMNS, settings={"async_insert": 0})
    )
    late_insert.start()
    result = index.write_once("dwd_default", events, detail_row)
    late_insert.join()
    assert result.written == [] and result.duplicates == 50
    assert rows_of_run(warehouse, run) == 50


def test_the_index_migration_claims_the_rows_already_stored(stack_settings, warehouse, tmp_path):
    """Upgrading a warehouse whose detail tables hold rows: migration 0041 claims their ids, so a re-send of an event
    written before the upgrade is not written again."""
    from pipelines.warehouse.client import Warehouse, sql_dir
    from pipelines.warehouse.migrate import migrate

    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir(), after.mkdir()
    for name in ("0001_events.sql", "0003_terminal_columns.sql"):  # the detail tables as the rows below need them
        events_sql = (sql_dir() / "migrations" / name).read_text()
        (before / name).write_text(events_sql)
        (after / name).write_text(events_sql)
    (after / "0041_event_index.sql").write_text((sql_dir() / "migrations" / "0041_event_index.sql").read_text())
    old = Warehouse(stack_settings, database=f"upgrade_{uuid.uuid4().hex[:8]}")
    try:
        migrate(old, before)
        run = uuid.uuid4().hex
        events = batch(400, run)
        old.insert("dwd_default", [detail_row(e) for e in events], DETAIL_COLUMNS, settings={"async_insert": 0})
        assert [m.version for m in migrate(old, after)] == ["0041"]
        result = EventIndex(old).write_once("dwd_default", events[:250] + batch(10, run), detail_row)
        assert (len(result.written), result.duplicates) == (10, 250)
        assert old.rows("SELECT count(), uniqExact(event_id) FROM events") == [(410, 410)]
    finally:
        old.command(f"DROP DATABASE IF EXISTS {old.database}")
        old.close()
