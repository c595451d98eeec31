"""Combined analysis (pipelines/analysis/chain.py): a chain's numbers equal its models run by hand with the carried
audience as a filter, the persons carried equal a pandas reference, and bad chains are refused naming the step."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError
from starlette.testclient import TestClient

from pipelines.analysis import run_query
from pipelines.analysis.api import ApiSettings, create_app, validation_errors
from pipelines.analysis.chain import SCRATCH_PREFIX, TEMPORARY_PREFIX, sweep_scratch
from pipelines.analysis.contract import ResultTooLarge
from pipelines.analysis.runner import parse_request
from . import reference as ref
from .conftest import APP
from .test_models import bounds

SCOPE = {"app_id": APP, "date_from": "2026-11-01", "date_to": "2026-11-12", "timezone": "Asia/Shanghai"}
BROWSED = {"model": "funnel", "steps": [{"event": "view"}, {"event": "cart"}, {"event": "pay"}]}
SEARCHED = {"model": "funnel", "steps": [{"event": "view"}, {"event": "search"}], "window_seconds": 3 * 86_400}
RETAINED = {"model": "retention", "initial": {"event": "view"}, "returning": {"event": "$any"}, "periods": 7}
CHAIN = {
    "model": "chain",
    **SCOPE,
    "steps": [
        {"request": BROWSED, "persons": {"step": 2, "status": "dropped"}},
        {"request": SEARCHED, "persons": {"step": 2, "status": "converted"}},
        {"request": RETAINED},
    ],
}
MODEL_OWN = ("model", "warnings", "query_ms")  # what run_query adds around a model's response


def own(response: dict) -> dict:
    return {key: value for key, value in response.items() if key not in MODEL_OWN}


def members(warehouse, carried: dict, column: str = "oneid_hash") -> set:
    """The keys (or with column="oneid", the OneIDs) of a carried or saved audience version's members."""
    rows = warehouse.rows(
        f"SELECT {column} FROM cdp_audiences WHERE audience = {{a:String}} AND version = {{v:UInt64}}",
        {"a": carried["audience"], "v": carried["version"]},
    )
    return {row[0] for row in rows}


def keys(warehouse, persons) -> set[int]:
    """The person keys of these OneIDs / touchpoint ids: schema.PERSON_KEY is cityHash64 of the person's id."""
    rows = warehouse.rows("SELECT cityHash64(arrayJoin({p:Array(String)}))", {"p": sorted(persons)})
    return {row[0] for row in rows}


@pytest.fixture(scope="module")
def chained(analyst, loaded):
    return run_query(CHAIN, analyst)


def test_each_step_equals_its_model_run_by_hand_with_the_audience_filter(analyst, chained):
    first, second, third = chained["steps"]
    assert own(run_query({**BROWSED, **SCOPE}, analyst)) == first["result"]  # the first step reads everyone
    for step, before in ((second, first), (third, second)):
        carried = before["carried"]
        assert carried["audience"].startswith(TEMPORARY_PREFIX)
        assert step["request"]["filters"][-1] == {"audience": carried["audience"], "op": "in", "version": carried["version"]}
        assert own(run_query(step["request"], analyst)) == step["result"]
    assert third["carried"] is None and chained["saved"] is None
    assert chained["total_ms"] >= sum(s["query_ms"] + (s["carried"] or {}).get("carry_ms", 0) for s in chained["steps"]) * 0.99


def test_persons_carried_and_final_numbers_against_pandas(warehouse, frame, chained):
    first, second, third = chained["steps"]
    start, end = bounds(SCOPE)
    # Funnel persons are per person, so the funnel over the carried persons is the full funnel's persons among them.
    dropped = {p for p, best in ref.funnel(frame, {**BROWSED, **SCOPE}, start, end)[""].items() if best[0] == 1}
    searched = {p for p, best in ref.funnel(frame[frame.person.isin(dropped)], {**SEARCHED, **SCOPE}, start, end)[""].items() if best[0] >= 2}
    assert 0 < len(searched) < len(dropped)
    # A temporary audience keeps its persons' keys, which the next step's audience filter matches on.
    assert members(warehouse, first["carried"]) == keys(warehouse, dropped) and first["carried"]["persons"] == len(dropped)
    assert members(warehouse, second["carried"]) == keys(warehouse, searched) and second["carried"]["persons"] == len(searched)
    assert members(warehouse, first["carried"], "oneid") == {""}
    assert second["result"]["groups"][0]["steps"][0]["persons"] == len(dropped & set(frame[frame.event == "view"].person))
    expected = ref.retention(frame[frame.person.isin(searched)], {**RETAINED, **SCOPE}, start, end)
    got = {c["cohort"]: (c["persons"], c["returned"]) for c in third["result"]["cohorts"]}
    assert got == {str(cohort): cell for cohort, cell in expected.items()} and got


