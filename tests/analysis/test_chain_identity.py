"""A chain names the persons it saves (`save_as`) as the events would (pipelines/analysis/persons.py
named_cell_sql): a person never linked by their touchpoint id, one stamped with a OneID that was unlinked since, two
touchpoints merged after their events were written, one linked throughout, and one whose events are in a layer table
the id strings are not kept for (read from its events instead). The saved members equal the persons listing's
members over the events and a hand-written expectation; the persons carried between steps (keys only) are the same
persons, and the next step equals its model run by hand with the audience as a filter."""

from __future__ import annotations

import time

import pytest

from pipelines.analysis import run_query
from pipelines.envelope import DETAIL_COLUMNS, detail_row

from .conftest import DAY_MS, T0, envelope
from .test_chain import keys, members, own
from .test_identity import MAP_COLUMNS, publish
from .test_result_persons import assert_no_event_granule_read

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
def test_saved_persons_are_named_as_the_events_name_them(analyst, warehouse, persons, first):
    chain = {"model": "chain", **SCOPE, "steps": [first, {"request": RETAINED}]}
    carried_step, next_step = run_query(chain, analyst)["steps"]
    assert members(warehouse, carried_step["carried"]) == keys(warehouse, persons) and carried_step["carried"]["persons"] == len(persons)
    listed = run_query({**first["request"], **SCOPE, "persons": {**first["persons"], "limit": 100}}, analyst)
    assert set(listed["persons"]["persons"]) == persons  # the listing reads the events
    assert own(run_query(next_step["request"], analyst)) == next_step["result"]
    first_day = next(c for c in next_step["result"]["cohorts"] if c["cohort"] == SCOPE["date_from"])
    assert first_day["persons"] == len(persons)  # the merged devices are one person, every carried person counted
    # The same cell again over the persons carried, saved: named from the step's rows and the kept id strings.
    saved = run_query({**chain, "steps": [first, first], "save_as": f"ci_named_{first['request']['model']}"}, analyst)["saved"]
    assert members(warehouse, saved, "oneid") == persons and saved["persons"] == len(persons)


WRITER_APP = "chain-identity-writer-app"
WRITER_LAYERS = ("chain_identity_new", "chain_identity_old")  # one the writer makes, one it finds made before


@pytest.fixture(scope="module")
def written_by_the_writer(stack_settings, warehouse):
    """A person whose events only the dwd job's writer wrote, into a layer table it made; and one whose events were
    in a layer table made (as the dwd job did before) without the id-strings view, which the writer then finds."""
    from pipelines.streaming.normalise import normalise
    from pipelines.streaming.writer import DetailWriter

    new, old = WRITER_LAYERS
    warehouse.command(f"CREATE TABLE dwd_{old} AS dwd_default")
    warehouse.insert(f"dwd_{old}", [detail_row(e, layer=old) for e in visits("ci-old-layer", app=WRITER_APP)], DETAIL_COLUMNS)
    writer = DetailWriter(stack_settings)
    events = [normalise(dict(e, received_at=e["ts"]), 60_000) for e in visits("ci-new-layer", app=WRITER_APP)]
    assert writer.write(new, events).written == len(events)
    writer.ensure_table(old)
    writer.close()
    warehouse.command("SYSTEM RELOAD DICTIONARY person_strings_dict")  # as its next update would
    yield {"device_id:ci-new-layer", "device_id:ci-old-layer"}
    for layer in WRITER_LAYERS:
        warehouse.command(f"DROP VIEW IF EXISTS person_strings_of_dwd_{layer}")
        warehouse.command(f"DROP TABLE IF EXISTS dwd_{layer}")


def test_layer_tables_the_writer_makes_or_finds_keep_their_id_strings(analyst, warehouse, written_by_the_writer):
    from pipelines.analysis.chain import per_person_rows
    from pipelines.analysis.registry import MODELS
    from pipelines.analysis.result_persons import members_query
    from pipelines.analysis.runner import Limits, prepare

    kept = warehouse.rows(
        "SELECT DISTINCT id FROM person_strings WHERE hash IN (SELECT cityHash64(arrayJoin({ids:Array(String)})))",
        {"ids": sorted(written_by_the_writer)},
    )
    assert {row[0] for row in kept} == written_by_the_writer
    # The chain's carry names both from the kept strings: its read of their events skips every granule.
    prepared = prepare({**VIEWED, **SCOPE, "app_id": WRITER_APP, "persons": {"step": 2, "status": "dropped"}}, analyst)
    model = MODELS.of(prepared)
    with per_person_rows(warehouse, model, prepared, Limits()) as over:
        query = members_query(prepared, model, over)
        assert_no_event_granule_read(analyst, query)
        assert {row[0] for row in analyst.rows(f"SELECT oneid FROM ({query.sql})", query.parameters)} == written_by_the_writer


def test_the_view_is_made_for_identifiers_only():
    from pipelines.warehouse import person_strings

    assert "\nFROM dwd_web\n" in person_strings.view_ddl("dwd_web")
    for bad in ("dwd_x; DROP TABLE events", "dwd-x", "`dwd_x`", "DWD_X"):
        with pytest.raises(ValueError):
            person_strings.view_ddl(bad)


def test_a_carried_person_is_written_once_while_the_oneid_dictionaries_disagree(analyst, warehouse):
    """Between the reloads of oneid_dict and oneid_hash_dict a merge is known to one only: the events of two devices
    just merged (kept nowhere, so read from their events) name them by the OneID a third device, linked throughout,
    was already named by. The saved cell has that person once (the audience write does not fold duplicates)."""
    app, layer = "chain-identity-dup-app", "dwd_chain_identity_dup"
    publish(warehouse, [["device_id", "cd-linked", "O-cd", "device_id:cd-linked", 0]])
    buyer = [envelope("cd-buyer", "view", T0 + 3_600_000, app=app), envelope("cd-buyer", "cart", T0 + 3_660_000, app=app)]
    warehouse.insert("dwd_default", [detail_row(e) for e in visits("cd-linked", app=app) + buyer], DETAIL_COLUMNS)
    warehouse.command(f"CREATE TABLE {layer} AS dwd_default")
    try:
        merged = [e for device in ("cd-a", "cd-b") for e in visits(device, app=app)]
        warehouse.insert(layer, [detail_row(e, layer="chain_identity_dup") for e in merged], DETAIL_COLUMNS)
        warehouse.command("SYSTEM RELOAD DICTIONARY person_strings_dict")
        rows = [["device_id", device, "O-cd", "device_id:cd-linked", 0] for device in ("cd-a", "cd-b")]
        warehouse.insert("oneid_map", [[*row, "test", "v1", time.time_ns() // 1000, deleted] for *row, deleted in rows], MAP_COLUMNS)
        warehouse.command("SYSTEM RELOAD DICTIONARY oneid_dict")  # oneid_hash_dict not yet
        dropped = {"request": VIEWED, "persons": {"step": 2, "status": "dropped"}}
        saved = run_query({"model": "chain", **SCOPE, "app_id": app, "steps": [dropped, dropped], "save_as": "ci_named_once"}, analyst)["saved"]
        written = warehouse.rows(
            "SELECT oneid FROM cdp_audiences WHERE audience = {a:String} AND version = {v:UInt64}", {"a": saved["audience"], "v": saved["version"]}
        )
        assert written == [("O-cd",)] and saved["persons"] == 1
    finally:
        warehouse.command("SYSTEM RELOAD DICTIONARY oneid_hash_dict")
        warehouse.command(f"DROP TABLE IF EXISTS {layer}")
