"""A result cell's persons as an audience (pipelines/analysis/result_persons.py): the members query of every model
that lists persons (the listing's own cell query over the whole cell, ids only) yields exactly the persons the
listing pages through, with the OneID's hash; a saved cell equals its listing, and one over the limit is refused
naming its size with nothing of it left and the previous version current."""

from __future__ import annotations

import re
import uuid

import pytest

from pipelines.analysis import run_query
from pipelines.analysis.persons import MAX_PAGE, Page, whole_cell
from pipelines.analysis.registry import MODELS
from pipelines.analysis.result_persons import members_query, save_result_persons
from pipelines.analysis.runner import parse_request, prepare
from pipelines.cdp import store
from .conftest import APP

SCOPE = {"app_id": APP, "date_from": "2026-11-01", "date_to": "2026-11-12"}
FUNNEL = {"model": "funnel", **SCOPE, "steps": [{"event": "view"}, {"event": "cart"}, {"event": "pay"}]}
# One cell per model that lists persons (the page model is walked in test_pages_terminals.py on its own pages).
CELLS = {
    "funnel_dropped": {**FUNNEL, "persons": {"step": 2, "status": "dropped"}},
    "funnel_converted": {**FUNNEL, "persons": {"step": 3, "status": "converted"}},
    "funnel_breakdown": {**FUNNEL, "breakdown": "platform", "persons": {"step": 1, "status": "converted", "breakdown_value": "web"}},
    "retention_cohort": {"model": "retention", **SCOPE, "initial": {"event": "view"}, "returning": {"event": "$any"}, "persons": {"cohort": "2026-11-03", "period": 0}},
    "retention_returned": {"model": "retention", **SCOPE, "initial": {"event": "view"}, "returning": {"event": "$any"}, "persons": {"cohort": "2026-11-03", "period": 1}},
    "interval_unmatched": {"model": "interval", **SCOPE, "start": {"event": "view"}, "end": {"event": "pay"}, "persons": {"unmatched": True}},
    "distribution_bucket": {"model": "distribution", **SCOPE, "event": {"event": "view"}, "persons": {"bucket": 0}},
    "paths_first_edge": {"model": "paths", **SCOPE, "start": {"event": "view"}, "steps": 3, "persons": {"step": 0, "target": "view"}},
    "paths_other": {"model": "paths", **SCOPE, "start": {"event": "view"}, "steps": 3, "edges_per_step": 1, "persons": {"step": 1, "other": True}},
    "lifecycle_dormant": {"model": "lifecycle", **SCOPE, "event": {"event": "$any"}, "period": "week", "persons": {"period": "2026-11-09", "status": "dormant"}},
    "stickiness": {"model": "stickiness", **SCOPE, "event": {"event": "view"}, "persons": {"period": "2026-11-02", "days": 1}},
    "terminal": {"model": "terminal", **SCOPE, "dimensions": ["platform"], "persons": {"values": ["web"]}},
}  # fmt: skip


def listing(analyst, request: dict) -> list[str]:
    """Every person of the cell as the persons listing pages through it."""
    persons, offset = [], 0
    while True:
        page = run_query({**request, "persons": {**request["persons"], "limit": MAX_PAGE, "offset": offset}}, analyst)["persons"]["persons"]
        persons += page
        if len(page) < MAX_PAGE:
            return persons
        offset += MAX_PAGE


def test_every_model_with_persons_has_a_cell_here():
    assert {request["model"] for request in CELLS.values()} | {"page"} == {m.name for m in MODELS if m.persons is not None}


@pytest.mark.parametrize("name", list(CELLS))
def test_members_query_yields_exactly_the_listed_persons(analyst, loaded, name):
    request = CELLS[name]
    listed = listing(analyst, request)
    assert listed, f"{name}: the cell should have persons for the comparison to mean something"
    prepared = prepare(request, analyst)
    query = members_query(prepared, MODELS.of(prepared))
    members = analyst.rows(f"SELECT oneid, oneid_hash = cityHash64(oneid) FROM ({query.sql})", query.parameters)
    assert sorted(oneid for oneid, _ in members) == sorted(listed)  # no duplicates, nobody missing or extra
    assert all(hashed for _, hashed in members)


def test_a_whole_cell_is_neither_ordered_nor_paged_nor_read_for_latest_properties():
    request = parse_request(CELLS["funnel_dropped"])
    whole = request.model_copy(update={"persons": whole_cell(request.persons)})
    listed, members = MODELS.of(request).persons(request).sql, MODELS.of(request).persons(whole).sql
    assert "ORDER BY" in listed and "LIMIT" in listed and "argMax(tuple(" in listed
    assert "ORDER BY" not in members and "LIMIT" not in members and "argMax" not in members
    assert not Page(limit=5)._whole_cell  # a request's page is never a whole cell