def test_a_rerun_is_a_new_version_of_the_same_temporary_audiences(analyst, chained):
    again = run_query(CHAIN, analyst)
    for old, new in zip(chained["steps"][:2], again["steps"][:2]):
        assert new["carried"]["audience"] == old["carried"]["audience"]
        assert new["carried"]["version"] > old["carried"]["version"]
        assert new["carried"]["persons"] == old["carried"]["persons"]
    assert [s["result"] for s in again["steps"]] == [s["result"] for s in chained["steps"]]


def test_save_as_writes_the_last_cell_as_a_chain_audience(analyst, warehouse, chained):
    chain = {**CHAIN, "steps": CHAIN["steps"][:2], "save_as": "chain_test_searchers"}
    with pytest.raises(ValidationError):
        parse_request(chain)  # chain_ names are the temporary ones
    got = run_query({**chain, "save_as": "browsed_then_searched"}, analyst)
    saved = got["saved"]
    assert saved == got["steps"][-1]["carried"] and saved["audience"] == "browsed_then_searched"
    kind, size = warehouse.rows(
        "SELECT kind, size FROM cdp_audience_versions WHERE audience = {a:String} AND version = {v:UInt64}",
        {"a": "browsed_then_searched", "v": saved["version"]},
    )[0]
    assert (kind, size) == ("chain", saved["persons"]) and size > 0
    # A saved audience names its persons (OneIDs for exports and rules): the persons the temporary one carried.
    named = members(warehouse, saved, "oneid")
    assert "" not in named and keys(warehouse, named) == members(warehouse, saved) == members(warehouse, chained["steps"][1]["carried"])


def test_a_new_range_overrides_every_step(analyst, loaded):
    narrow = {**CHAIN, "date_from": "2026-11-03", "date_to": "2026-11-05", "steps": CHAIN["steps"][:2]}
    parsed = parse_request(narrow)
    assert {str(step.request.date_from) for step in parsed.steps} == {"2026-11-03"}
    got = run_query(narrow, analyst)
    assert got["steps"][0]["result"] == own(run_query({**BROWSED, **SCOPE, "date_from": "2026-11-03", "date_to": "2026-11-05"}, analyst))


