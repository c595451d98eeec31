""""Any event" and unknown names: `{"event": "$any"}` matches every event wherever a model takes an event (checked
against the pandas references), and an event or property name that is neither in the tracking plan nor seen in
the warehouse comes back as a warning naming it and its fields, for every registered model, through run_query,
the API (200) and the CLI (printed)."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from pipelines.analysis import run_query
from pipelines.analysis.api import ApiSettings, create_app
from pipelines.analysis.registry import MODELS
from pipelines.cli import app as cli_app
from pipelines.plan.model import parse_plan
from pipelines.plan.store import apply_plan

from . import reference as ref
from .conftest import APP
from .test_models import bounds

SCOPE = {"app_id": APP, "date_from": "2026-11-01", "date_to": "2026-11-15"}
TOKEN = "any-event-token"


@pytest.fixture(scope="module")
def planned(warehouse, loaded):
    """A plan for the reference app that declares an event and a property no event has."""
    plan = parse_plan(
        {"app_id": APP, "version": 1, "events": {"view": {}, "planned_only": {"properties": {"planned_prop": {"type": "string"}}}}}
    )
    apply_plan(warehouse, plan)
    return plan


# One request per model with `name` in an event field; the paths request uses it as its start.
def requests_naming(event: str, prop: str = "price") -> dict[str, dict]:
    selector = {"event": event, "filters": [{"property": prop, "op": "is_set"}]}
    return {
        "event": {"model": "event", **SCOPE, "metrics": [selector]},
        "funnel": {"model": "funnel", **SCOPE, "steps": [{"event": "view"}, selector]},
        "retention": {"model": "retention", **SCOPE, "initial": {"event": "view"}, "returning": selector},
        "interval": {"model": "interval", **SCOPE, "start": {"event": "view"}, "end": selector},
        "distribution": {"model": "distribution", **SCOPE, "event": selector},
        "paths": {"model": "paths", **SCOPE, "start": selector},
        "lifecycle": {"model": "lifecycle", **SCOPE, "event": selector},
        "stickiness": {"model": "stickiness", **SCOPE, "event": selector},
        "page": {"model": "page", **SCOPE, "page_view": selector},
        "terminal": {"model": "terminal", **SCOPE, "dimensions": ["platform"], "events": [selector]},
    }


FIELDS = {
    "event": "metrics.0", "funnel": "steps.1", "retention": "returning", "interval": "end", "distribution": "event",
    "paths": "start", "lifecycle": "event", "stickiness": "event", "page": "page_view", "terminal": "events.0",
}  # fmt: skip


def registered(name: str) -> bool:
    return name in MODELS.names()


@pytest.mark.parametrize("model", FIELDS)
def test_unknown_event_and_property_are_warned_for_every_model(analyst, planned, model):
    if not registered(model):
        pytest.skip(f"model {model} is not registered")
    request = requests_naming("purchse", "prce")[model]
    got = run_query(request, analyst)
    warnings = {(w["kind"], w["name"]): w for w in got["warnings"]}
    assert set(warnings) == {("unknown_event", "purchse"), ("unknown_property", "prce")}, got["warnings"]
    assert warnings["unknown_event", "purchse"]["fields"] == [f"{FIELDS[model]}.event"]
    assert warnings["unknown_property", "prce"]["fields"] == [f"{FIELDS[model]}.filters.0.property"]
    assert "purchse" in warnings["unknown_event", "purchse"]["message"] and APP in warnings["unknown_event", "purchse"]["message"]


@pytest.mark.parametrize("model", FIELDS)
def test_names_in_the_plan_or_the_data_are_not_warned(analyst, planned, model):
    if not registered(model):
        pytest.skip(f"model {model} is not registered")
    for event, prop in [("view", "price"), ("planned_only", "planned_prop"), ("$any", "platform"), ("view", "product_id")]:
        assert run_query(requests_naming(event, prop)[model], analyst)["warnings"] == [], (event, prop)


def test_property_names_in_every_field_kind_are_checked(analyst, planned):
    request = {
        "model": "event", **SCOPE, "group_by": ["platform", "colour"], "filters": [{"property": "size", "op": "is_set"}],
        "metrics": [{"event": "view", "math": "sum", "property": "weight"}, {"event": "view", "math": "sum", "property": "weight"}],
    }  # fmt: skip
    got = run_query(request, analyst)
    assert [(w["name"], w["fields"]) for w in got["warnings"]] == [
        ("size", ["filters.0.property"]), ("weight", ["metrics.0.property", "metrics.1.property"]), ("colour", ["group_by.1"]),
    ]  # fmt: skip


def test_any_event_counts_every_event(analyst, loaded, frame):
    request = {"model": "event", **SCOPE, "metrics": [{"event": "$any"}, {"event": "$any", "math": "unique_persons"}], "granularity": "month"}
    got = run_query(request, analyst)
    start, end = bounds(request)
    rows = ref.in_range(frame, start, end)
    assert [s["values"] for s in got["series"]] == [[len(rows), rows.person.nunique()]]
    assert got["warnings"] == []


@pytest.mark.parametrize("mode", ["recurring", "first_time"])
def test_any_event_as_the_return_event(analyst, loaded, frame, mode):
    request = {"model": "retention", **SCOPE, "initial": {"event": "pay"}, "returning": {"event": "$any"}, "mode": mode, "periods": 4}
    got = run_query(request, analyst)
    start, end = bounds(request)
    expected = ref.retention(frame, request, start, end)
    assert {c["cohort"]: (c["persons"], c["returned"]) for c in got["cohorts"]} == {d.isoformat(): v for d, v in expected.items()}


def test_any_event_in_a_funnel_step(analyst, loaded, frame):
    request = {"model": "funnel", **SCOPE, "steps": [{"event": "pay"}, {"event": "$any"}]}
    start, end = bounds(request)
    best = ref.funnel(frame, request, start, end)[""]
    got = run_query(request, analyst)
    assert [s["persons"] for s in got["groups"][0]["steps"]] == [len(best), sum(1 for b in best.values() if b[0] == 2)]


def test_api_answers_200_with_the_warning(stack_settings, analyst, planned):
    app = create_app(stack_settings, ApiSettings(tokens=TOKEN), warehouse=analyst, record_heat=False)
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        response = http.post("/v1/query", json=requests_naming("purchse")["distribution"])
    assert response.status_code == 200
    body = response.json()
    assert body["persons"] == 0 and [w["name"] for w in body["warnings"]] == ["purchse"]


def test_cli_prints_the_warning(stack, planned):
    result = CliRunner().invoke(cli_app, ["query", "--spec", "-", "--format", "csv"], input=json.dumps(requests_naming("purchse")["distribution"]))
    assert result.exit_code == 0, result.output
    assert "warning: event 'purchse' is neither in the tracking plan" in result.stderr and "(event.event)" in result.stderr


def test_known_names_are_not_asked_again_unknown_ones_are(analyst, planned):
    from pipelines.analysis.names import unknown_name_warnings
    from pipelines.analysis.runner import parse_request

    asked = []

    def run(query):
        asked.append(query.sql)
        return analyst.query(query.sql, query.parameters).result_rows

    source = ("test", "known-names")
    known = parse_request(requests_naming("view", "price")["event"])
    unknown = parse_request(requests_naming("purchse", "price")["event"])
    assert unknown_name_warnings(known, run, source) == [] and len(asked) == 2  # the plan, then the lookups
    assert unknown_name_warnings(known, run, source) == [] and len(asked) == 2  # both names known now: no query
    assert [w["name"] for w in unknown_name_warnings(unknown, run, source)] == ["purchse"] and len(asked) == 4
    assert [w["name"] for w in unknown_name_warnings(unknown, run, source)] == ["purchse"] and len(asked) == 6
