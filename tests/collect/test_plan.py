"""Tracking plan: parsing errors that name the place, compiled validators, apply to the warehouse, quarantine
load + replay exactly once, the health report, live plan reloads in the collector, and the plan HTTP routes (the
health report only reads). The quarantine messages are loaded here as jobs/quarantine loads them (its Flink run:
tests/streaming/test_quarantine_load.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from starlette.applications import Starlette

from pipelines.collect.app import PLAN_RELOAD_INTERVAL_S
from pipelines.envelope import DETAIL_COLUMNS, detail_row
from pipelines.plan.api import plan_routes
from pipelines.plan.health import event_analysis_sql, tracking_health
from pipelines.plan.model import PlanError, load_plans, parse_plan
from pipelines.plan.quarantine import list_held, load_messages, replay
from pipelines.plan.store import PlanConflict, apply_plan
from pipelines.plan.validate import ACCEPT, QUARANTINE, REJECT, PlanBook
from tests.collect.conftest import APP_ID, ROOT, in_process_client, make_event, quiet_test_client

DEMO_PLAN = yaml.safe_load((ROOT / "plans" / "demo-shop.yaml").read_text())


def load_held(warehouse, tap, event_ids) -> int:
    """What jobs/quarantine does with these events' events.quarantine messages."""
    held = tap.wait(event_ids, topic="quarantine")
    return load_messages(warehouse, [json.dumps(message).encode() for messages in held.values() for message in messages])


def table_rows(warehouse) -> dict[str, int]:
    """Rows of every table of the warehouse's database (views excluded: they hold nothing)."""
    tables = warehouse.rows(
        "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine NOT IN ('View', 'MaterializedView') ORDER BY name"
    )
    return {name: int(warehouse.scalar("SELECT count() FROM {t:Identifier}", {"t": name})) for (name,) in tables}


def plan_doc(**changes) -> dict:
    document = yaml.safe_load(yaml.safe_dump(DEMO_PLAN))
    document.update(changes)
    return document


@pytest.mark.parametrize(
    "change, message",
    [
        ({"version": 0}, "version must be a positive integer"),
        ({"policy": {"undeclared_events": "drop"}}, "policy.undeclared_events must be one of accept, quarantine, reject"),
        ({"events": {"pay": {"properties": {"amount": {"type": "money"}}}}}, "events.pay.properties.amount.type must be one of"),
        ({"events": {"pay": {"properties": {"amount": {"type": "number", "minimum": 0}}}}}, "unknown key(s) minimum"),
        ({"events": {"pay": {"properties": {"code": {"type": "string", "pattern": "("}}}}}, "pattern is not a valid regular expression"),
        ({"colour": "red"}, "unknown top-level key(s) colour"),
        ({"events": {"pay": {"properties": {"amount": {"type": "number", "min": 10, "max": 1}}}}}, "amount.min (10) is above max (1)"),
    ],
)
def test_plan_errors_name_the_field(change, message):
    with pytest.raises(PlanError, match=None) as raised:
        parse_plan(plan_doc(**change), "plans/x.yaml")
    assert message in str(raised.value) and "plans/x.yaml" in str(raised.value)


def test_policies_accept_quarantine_reject():
    strict = parse_plan(plan_doc(app_id="strict", policy={"undeclared_events": "reject", "undeclared_properties": "reject"}))
    loose = parse_plan(plan_doc(app_id="loose", policy={"undeclared_events": "accept", "undeclared_properties": "accept"}))
    book = PlanBook({"strict": strict, "loose": loose})
    assert book.validate("strict", "teleport", {}).outcome == REJECT
    assert book.validate("strict", "click", {"x": 1, "mood": "x"}).outcome == REJECT
    accepted = book.validate("loose", "teleport", {})
    assert accepted.outcome == ACCEPT and accepted.flags == ["undeclared_event:event"]
    assert book.validate("loose", "add_to_cart", {"quantity": 0}).outcome == QUARANTINE  # declared rules always hold
    assert book.validate("loose", "add_to_cart", {"quantity": True}).reasons[0]["rule"] == "type"  # bool is not int
    assert book.validate("unknown-app", "x", {}).flags == ["no_plan"]


def test_apply_is_idempotent_and_a_changed_plan_needs_a_new_version(warehouse):
    app = f"plan-test-{time.time_ns()}"
    plan = parse_plan(plan_doc(app_id=app, version=1))
    assert apply_plan(warehouse, plan).applied
    assert not apply_plan(warehouse, plan).applied
    assert warehouse.scalar("SELECT count() FROM tracking_plan FINAL WHERE app_id = {a:String}", {"a": app}) == len(plan.events)
    changed = parse_plan(plan_doc(app_id=app, version=1, description="changed", events={"pay": {}}))
    with pytest.raises(PlanConflict, match="raise `version`"):
        apply_plan(warehouse, changed)
    assert apply_plan(warehouse, parse_plan(plan_doc(app_id=app, version=2, events={"pay": {}}))).applied