BAD = {
    "a cell the model does not have": (
        {0: {"persons": {"step": 4, "status": "dropped"}}}, "steps.0.persons.step", "the funnel has 3 steps"),
    "a selector field the model does not take": ({1: {"persons": {"step": 2, "cohort": "2026-11-02"}}}, "steps.1.persons.cohort", "Extra inputs"),
    "paging in a chain": ({0: {"persons": {"step": 2, "limit": 10}}}, "steps.0.persons.limit", "no paging"),
    "a model without persons": (
        {0: {"request": {"model": "event", "metrics": [{"event": "view"}]}, "persons": {"step": 1}}}, "steps.0.persons", "lists no persons"),
    "no cell before the last step": ({1: {"persons": None}}, "steps.1.persons", "choose a cell"),
    "a step's own error": (
        {1: {"request": {**SEARCHED, "steps": [{"event": "view"}, {"event": "bad name"}]}}}, "steps.1.request.steps.1.event", "pattern"),
    "a step's cross-field check": (
        {0: {"request": {**BROWSED, "exclusions": [{"event": "x", "from_step": 3, "to_step": 2}]}}}, "steps.0.request.exclusions.0", "from_step"),
    "an unknown model": ({2: {"request": {"model": "chain"}}}, "steps.2.request.model", "does not match"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(BAD))
def test_bad_chains_name_the_step_and_field(name):
    changes, field, message = BAD[name]
    steps = [{**step, **changes.get(index, {})} for index, step in enumerate(CHAIN["steps"])]
    with pytest.raises(ValidationError) as caught:
        parse_request({**CHAIN, "steps": [{k: v for k, v in s.items() if v is not None} for s in steps]})
    errors = validation_errors(caught.value)
    assert any(e["field"] == field and message in e["message"] for e in errors), errors


def test_chain_length_is_limited_and_the_api_answers_422(stack_settings, analyst):
    app = create_app(stack_settings, ApiSettings(tokens="t"), warehouse=analyst, record_heat=False)
    with TestClient(app) as http:
        too_long = {**CHAIN, "steps": [CHAIN["steps"][0]] * 6}
        answer = http.post("/v1/query", json=too_long, headers={"Authorization": "Bearer t"})
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["field"] == "steps" and "at most 5" in answer.json()["errors"][0]["message"]
        answer = http.post("/v1/query", json={**CHAIN, "steps": [CHAIN["steps"][0], {"request": {"model": "x"}}]}, headers={"Authorization": "Bearer t"})
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "steps.1.request.model"


def scratch_tables(warehouse) -> int:
    return warehouse.scalar("SELECT count() FROM system.tables WHERE database = currentDatabase() AND name LIKE 'chain_rows_%'")


def test_a_carried_paths_edge_equals_its_models_by_hand_and_the_scratch_rows_are_gone(analyst, warehouse, loaded):
    """Funnel -> paths -> retention, as the bench's chain: both carried steps read their materialised per-person rows."""
    paths = {"model": "paths", "start": {"event": "view"}, "steps": 3}
    dropped = {"request": BROWSED, "persons": {"step": 2, "status": "dropped"}}
    two = run_query({"model": "chain", **SCOPE, "steps": [dropped, {"request": paths}]}, analyst)
    top = max((e for e in two["steps"][1]["result"]["edges"] if e["step"] == 1 and not e["other"]), key=lambda e: e["persons"])
    edge = {"step": 1, "source": top["source"], "target": top["target"]}
    got = run_query({"model": "chain", **SCOPE, "steps": [dropped, {"request": paths, "persons": edge}, {"request": RETAINED}]}, analyst)
    first, second, third = got["steps"]
    assert second["result"] == two["steps"][1]["result"]
    by_hand = own(run_query({**paths, **SCOPE, "filters": [second["request"]["filters"][-1]]}, analyst))
    assert by_hand == second["result"] and own(run_query(third["request"], analyst)) == third["result"]
    listed = run_query({**second["request"], "persons": {**edge, "limit": 10_000}}, analyst)
    assert members(warehouse, second["carried"]) == keys(warehouse, listed["persons"]["persons"]) and second["carried"]["persons"] > 0
    assert scratch_tables(warehouse) == 0


def test_an_empty_carried_cell_carries_nobody_and_the_next_step_counts_nobody(analyst, warehouse, loaded):
    nobody = {**BROWSED, "filters": [{"property": "price", "op": "=", "value": 12345}]}  # no event has this price
    chain = {**CHAIN, "steps": [{"request": nobody, "persons": {"step": 1, "status": "converted"}}, {"request": RETAINED}]}
    first, second = run_query(chain, analyst)["steps"]
    assert first["carried"]["persons"] == 0 and members(warehouse, first["carried"]) == set()
    assert second["result"]["cohorts"] == [] or all(c["persons"] == 0 for c in second["result"]["cohorts"])
    assert own(run_query(second["request"], analyst)) == second["result"]
    assert scratch_tables(warehouse) == 0


def test_the_scratch_rows_are_dropped_when_the_carry_fails(stack_settings, warehouse, loaded):
    from pipelines.warehouse.client import Warehouse

    # A carry over the audience size limit fails after the step's rows were materialised.
    small = Warehouse(stack_settings.model_copy(update={"cdp_max_audience_persons": 1}), role="analyst")
    try:
        with pytest.raises(ResultTooLarge, match="steps.0.persons: audience 'chain_"):
            run_query(CHAIN, small)
    finally:
        small.close()
    assert scratch_tables(warehouse) == 0


def test_scratch_tables_a_died_process_left_are_swept_once_older_than_any_step(warehouse):
    now = int(time.time())
    left = [f"{SCRATCH_PREFIX}{now - 2 * 86_400}_{n}" for n in range(2)]  # as a process killed between CREATE and DROP
    running = f"{SCRATCH_PREFIX}{now - 60}_0"  # another chain's step, a minute old
    for name in (*left, running):
        warehouse.command(f"CREATE TABLE {name} ENGINE = Memory AS SELECT 1 AS person_key")
    try:
        assert sorted(sweep_scratch(warehouse)) == left and scratch_tables(warehouse) == 1
        assert sweep_scratch(warehouse, older_than_s=30) == [running] and scratch_tables(warehouse) == 0
    finally:
        for name in (*left, running):
            warehouse.command(f"DROP TABLE IF EXISTS {name}")


def test_a_carried_cell_of_a_model_without_per_person_rows_is_its_listings_persons(analyst, warehouse, loaded):
    """Retention keeps no per-person rows for the chain: its carried keys come from the listing's own cell query,
    keys only (no OneID read), and are the persons its listing names."""
    cell = {"cohort": SCOPE["date_from"], "period": 1}
    first, second = run_query({"model": "chain", **SCOPE, "steps": [{"request": RETAINED, "persons": cell}, {"request": BROWSED}]}, analyst)["steps"]
    listed = run_query({**RETAINED, **SCOPE, "persons": {**cell, "limit": 10_000}}, analyst)["persons"]["persons"]
    assert 0 < len(listed) < 10_000 and first["carried"]["persons"] == len(listed)
    assert members(warehouse, first["carried"]) == keys(warehouse, listed) and members(warehouse, first["carried"], "oneid") == {""}
    assert own(run_query(second["request"], analyst)) == second["result"]
