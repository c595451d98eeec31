"""HTTP API: auth, validation errors naming the field, timeouts, row limits, cache hit and refresh, OpenAPI."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from pipelines.analysis.api import ApiSettings, create_app

from .conftest import APP

TOKEN = "test-token"
FUNNEL = {
    "model": "funnel", "app_id": APP, "date_from": "2026-11-01", "date_to": "2026-11-15",
    "steps": [{"event": "view"}, {"event": "cart"}],
}  # fmt: skip


@pytest.fixture(scope="module")
def client(stack_settings, analyst, loaded):
    app = create_app(stack_settings, ApiSettings(tokens=TOKEN, max_result_rows=50), warehouse=analyst, record_heat=False)
    with TestClient(app) as http:
        yield http


def post(client, body, token=TOKEN):
    return client.post("/v1/query", json=body, headers={"Authorization": f"Bearer {token}"} if token else {})


def test_auth_required(client):
    assert post(client, FUNNEL, token=None).status_code == 401
    assert post(client, FUNNEL, token="wrong").status_code == 401


def test_validation_errors_name_the_field(client):
    bad_step = {**FUNNEL, "steps": [{"event": "view"}, {"event": "cart", "filters": [{"property": "price", "op": ">", "value": "x"}]}]}
    response = post(client, bad_step)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "steps.1.filters.0"
    response = post(client, {**FUNNEL, "window_seconds": -1})
    assert [e["field"] for e in response.json()["errors"]] == ["window_seconds"]
    response = post(client, {**FUNNEL, "model": "nope"})
    assert response.status_code == 422 and "model" in response.json()["errors"][0]["field"]
    assert post(client, {**FUNNEL, "timezone": "Mars/Base"}).json()["errors"][0]["field"] == "timezone"
    too_long = post(client, {**FUNNEL, "date_from": "2000-01-01"}).json()["errors"][0]
    assert too_long["field"] == "date_to" and "more than 3660 days" in too_long["message"]
    compact = post(client, {**FUNNEL, "date_from": "20261101"}).json()["errors"][0]  # not seconds since 1970
    assert compact["field"] == "date_from" and "YYYY-MM-DD" in compact["message"]
    # checks across fields name the field too
    pages = post(client, {**FUNNEL, "persons": {"step": 1, "status": "dropped"}}).json()["errors"][0]
    assert pages == {"field": "persons.step", "message": "nobody drops off at step 1; use 2 or more"}
    exclusion = {**FUNNEL, "exclusions": [{"event": "x", "from_step": 1, "to_step": 9}]}
    assert post(client, exclusion).json()["errors"][0]["field"] == "exclusions.0"
    gaps = {**FUNNEL, "min_step_gap_seconds": 9, "max_step_gap_seconds": 1}
    assert post(client, gaps).json()["errors"][0]["field"] == "min_step_gap_seconds"
    assert client.post("/v1/query", content=b"{not json", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 400


def test_body_over_the_limit_is_refused_unread(stack_settings, analyst):
    app = create_app(stack_settings, ApiSettings(tokens=TOKEN, max_body_bytes=1000), warehouse=analyst, record_heat=False)
    with TestClient(app) as small:
        within = {**FUNNEL, "filters": [{"property": "channel", "op": "in", "value": ["x" * 10] * 40}]}
        assert post(small, within).status_code == 200
        over = post(small, {**within, "filters": [{"property": "channel", "op": "in", "value": ["x" * 10] * 100}]})
        assert over.status_code == 413 and "1,000 bytes" in over.json()["error"]

        def chunked():  # no Content-Length: the stream is cut off at the limit
            yield b'{"model": "event", "pad": "'
            yield b"x" * 5000
            yield b'"}'

        response = small.post("/v1/query", content=chunked(), headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 413


def test_cache_hit_and_refresh(client):
    first = post(client, FUNNEL).json()
    again = post(client, FUNNEL).json()
    fresh = post(client, {**FUNNEL, "refresh": True}).json()
    assert (first["cached"], again["cached"], fresh["cached"]) == (False, True, False)
    assert first["request_hash"] == again["request_hash"] == fresh["request_hash"]
    assert again["groups"] == first["groups"] == fresh["groups"]
    # Same request spelled differently (defaults explicit) hashes the same: the key is the validated request.
    assert post(client, {**FUNNEL, "order": "ordered"}).json()["cached"] is True


def test_row_limit_and_timeout(client, stack_settings, analyst):
    many_rows = {"model": "event", "app_id": APP, "date_from": "2026-11-01", "date_to": "2026-11-15",
                 "granularity": "hour", "metrics": [{"event": "view"}], "group_by": ["product_id", "channel"]}  # fmt: skip
    response = post(client, many_rows)
    assert response.status_code == 422 and "rows" in response.json()["error"]

    # A real ClickHouse timeout (max_execution_time), reported as 504.
    impatient = create_app(stack_settings, ApiSettings(tokens=TOKEN, query_timeout_s=1e-6), warehouse=analyst, record_heat=False)
    with TestClient(impatient) as http:
        response = post(http, FUNNEL)
    assert response.status_code == 504 and "limit" in response.json()["error"]


def test_openapi_documents_the_models(client):
    document = client.get("/openapi.json").json()
    assert "/v1/query" in document["paths"]
    assert {"FunnelQuery", "RetentionQuery", "EventQuery", "IntervalQuery", "DistributionQuery"} <= set(document["components"]["schemas"])


def test_generated_token_written_for_the_operator(stack_settings, analyst):
    app = create_app(stack_settings, ApiSettings(tokens=""), warehouse=analyst)  # records query heat too
    token = json.loads(open(app.state.token_source).read())["api_tokens"]
    with TestClient(app) as http:
        assert post(http, FUNNEL, token=token).status_code == 200
    # Closing the app flushed the heat recorder: the funnel's SQL is in query_log.
    from pipelines.warehouse.client import Warehouse

    logged = Warehouse(stack_settings).scalar("SELECT count() FROM query_log WHERE position(query, 'per_person AS') > 0")
    assert logged >= 1


def test_tracking_plan_and_health_are_served_behind_the_same_tokens(client):
    assert client.get("/v1/plan/demo-shop/health").status_code == 401
    headers = {"Authorization": f"Bearer {TOKEN}"}
    plan = client.get("/v1/plan/demo-shop", headers=headers)
    assert plan.status_code == 200 and plan.json()["app_id"] == "demo-shop"
    health = client.get("/v1/plan/demo-shop/health?days=7", headers=headers)
    assert health.status_code == 200
    declared = {point["event"] for point in health.json()["points"]}
    assert declared == set(plan.json()["events"])
    assert client.get("/v1/plan/no-such-app", headers=headers).status_code == 404
    assert client.get("/v1/plan/demo-shop/health?days=0", headers=headers).status_code == 400


def test_plan_health_reads_on_the_apis_analyst_handle(client, analyst):
    """The health report only reads: it runs as the analyst on the API's one handle (it used to open a writer
    connection per request and never close it)."""
    seen = []
    analyst.add_listener(seen.append)
    try:
        response = client.get("/v1/plan/demo-shop/health?days=2", headers={"Authorization": f"Bearer {TOKEN}"})
    finally:
        analyst.remove_listener(seen.append)
    assert response.status_code == 200, response.text
    assert seen and {record.user for record in seen} == {analyst.user}
