"""DetailWriter against the embedded warehouse (no JVM): replays and regrouped batches never double a row."""

from __future__ import annotations

import uuid

from pipelines.streaming.normalise import normalise
from pipelines.streaming.writer import EXISTING_CHECK_CHUNK, DetailWriter
from tests.streaming.conftest import make_events, rows_of_run


def batch(count: int, run: str) -> list[dict]:
    return [normalise(dict(event, received_at=event["ts"]), 60_000) for event in make_events(count, run)]


def test_replayed_and_regrouped_batches_write_each_event_once(stack_settings, warehouse):
    run = uuid.uuid4().hex
    writer = DetailWriter(stack_settings)
    first = batch(EXISTING_CHECK_CHUNK + 1_500, run)  # more ids than one check query takes
    assert writer.write("writer_probe", first).written == len(first)

    replay = writer.write("writer_probe", first)  # the same batch again (a retried insert)
    assert (replay.written, replay.already_present) == (0, len(first))

    more = batch(700, run)
    regrouped = first[-300:] + more + more[:50]  # a restore regroups buffered and replayed events, with re-sends
    result = writer.write("writer_probe", regrouped)
    assert (result.written, result.already_present) == (len(more), 300)
    assert [event["event_id"] for event in result.events] == [event["event_id"] for event in more]

    assert rows_of_run(warehouse, run, "dwd_writer_probe") == len(first) + len(more)
    assert rows_of_run(warehouse, run) == len(first) + len(more)  # the Merge table `events` sees the new layer
    writer.close()
