"""Saved reports and dashboards over the API on the real metadata store: CRUD, ownership, admin sharing, stale
versions, hostile input; the apps and catalog; the OpenAPI document; the built app's static serving."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from starlette.testclient import TestClient

from pipelines.push.connection import connect
from pipelines.workbench import users

REQUEST = {"model": "funnel", "app_id": "wb-shop", "date_from": "2026-11-01", "date_to": "2026-11-30",
           "steps": [{"event": "page_view"}, {"event": "add_to_cart"}, {"event": "pay"}]}  # fmt: skip


@pytest.fixture(scope="module")
def bob(workbench_stack):
    """A second analyst."""
    with connect(workbench_stack.settings, workbench_stack.settings.meta_database) as connection:
        users.add_user(connection, "bob", "analyst", "bob-password-1")
        return users.new_token(connection, "bob")


def create_report(stack, token, name="funnel of the shop", request=REQUEST):
    answer = stack.api("POST", "/v1/reports", {"name": name, "request": request}, token=token)
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_report_lifecycle(workbench_stack):
    stack, token = workbench_stack, workbench_stack.analyst_token
    report = create_report(stack, token)
    assert report["model"] == "funnel" and report["owner"] == "ana" and report["version"] == 1 and not report["shared"]
    assert report["request"] == REQUEST and set(report) == {"id", "name", "model", "request", "owner", "shared", "version", "created_at", "updated_at"}
    assert stack.api("GET", f"/v1/reports/{report['id']}", token=token).json() == report
    assert report["id"] in [r["id"] for r in stack.api("GET", "/v1/reports", token=token).json()["reports"]]

    changed = stack.api("PUT", f"/v1/reports/{report['id']}", {"name": "renamed", "request": {**REQUEST, "model": "funnel"}, "version": 1}, token=token)
    assert changed.status_code == 200 and changed.json()["version"] == 2 and changed.json()["name"] == "renamed"
    stale = stack.api("PUT", f"/v1/reports/{report['id']}", {"name": "lost update", "request": REQUEST, "version": 1}, token=token)
    assert stale.status_code == 409 and "version 2" in stale.json()["error"]
    assert stack.api("GET", f"/v1/reports/{report['id']}", token=token).json()["name"] == "renamed"

    assert stack.api("DELETE", f"/v1/reports/{report['id']}", token=token).status_code == 204
    assert stack.api("GET", f"/v1/reports/{report['id']}", token=token).status_code == 404
    assert stack.api("DELETE", f"/v1/reports/{report['id']}", token=token).status_code == 404


def test_report_request_is_validated_as_a_query_with_prefixed_fields(workbench_stack):
    bad = {**REQUEST, "date_from": "yesterday", "steps": [{"event": "page_view"}]}
    answer = workbench_stack.api("POST", "/v1/reports", {"name": "x", "request": bad}, token=workbench_stack.analyst_token)
    assert answer.status_code == 422
    fields = {error["field"] for error in answer.json()["errors"]}
    assert any(f.startswith("request.date_from") for f in fields) and all(f.startswith("request.") for f in fields), fields
    unknown_model = workbench_stack.api("POST", "/v1/reports", {"name": "x", "request": {"model": "nope"}}, token=workbench_stack.analyst_token)
    assert unknown_model.json()["errors"][0]["field"] == "request.model"


def test_others_cannot_change_and_shared_is_read_only(workbench_stack, bob):
    stack = workbench_stack
    report = create_report(stack, stack.analyst_token)
    path = f"/v1/reports/{report['id']}"
    change = {"name": "bob was here", "request": REQUEST, "version": 1}
    assert stack.api("GET", path, token=bob).status_code == 404  # not shared: not there for bob
    assert stack.api("PUT", path, change, token=bob).status_code == 404
    assert stack.api("PUT", f"{path}/share", {"shared": True}, token=stack.analyst_token).json() == {"error": "admin role required"}

    shared = stack.api("PUT", f"{path}/share", {"shared": True}, token=stack.admin_token)
    assert shared.status_code == 200 and shared.json()["shared"] is True
    assert stack.api("GET", path, token=bob).json()["name"] == report["name"]
    assert report["id"] in [r["id"] for r in stack.api("GET", "/v1/reports", token=bob).json()["reports"]]
    refused = stack.api("PUT", path, change, token=bob)
    assert refused.status_code == 403 and "owner" in refused.json()["error"]
    assert stack.api("DELETE", path, token=bob).status_code == 403
    assert stack.api("PUT", path, change, token=stack.admin_token).status_code == 403  # admins share, not edit
    assert stack.api("GET", path, token=stack.analyst_token).json()["name"] == report["name"]


def test_a_configured_token_reads_but_cannot_own(workbench_stack):
    answer = workbench_stack.api("POST", "/v1/reports", {"name": "x", "request": REQUEST}, token=workbench_stack.service_token)
    assert answer.status_code == 403 and "user account" in answer.json()["error"]
    assert workbench_stack.api("GET", "/v1/reports", token=workbench_stack.service_token).status_code == 200


def test_dashboard_lifecycle_and_permissions(workbench_stack, bob):
    stack, token = workbench_stack, workbench_stack.analyst_token
    report = create_report(stack, token, "for the dashboard")
    created = stack.api("POST", "/v1/dashboards", {"name": "Shop"}, token=token)
    assert created.status_code == 201
    board = created.json()
    assert board["time_range"] == {"preset": "last_30_days"} and board["items"] == [] and board["version"] == 1
    path = f"/v1/dashboards/{board['id']}"

    layout = {"name": "Shop KPIs", "time_range": {"from": "2026-11-01", "to": "2026-11-30", "timezone": "Asia/Shanghai"},
              "items": [{"report_id": report["id"], "x": 0, "y": 0, "w": 6, "h": 4}], "version": 1}  # fmt: skip
    changed = stack.api("PUT", path, layout, token=token)
    assert changed.status_code == 200, changed.text
    board = changed.json()
    assert board["version"] == 2 and board["name"] == "Shop KPIs" and board["items"][0]["report"]["id"] == report["id"]
    assert board["items"][0] | {"report": None} == {"report_id": report["id"], "x": 0, "y": 0, "w": 6, "h": 4, "report": None}
    assert stack.api("PUT", path, layout, token=token).status_code == 409

    assert stack.api("GET", path, token=bob).status_code == 404
    assert stack.api("PUT", f"{path}/share", {"shared": True}, token=token).status_code == 403
    assert stack.api("PUT", f"{path}/share", {"shared": True}, token=stack.admin_token).json()["shared"] is True
    seen_by_bob = stack.api("GET", path, token=bob).json()
    assert seen_by_bob["items"][0]["report"]["id"] == report["id"]  # the report comes with the shared dashboard
    assert stack.api("PUT", path, {**layout, "version": 2}, token=bob).status_code == 403
    assert stack.api("DELETE", path, token=bob).status_code == 403

    copy = stack.api("POST", f"{path}/duplicate", token=bob)
    assert copy.status_code == 201
    assert copy.json()["owner"] == "bob" and not copy.json()["shared"] and copy.json()["name"] == "Shop KPIs (copy)"
    assert [i["report_id"] for i in copy.json()["items"]] == [report["id"]] and copy.json()["id"] != board["id"]
    assert stack.api("DELETE", f"/v1/dashboards/{copy.json()['id']}", token=bob).status_code == 204

    # A deleted report leaves the dashboard; the dashboard stays.
    assert stack.api("DELETE", f"/v1/reports/{report['id']}", token=token).status_code == 204
    assert stack.api("GET", path, token=token).json()["items"] == []
    assert stack.api("DELETE", path, token=token).status_code == 204
    assert stack.api("GET", path, token=token).status_code == 404


def test_dashboard_items_must_be_readable_reports(workbench_stack, bob):
    stack = workbench_stack
    bobs = create_report(stack, bob, "bob's private")
    board = stack.api("POST", "/v1/dashboards", {"name": "mine"}, token=stack.analyst_token).json()
    items = [{"report_id": bobs["id"], "x": 0, "y": 0, "w": 1, "h": 1}, {"report_id": "nope", "x": 0, "y": 0, "w": 1, "h": 1}]
    answer = stack.api("PUT", f"/v1/dashboards/{board['id']}", {"name": "mine", "time_range": {"preset": "today"}, "items": items, "version": 1}, token=stack.analyst_token)
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["items.0.report_id", "items.1.report_id"]


@pytest.mark.parametrize("body, field", [
    ({"name": "x", "time_range": {"preset": "forever"}}, "time_range.preset"),
    ({"name": "x", "time_range": {"from": "2026-11-30", "to": "2026-11-01"}}, "time_range.to"),
    ({"name": "x", "time_range": {"from": "2026-11-01", "to": "2026-11-30", "timezone": "Mars/Olympus"}}, "time_range.timezone"),
    ({"name": "x", "time_range": {"from": "2026-11-01"}}, "time_range"),
    ({"name": ""}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": "tab\there"}, "name"),
    ({"name": "x", "owner": "bob"}, "owner"),
])  # fmt: skip
def test_bad_dashboard_bodies_name_the_field(workbench_stack, body, field):
    answer = workbench_stack.api("POST", "/v1/dashboards", body, token=workbench_stack.analyst_token)
    assert answer.status_code == 422 and field in [e["field"] for e in answer.json()["errors"]], answer.text


def test_bad_item_layouts(workbench_stack):
    stack = workbench_stack
    board = stack.api("POST", "/v1/dashboards", {"name": "layout"}, token=stack.analyst_token).json()
    base = {"name": "layout", "time_range": {"preset": "today"}, "version": 1}
    for items, field in (([{"report_id": "r", "x": -1, "y": 0, "w": 1, "h": 1}], "items.0.x"),
                         ([{"report_id": "r", "x": 0, "y": 0, "w": 0, "h": 1}], "items.0.w"),
                         ([{"report_id": "r", "x": "1", "y": 0, "w": 1, "h": 1}], "items.0.x"),
                         ([{"report_id": "r", "x": 0, "y": 0, "w": 1, "h": 1}] * 101, "items")):  # fmt: skip
        answer = stack.api("PUT", f"/v1/dashboards/{board['id']}", {**base, "items": items}, token=stack.analyst_token)
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == field, answer.text
    missing_version = stack.api("PUT", f"/v1/dashboards/{board['id']}", {**base, "items": [], "version": None}, token=stack.analyst_token)
    assert missing_version.json()["errors"][0]["field"] == "version"


HOSTILE_IDS = ["' OR 1=1 --", "x" * 5000, "%00", "\x00", "../../etc/passwd", "δ", "1; DROP TABLE reports"]


@pytest.mark.parametrize("item_id", HOSTILE_IDS)
def test_unknown_and_hostile_ids_are_404(workbench_stack, item_id):
    stack = workbench_stack
    for method, path in (("GET", "/v1/reports/{}"), ("DELETE", "/v1/reports/{}"), ("GET", "/v1/dashboards/{}"),
                         ("POST", "/v1/dashboards/{}/duplicate"), ("DELETE", "/v1/dashboards/{}")):  # fmt: skip
        quoted = item_id.replace("%", "%25").replace("/", "%2F").replace("\x00", "%00")
        answer = stack.api(method, path.format(quoted), token=stack.analyst_token)
        assert answer.status_code == 404 and answer.json()["error"], (method, path, answer.text)
        assert len(answer.text) < 300  # a long id is not echoed back whole


def test_hostile_bodies(workbench_stack):
    stack, token = workbench_stack, workbench_stack.analyst_token
    assert stack.api("POST", "/v1/reports", content=b'{"name": "x", ', token=token).status_code == 400
    assert stack.api("POST", "/v1/reports", content=b"NaN", token=token).status_code == 400
    assert stack.api("POST", "/v1/reports", ["name"], token=token).status_code == 400
    assert stack.api("POST", "/v1/reports", content=b"{}", token=token, headers={"Content-Type": "text/plain"}).status_code == 415
    huge = stack.api("POST", "/v1/reports", {"name": "x", "request": {**REQUEST, "pad": "y" * (2 << 20)}}, token=token)
    assert huge.status_code == 413 and "bytes" in huge.json()["error"]
    too_long = stack.api("POST", "/v1/reports", {"name": "n" * 100_000, "request": REQUEST}, token=token)
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["field"] == "name"
    assert len(too_long.text) < 2000  # the answer does not echo the input


def test_nul_characters_are_refused_by_field(workbench_stack):
    stack, token = workbench_stack, workbench_stack.analyst_token
    request = {**REQUEST, "filters": [{"property": "category", "op": "=", "value": "a\x00b"}]}
    answer = stack.api("POST", "/v1/reports", {"name": "nul", "request": request}, token=token)
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"].startswith("request.filters.0"), answer.text
    named = stack.api("POST", "/v1/reports", {"name": "a\x00b", "request": REQUEST}, token=token)
    assert named.status_code == 422 and named.json()["errors"][0]["field"] == "name"
    board = stack.api("POST", "/v1/dashboards", {"name": "nul items"}, token=token).json()
    bad_item = [{"report_id": "a\x00b", "x": 0, "y": 0, "w": 1, "h": 1}]
    placed = stack.api("PUT", f"/v1/dashboards/{board['id']}", {"name": "n", "time_range": {"preset": "today"}, "items": bad_item, "version": 1}, token=token)
    assert placed.status_code == 422 and placed.json()["errors"][0]["field"] == "items.0.report_id"


def test_sql_ish_text_is_stored_verbatim(workbench_stack):
    stack, token = workbench_stack, workbench_stack.analyst_token
    name = "x'); DROP TABLE reports; -- \\ \" ${name} {app:String} %s"
    request = {**REQUEST, "filters": [{"property": "category", "op": "=", "value": "o'brien\\'; DELETE FROM users"}]}
    report = create_report(stack, token, name, request)
    again = stack.api("GET", f"/v1/reports/{report['id']}", token=token).json()
    assert again["name"] == name and again["request"] == request
    assert stack.api("GET", "/v1/auth/me", token=token).status_code == 200  # users still there


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=250))
def test_any_name_is_saved_as_sent_or_refused_naming_it(workbench_stack, name):
    answer = workbench_stack.api("POST", "/v1/dashboards", {"name": name}, token=workbench_stack.analyst_token)
    assert answer.status_code in (201, 422), answer.text
    if answer.status_code == 201:
        assert answer.json()["name"] == name.strip() and 1 <= len(name.strip()) <= 200
    else:
        assert answer.json()["errors"][0]["field"] == "name"


# -- apps, catalog -------------------------------------------------------------------------------------------------
def test_apps_and_catalog(workbench_stack):
    stack = workbench_stack
    apps = {a["app_id"]: a for a in stack.api("GET", "/v1/apps", token=stack.analyst_token).json()["apps"]}
    assert apps["wb-shop"] == {"app_id": "wb-shop", "in_plan": True, "seen": True}
    catalog = stack.api("GET", "/v1/catalog/wb-shop", token=stack.analyst_token).json()
    events = {e["name"]: e for e in catalog["events"]}
    assert events["pay"]["in_plan"] and events["pay"]["seen"] and events["pay"]["count_30d"] > 0
    expected = stack.api("POST", "/v1/query", {"model": "event", "app_id": "wb-shop", "date_from": "2026-01-01",
                                              "date_to": "2026-12-31", "metrics": [{"event": "pay"}]}, token=stack.analyst_token)  # fmt: skip
    assert expected.status_code == 200
    price = {p["name"]: p for p in events["pay"]["properties"]}["price"]
    assert price["type"] == "number" and price["seen"]
    for event in catalog["events"]:  # types are the four the pickers know, plan or not
        assert all(p["type"] in ("string", "number", "boolean", "datetime") for p in event["properties"])
    undeclared = [e for e in catalog["events"] if not e["in_plan"]]
    assert all(e["seen"] and e["count_30d"] > 0 for e in undeclared)
    # The envelope's own columns are offered too, seen where the app's events carry them, and a filter on one of
    # them selects what the warehouse holds.
    context = {p["name"]: p for p in catalog["context_properties"]}
    assert {"platform", "os", "utm_source", "referrer_domain"} <= context.keys() and "event" not in context
    assert context["platform"]["seen"] and context["os"]["seen"]
    platforms = stack.api("POST", "/v1/query", {"model": "event", "app_id": "wb-shop", "date_from": "2026-01-01",
                                               "date_to": "2026-12-31", "metrics": [{"event": "pay"}],
                                               "group_by": ["platform"]}, token=stack.analyst_token)  # fmt: skip
    assert platforms.status_code == 200 and not platforms.json()["warnings"], platforms.text
    assert {row[1] for row in platforms.json()["rows"]} - {""}, "the demo events carry a platform"
    assert stack.api("GET", "/v1/catalog/no-such-app", token=stack.analyst_token).status_code == 404
    assert stack.api("GET", "/v1/catalog/wb-shop").status_code == 401


# -- the OpenAPI document ------------------------------------------------------------------------------------------
def test_the_printed_document_is_the_served_one(workbench_stack):
    printed = subprocess.run([sys.executable, "-m", "pipelines.workbench.openapi"], capture_output=True, text=True, check=True)
    served = workbench_stack.api("GET", "/openapi.json").json()
    assert json.loads(printed.stdout) == served
    for path in ("/v1/auth/login", "/v1/auth/me", "/v1/auth/logout", "/v1/apps", "/v1/catalog/{app_id}",
                 "/v1/reports", "/v1/reports/{id}", "/v1/dashboards", "/v1/dashboards/{id}",
                 "/v1/dashboards/{id}/duplicate", "/v1/dashboards/{id}/share", "/v1/plan/{app_id}",
                 "/v1/plan/{app_id}/health", "/v1/query", "/v1/models"):  # fmt: skip
        assert path in served["paths"], path
    assert "put" in served["paths"]["/v1/plan/{app_id}"]
    assert served["security"] == [{"bearer": []}, {"session": []}] and served["components"]["securitySchemes"]["session"]["in"] == "cookie"
    text = json.dumps(served)
    for ref in {part.split('"')[0] for part in text.split("#/components/schemas/")[1:]}:
        assert ref in served["components"]["schemas"], ref


# -- static files of the built app ---------------------------------------------------------------------------------
def test_static_serving(stack_settings, analyst, tmp_path):
    from pipelines.analysis.api import ApiSettings
    from pipelines.workbench.app import create_app
    from pipelines.workbench.settings import WorkbenchSettings

    dist = tmp_path / "dist"
    app = create_app(stack_settings, ApiSettings(tokens="t"), analyst, record_heat=False, workbench=WorkbenchSettings(web_dist=dist))
    with TestClient(app) as http:
        unbuilt = http.get("/")
        assert unbuilt.status_code == 503 and unbuilt.text == "the workbench is not built: run `make web`"
        (dist / "assets").mkdir(parents=True)
        (dist / "index.html").write_text("<!doctype html><div id=app></div>")
        (dist / "assets" / "index-abc123.js").write_text("console.log(1)")
        (dist / "favicon.svg").write_text("<svg/>")
        (tmp_path / "secret.txt").write_text("secret")
        for path in ("/", "/funnel", "/dashboards/abc?x=1", "/reports/a/b/c"):
            page = http.get(path)
            assert page.status_code == 200 and "id=app" in page.text and page.headers["cache-control"] == "no-cache", path
        asset = http.get("/assets/index-abc123.js")
        assert asset.status_code == 200 and asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert http.get("/favicon.svg").text == "<svg/>"
        assert http.get("/assets/missing.js").status_code == 404
        assert http.get("/assets/..%2F..%2Fsecret.txt").status_code == 404
        assert "secret" not in http.get("/..%2Fsecret.txt").text
        unknown = http.get("/v1/nothing-here")
        assert unknown.status_code == 404 and unknown.json()["error"]
        assert http.post("/v1/nothing-here").json()["error"]
        assert http.get("/healthz").json() == {"ok": True} and "paths" in http.get("/openapi.json").json()


def test_query_answers_carry_the_sql_that_ran(workbench_stack):
    answer = workbench_stack.api("POST", "/v1/query", REQUEST, token=workbench_stack.analyst_token).json()
    assert answer["sql"] and all("SELECT" in q["sql"].upper() and isinstance(q["parameters"], dict) for q in answer["sql"].values())
    text = " ".join(q["sql"] for q in answer["sql"].values())
    assert "wb-shop" not in text and "wb-shop" in json.dumps([q["parameters"] for q in answer["sql"].values()])


def test_the_stack_runs_the_api_and_status_gives_its_url(stack):
    import httpx

    api = next(item for item in stack.status() if item.name == "api")
    assert api.state == "healthy" and api.url.startswith("http://127.0.0.1:")
    assert httpx.get(f"{api.url}/healthz", timeout=10).json() == {"ok": True}
    assert "/v1/reports" in httpx.get(f"{api.url}/openapi.json", timeout=10).json()["paths"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
FIELDS = st.sampled_from(["name", "request", "version", "time_range", "items", "shared", "model", "x"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(FIELDS, JSON, max_size=5) | JSON, target=st.integers(0, 4))
def test_no_body_makes_an_item_endpoint_fail_with_5xx(workbench_stack, body, target):
    stack, token = workbench_stack, workbench_stack.analyst_token
    board = stack.api("POST", "/v1/dashboards", {"name": "fuzz"}, token=token).json()
    report = create_report(stack, token, "fuzz")
    method, path = [("POST", "/v1/reports"), ("PUT", f"/v1/reports/{report['id']}"), ("POST", "/v1/dashboards"),
                    ("PUT", f"/v1/dashboards/{board['id']}"), ("PUT", f"/v1/dashboards/{board['id']}/share")][target]  # fmt: skip
    answer = stack.api(method, path, body, token=stack.admin_token if path.endswith("/share") else token)
    assert answer.status_code < 500 and answer.json().get("error") or answer.status_code in (200, 201), answer.text
