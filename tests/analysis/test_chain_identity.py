"""A chain names the persons it carries as the events would (pipelines/analysis/persons.py named_cell_sql): a person
never linked by their touchpoint id, one stamped with a OneID that was unlinked since, two touchpoints merged after
their events were written, one linked throughout, and one whose events are in a layer table the id strings are not
kept for (read from its events instead). The carried members equal the persons listing's members over the events
and a hand-written expectation, and the next step equals its model run by hand with the audience as a filter."""

from __future__ import annotations

import pytest

from pipelines.analysis import run_query
from pipelines.envelope import DETAIL_COLUMNS, detail_row

from .conftest import DAY_MS, T0, envelope
from .test_chain import members, own
from .test_identity import publish

APP = "chain-identity-app"
SCOPE = {"app_id": APP, "date_from": "2026-11-01", "date_to": "2026-11-05", "timezone": "UTC"}
VIEWED = {"model": "funnel", "steps": [{"event": "view"}, {"event": "cart"}]}
PATHS = {"model": "paths", "start": {"event": "view"}, "steps": 2}
RETAINED = {"model": "retention", "initial": {"event": "view"}, "returning": {"event": "view"}, "periods": 3}
LAYER = "dwd_chain_identity"  # a layer table as the dwd job makes them (`AS dwd_default`): no id strings kept


def visits(device: str, app: str = APP) -> list[dict]:
    """A view and a search a minute later, a view the next day, never a cart: every such person drops off at the
    funnel's step 2 and takes the path edge view -> search."""
    return [envelope(device, event, T0 + at, app=app) for event, at in (("view", 3_600_000), ("search", 3_660_000), ("view", DAY_MS + 3_600_000))]


@pytest.fixture(scope="module")
def persons(warehouse):
    """The events, written and linked in the order that makes each case; the OneID each person must be named."""
    publish(warehouse, [["device_id", "ci-stamped", "O-ci-stamped", "device_id:ci-stamped", 0],
                        ["device_id", "ci-linked", "O-ci-linked", "device_id:ci-linked", 0]])  # fmt: skip
    written = [e for device in ("ci-unlinked", "ci-stamped", "ci-merged-a", "ci-merged-b", "ci-linked") for e in visits(device)]
    written += [envelope("ci-buyer", "view", T0 + 3_600_000, app=APP), envelope("ci-buyer", "cart", T0 + 3_660_000, app=APP)]
    warehouse.insert("dwd_default", [detail_row(e) for e in written], DETAIL_COLUMNS)
    warehouse.command(f"CREATE TABLE {LAYER} AS dwd_default")
    warehouse.insert(LAYER, [detail_row(e, layer="chain_identity") for e in visits("ci-layer")], DETAIL_COLUMNS)
    # After the writes: the stamped device's link is taken out, the two devices merge into one OneID.
    publish(warehouse, [["device_id", "ci-stamped", "O-ci-stamped", "device_id:ci-stamped", 1],
                        ["device_id", "ci-merged-a", "O-ci-merged", "device_id:ci-merged-a", 0],
                        ["device_id", "ci-merged-b", "O-ci-merged", "device_id:ci-merged-a", 0]])  # fmt: skip
    warehouse.command("SYSTEM RELOAD DICTIONARY person_strings_dict")  # as its next update would
    yield {"device_id:ci-unlinked", "O-ci-stamped", "O-ci-merged", "O-ci-linked", "device_id:ci-layer"}
    warehouse.command(f"DROP TABLE IF EXISTS {LAYER}")


def test_the_stamped_oneid_was_written_and_the_layer_table_has_no_id_strings(warehouse, persons):
    stamped = warehouse.rows("SELECT DISTINCT oneid FROM dwd_default WHERE app_id = {a:String} AND person_id = 'device_id:ci-stamped'", {"a": APP})
    assert stamped == [("O-ci-stamped",)]
    def kept(device: str) -> int:
        return warehouse.scalar("SELECT dictHas('person_strings_dict', cityHash64({d:String}))", {"d": f"device_id:{device}"})

    assert kept("ci-layer") == 0 and kept("ci-unlinked") == 1


@pytest.mark.parametrize(
    "first",
    [{"request": VIEWED, "persons": {"step": 2, "status": "dropped"}}, {"request": PATHS, "persons": {"step": 1, "source": "view", "target": "search"}}],
    ids=["funnel", "paths"],
)
def test_carried_persons_are_named_as_the_events_name_them(analyst, warehouse, persons, first):
    chain = {"model": "chain", **SCOPE, "steps": [first, {"request": RETAINED}]}
    carried_step, next_step = run_query(chain, analyst)["steps"]
    assert members(warehouse, carried_step["carried"]) == persons and carried_step["carried"]["persons"] == len(persons)
    listed = run_query({**first["request"], **SCOPE, "persons": {**first["persons"], "limit": 100}}, analyst)
    assert set(listed["persons"]["persons"]) == persons  # the listing reads the events
    assert own(run_query(next_step["request"], analyst)) == next_step["result"]
    first_day = next(c for c in next_step["result"]["cohorts"] if c["cohort"] == SCOPE["date_from"])
    assert first_day["persons"] == len(persons)  # the merged devices are one person, every carried person counted
