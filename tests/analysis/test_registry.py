"""The model contract: a model registered in the registry alone is validated, run, reported on and documented by
the API (POST /v1/query, GET /v1/models, /openapi.json) with no other edit; the registry refuses models that break
the contract."""

from __future__ import annotations

from typing import Literal

import pytest
from starlette.testclient import TestClient

from pipelines.analysis.api import ApiSettings, create_app
from pipelines.analysis.contract import AnalysisModel, Registry
from pipelines.analysis.expr import all_of
from pipelines.analysis.filters import scope_conditions
from pipelines.analysis.registry import MODELS
from pipelines.analysis.request import Name, QueryScope
from pipelines.analysis.schema import TABLE
from pipelines.analysis.shaping import Rows, table
from pipelines.analysis.sqlparams import BuiltQuery, SqlParams

from .conftest import APP, T0

TOKEN = "test-token"
SCOPE = {"app_id": APP, "date_from": "2026-11-01", "date_to": "2026-11-15"}
RANGE_END_MS = 1_794_787_200_000  # 2026-11-16 00:00 UTC: date_to is inclusive


class CountQuery(QueryScope):
    """A toy model: how many times one event happened in the range."""

    model: Literal["count"] = "count"
    event: Name


def build(request: CountQuery) -> dict[str, BuiltQuery]:
    params = SqlParams()
    where = all_of(scope_conditions(request, params, [request.event]))
    return {"count": params.query(f"SELECT count() AS events FROM {TABLE} WHERE {where}")}


def shape(request: CountQuery, results: dict[str, Rows]) -> dict:
    events = int(results["count"].rows[0][0])
    return {"events": events, **table(["events"], [[events]])}


TOY = AnalysisModel(request_type=CountQuery, build=build, shape=shape, summary="How many times an event happened")


@pytest.fixture
def client(stack_settings, analyst, loaded):
    MODELS.register(TOY)
    try:
        app = create_app(stack_settings, ApiSettings(tokens=TOKEN), warehouse=analyst, record_heat=False)
        with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            yield http
    finally:
        MODELS.unregister("count")


def test_a_registered_model_is_served_documented_and_validated(client, frame):
    response = client.post("/v1/query", json={"model": "count", **SCOPE, "event": "view"})
    assert response.status_code == 200, response.text
    expected = int(((frame.event == "view") & (frame.t >= T0) & (frame.t < RANGE_END_MS)).sum())
    assert response.json()["events"] == expected > 0
    assert response.json()["columns"] == ["events"] and response.json()["cached"] is False

    # its validation errors name its fields (the union's branch name is not reported as one)
    bad = client.post("/v1/query", json={"model": "count", **SCOPE, "event": "no spaces"})
    assert bad.status_code == 422 and [e["field"] for e in bad.json()["errors"]] == ["event"]

    document = client.get("/openapi.json").json()
    union = document["components"]["schemas"]["AnalysisRequest"]
    assert union["discriminator"]["mapping"]["count"] == "#/components/schemas/CountQuery"
    assert document["components"]["schemas"]["CountQuery"]["description"] == TOY.summary
    assert "`count`: How many times an event happened" in document["paths"]["/v1/query"]["post"]["description"]

    catalogue = {entry["model"]: entry for entry in client.get("/v1/models").json()["models"]}
    assert list(catalogue) == [*MODELS.names()]
    assert catalogue["count"]["summary"] == TOY.summary and not catalogue["count"]["lists_persons"]
    assert catalogue["count"]["request_schema"]["properties"]["event"]["pattern"]
    assert catalogue["funnel"]["lists_persons"]


def test_an_unregistered_model_is_an_unknown_model(stack_settings, analyst):
    app = create_app(stack_settings, ApiSettings(tokens=TOKEN), warehouse=analyst, record_heat=False)
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        response = http.post("/v1/query", json={"model": "count", **SCOPE, "event": "view"})
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "model"
        assert "CountQuery" not in http.get("/openapi.json").json()["components"]["schemas"]
        assert http.get("/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401


class Untagged(QueryScope):
    event: Name


class NoPersonsPage(CountQuery):
    model: Literal["listing"] = "listing"


def test_the_registry_refuses_models_that_break_the_contract():
    registry = Registry([TOY])
    with pytest.raises(ValueError, match="registered already"):
        registry.register(TOY)
    with pytest.raises(TypeError, match="model"):
        registry.register(AnalysisModel(request_type=Untagged, build=build, shape=shape, summary="no tag"))
    listing = AnalysisModel(request_type=NoPersonsPage, build=build, shape=shape, summary="x", persons=lambda request: None)
    with pytest.raises(TypeError, match="persons"):
        registry.register(listing)
    assert registry.names() == ["count"]