def test_quarantine_replay_sends_what_now_passes_exactly_once(http, tap, warehouse, stack_settings, tmp_path):
    wished = make_event("wishlist_add", product_id="p-1")
    still_bad = make_event("pay", amount=-5)
    assert http.post("/v1/batch", json=[wished, still_bad]).json()["quarantined"] == 2
    count = "SELECT count() FROM quarantine FINAL WHERE event_id IN {ids:Array(UUID)}"
    ids = [wished["event_id"], still_bad["event_id"]]
    assert load_held(warehouse, tap, ids) == 2
    assert load_held(warehouse, tap, ids) == 2 and warehouse.scalar(count, {"ids": ids}) == 2  # a reload adds no row
    held = {item.event_id: item for item in list_held(warehouse, APP_ID, limit=10_000)}
    assert held[wished["event_id"]].reasons[0]["rule"] == "undeclared_event"
    assert held[still_bad["event_id"]].reasons == [{"field": "props.amount", "rule": "min", "detail": "-5 < 0"}]

    newer = plan_doc(version=2)
    newer["events"]["wishlist_add"] = {"properties": {"product_id": "string"}}
    (tmp_path / "demo-shop.yaml").write_text(yaml.safe_dump(newer))
    book = PlanBook(load_plans(tmp_path))
    first = replay(stack_settings, warehouse, book, APP_ID)
    assert first.replayed >= 1
    copies = tap.wait([wished["event_id"]])[wished["event_id"]]
    assert len(copies) == 1 and copies[0]["plan"] == {"version": 2, "flags": [], "replayed_from_quarantine": True}
    again = replay(stack_settings, warehouse, book, APP_ID)
    assert again.replayed == 0 and again.still_invalid >= 1
    time.sleep(1.0)
    assert len(tap.raw[wished["event_id"]]) == 1  # still once
    replayed = list_held(warehouse, APP_ID, "replayed", limit=10_000)
    assert wished["event_id"] in {item.event_id for item in replayed}
    assert still_bad["event_id"] not in {item.event_id for item in replayed}


def test_health_report_and_event_analysis_query(http, tap, warehouse, analyst):
    app = "demo-shop"
    plan = load_plans(ROOT / "plans")[app]
    good = [make_event("add_to_cart", product_id="p", quantity=2) for _ in range(6)]
    bad = [make_event("add_to_cart", quantity=0) for _ in range(2)]
    stranger = make_event("mystery_event")
    assert http.post("/v1/batch", json=good + bad + [stranger]).json() == {"status": "ok", "accepted": 6, "quarantined": 3}
    stored = tap.wait([e["event_id"] for e in good])
    # The streaming jobs load detail and quarantine rows in the full pipeline; here the test loads them the same way.
    warehouse.insert("dwd_default", [detail_row(copies[0]) for copies in stored.values()], DETAIL_COLUMNS)
    load_held(warehouse, tap, [e["event_id"] for e in bad + [stranger]])

    report = tracking_health(warehouse, plan, days=7)
    point = next(p for p in report["points"] if p["event"] == "add_to_cart")
    assert point["volume"] >= 6 and point["invalid"] >= 2 and point["last_seen"] and 0 < point["invalid_rate"] < 1
    assert point["top_violations"][0]["reason"] == "props.quantity:min"
    assert any(item["event"] == "mystery_event" and item["quarantined"] >= 1 for item in report["undeclared_events"])
    assert next(p for p in report["points"] if p["event"] == "signup")["status"] == "silent"

    sql, params = event_analysis_sql(plan, "add_to_cart", days=7)
    rows = analyst.rows(sql, params)
    assert sum(events for _, events, _ in rows) >= 6


def test_collector_reloads_a_changed_plan_and_keeps_the_last_good_one(stack, stack_settings, tmp_path):
    plans = tmp_path / "plans"
    plans.mkdir()
    plan_file = plans / "demo-shop.yaml"
    plan_file.write_text(yaml.safe_dump(plan_doc()))
    settings = stack_settings.model_copy(update={"plan_dir": plans})
    with in_process_client(settings, tmp_path / "spool", port=3) as client:
        assert client.post("/v1/events", json=make_event("wishlist_add")).json()["quarantined"] == 1
        newer = plan_doc(version=2)
        newer["events"]["wishlist_add"] = {}
        plan_file.write_text(yaml.safe_dump(newer))
        time.sleep(PLAN_RELOAD_INTERVAL_S + 1)
        assert client.post("/v1/events", json=make_event("wishlist_add")).json()["accepted"] == 1
        assert client.get("/healthz").json()["plans"]["demo-shop"] == 2
        plan_file.write_text("app_id: [broken")  # a bad edit: logged, version 2 stays in force
        time.sleep(PLAN_RELOAD_INTERVAL_S + 1)
        assert client.post("/v1/events", json=make_event("wishlist_add")).json()["accepted"] == 1
        assert client.get("/healthz").json()["plans"]["demo-shop"] == 2


def test_plan_http_routes_for_the_analysis_api(stack, stack_settings, warehouse):
    client = quiet_test_client(Starlette(routes=plan_routes(stack_settings, warehouse)))
    assert client.get("/v1/plan/demo-shop").json()["version"] >= 1
    assert client.get("/v1/plan/nobody").status_code == 404
    report = client.get("/v1/plan/demo-shop/health", params={"days": 3}).json()
    assert report["days"] == 3 and {p["event"] for p in report["points"]} >= {"pay", "click"}
    assert client.get("/v1/plan/demo-shop/health", params={"days": "x"}).status_code == 400
    query = client.get("/v1/plan/demo-shop/query", params={"event": "pay"}).json()
    assert "FROM events" in query["sql"] and query["parameters"]["event"] == "pay"
    assert client.get("/v1/plan/demo-shop/query", params={"event": "teleport"}).status_code == 404


def test_the_health_report_writes_nothing(http, tap, warehouse, stack_settings):
    """A GET reads: with a quarantined event waiting on events.quarantine (not yet in the table), the health report
    leaves every table as it was (it used to open a Kafka consumer and load the topic first)."""
    waiting = make_event("pay", currency="GBP")
    assert http.post("/v1/events", json=waiting).json()["quarantined"] == 1
    tap.wait([waiting["event_id"]], topic="quarantine")
    client = quiet_test_client(Starlette(routes=plan_routes(stack_settings, warehouse)))
    before = table_rows(warehouse)
    answer = client.get("/v1/plan/demo-shop/health", params={"days": 1})
    assert answer.status_code == 200, answer.text
    assert table_rows(warehouse) == before
