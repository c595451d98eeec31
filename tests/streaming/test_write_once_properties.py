"""Property: whatever the interleaving of batches, replays in other compositions, re-sends with a new client time or
another layer, and writers stopped between any two steps of the protocol, the detail tables hold each event_id the
reference (a plain set of the ids some completed insert carried) holds, once: count() = uniqExact(event_id)."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings, strategies as st

from pipelines.envelope import detail_row
from pipelines.streaming.normalise import normalise
from pipelines.warehouse.eventindex import EventIndex
from tests.streaming.conftest import make_events

POOL = 12
DAY_MS = 86_400_000


class StopsAtInsert:
    """The real warehouse, except that its `stop_at`-th insert raises before it is sent: a writer killed between
    two steps (1: before its claims, 2: after the claims, before the rows, 3: after the rows, before the
    confirmations, which `flush` sends)."""

    def __init__(self, warehouse, stop_at: int | None):
        self.warehouse, self.stop_at, self.inserts = warehouse, stop_at, 0

    def insert(self, *args, **kwargs):
        self.inserts += 1
        if self.inserts == self.stop_at:
            raise ConnectionError("writer stopped")
        return self.warehouse.insert(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.warehouse, name)


operation = st.tuples(
    st.lists(st.integers(0, POOL - 1), min_size=1, max_size=POOL),  # which events, in which order (repeats allowed)
    st.sampled_from([0, 5_000, 2 * DAY_MS]),  # re-stamped by that much (another day partition)
    st.sampled_from(["dwd_default", "dwd_property_probe"]),
    st.sampled_from([None, 1, 2, 3]),  # stopped at that insert of the protocol, or completed
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(operation, min_size=1, max_size=6))
def test_any_interleaving_stores_each_event_once(warehouse, operations):
    warehouse.command("CREATE TABLE IF NOT EXISTS dwd_property_probe AS dwd_default")
    run = uuid.uuid4().hex
    pool = [normalise(dict(event, received_at=event["ts"]), 60_000) for event in make_events(POOL, run)]
    reference: set[str] = set()
    for picks, shift, table, stop_at in operations:
        batch = [dict(pool[i], ts=pool[i]["ts"] + shift) for i in picks]
        index = EventIndex(StopsAtInsert(warehouse, stop_at), grace_s=0.0)
        try:
            index.write_once(table, batch, detail_row)
            index.flush()
        except ConnectionError:
            pass
        if stop_at in (None, 3):  # the rows were sent
            reference |= {event["event_id"] for event in batch}
        counted = warehouse.rows(
            "SELECT count(), uniqExact(event_id) FROM events WHERE props['run'] = {run:String}", {"run": run}
        )
        assert counted == [(len(reference), len(reference))]