def test_saved_cell_equals_the_listing_and_too_large_is_refused_with_nothing_left(analyst, warehouse, loaded):
    audience = f"rp_{uuid.uuid4().hex[:8]}"
    request = CELLS["lifecycle_dormant"]  # read over the history, not only the range
    prepared = prepare(request, analyst)
    model = MODELS.of(prepared)
    version, size = save_result_persons(warehouse, analyst, prepared, model, audience, "saved", "test", 10_000)
    stored = warehouse.rows("SELECT oneid FROM cdp_audiences WHERE audience = {a:String} AND version = {v:UInt64}", {"a": audience, "v": version})
    assert sorted(row[0] for row in stored) == sorted(listing(analyst, request)) and size == len(stored) > 2

    with pytest.raises(store.AudienceTooLarge, match=f"has {size:,} persons, more than the maximum of 1 "):
        save_result_persons(warehouse, analyst, prepared, model, audience, "saved", "test", 1)
    assert store.current_version(analyst, audience) == version
    rows = warehouse.scalar("SELECT count() FROM cdp_audiences WHERE audience = {a:String}", {"a": audience})
    assert rows == size  # the refused version's members are gone


# Cells whose model can materialise its per-person rows (a chain carrying the step reads them instead of the model's
# per-person pass and an event scan for the OneIDs), with the funnel's walks and options that carry the ids along.
PER_PERSON_CELLS = {
    **{name: CELLS[name] for name in CELLS if MODELS.of(parse_request(CELLS[name])).per_person is not None},
    "funnel_any_order_exclusion": {
        **FUNNEL, "order": "any", "exclusions": [{"event": "search", "from_step": 1, "to_step": 2}], "persons": {"step": 2, "status": "dropped"},
    },
    "funnel_strict_breakdown": {**FUNNEL, "order": "strict", "breakdown": "platform", "persons": {"step": 2, "status": "converted"}},
    "funnel_fold_hold": {
        **FUNNEL, "hold_constant": "product_id", "min_step_gap_seconds": 60, "persons": {"step": 2, "status": "converted"},
    },
    "funnel_chains_hold_breakdown": {**FUNNEL, "hold_constant": "product_id", "breakdown": "platform", "persons": {"step": 2, "status": "converted"}},
    "paths_end_url_cleaned": {
        "model": "paths", **SCOPE, "end": {"event": "pay"}, "steps": 3, "cleaning": [{"pattern": "[0-9]", "replacement": "#"}],
        "persons": {"step": 2, "source": "cart", "target": "pay"},
    },
}  # fmt: skip


def assert_no_event_granule_read(analyst, query) -> None:
    """The plan of `query` reads detail tables, and no granule of any."""
    plan = "\n".join(row[0] for row in analyst.rows(f"EXPLAIN indexes = 1 {query.sql}", query.parameters))
    scans = re.findall(r"ReadFromMergeTree \(\S+\.dwd_\w+\)\n[\s│]+Read type: \w+\n[\s│]+Parts: \d+ \| Granules: (\d+)", plan)
    assert scans and set(scans) == {"0"}, plan


def test_every_model_that_materialises_its_rows_has_cells_here():
    assert {r["model"] for r in PER_PERSON_CELLS.values()} == {m.name for m in MODELS if m.per_person is not None} == {"funnel", "paths"}


@pytest.mark.parametrize("name", list(PER_PERSON_CELLS))
def test_materialised_per_person_rows_give_the_same_result_listing_and_members(analyst, warehouse, loaded, name):
    from pipelines.analysis.chain import per_person_rows
    from pipelines.analysis.runner import Limits, run_model

    prepared = prepare(PER_PERSON_CELLS[name], analyst)
    model = MODELS.of(prepared)
    alone = run_model(prepared, analyst)
    query = members_query(prepared, model)
    members = sorted(analyst.rows(f"SELECT oneid, oneid_hash FROM ({query.sql})", query.parameters))
    warehouse.command("SYSTEM RELOAD DICTIONARY person_strings_dict")  # the ids just written: no lookup falls back
    with per_person_rows(warehouse, model, prepared, Limits()) as over:
        assert over is not None, f"{name}: expected the materialised path"
        assert run_model(prepared, analyst, over=over) == alone  # the result and the listed page read from the rows
        query = members_query(prepared, model, over)
        # Every person is named from the rows and the warehouse's id strings: the event scan for the others reads
        # no granule of any detail table.
        assert_no_event_granule_read(analyst, query)
        assert sorted(analyst.rows(f"SELECT oneid, oneid_hash FROM ({query.sql})", query.parameters)) == members
    assert members and alone.get("persons", {}).get("persons")
    tables = warehouse.scalar("SELECT count() FROM system.tables WHERE database = currentDatabase() AND name LIKE 'chain_rows_%'")
    assert tables == 0  # dropped after the block
