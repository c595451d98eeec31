"""The running collector over HTTP, against the session broker: every endpoint, auth, limits and validation
outcomes, each checked on Kafka (arrived once, enriched as documented)."""

from __future__ import annotations

import base64
import gzip
import json
import uuid

import httpx

from tests.collect.conftest import APP_ID, APP_KEY, make_event

CHROME_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
IPHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"


def test_healthz_reports_kafka_and_plans(http):
    answer = http.get("/healthz")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok" and body["kafka"] == "up" and body["plans"][APP_ID] >= 1


def test_single_event_is_acknowledged_enriched_and_delivered_once(http, tap):
    event = make_event("pay", amount=12.5, currency="CNY")
    answer = http.post("/v1/events", json=event, headers={"User-Agent": CHROME_UA})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "ok", "accepted": 1, "quarantined": 0}
    copies = tap.wait([event["event_id"]])[event["event_id"]]
    assert len(copies) == 1
    stored = copies[0]
    assert stored["app_id"] == APP_ID and stored["props"] == {"amount": 12.5, "currency": "CNY"}
    assert stored["ip"] == "127.0.0.1" and stored["collector_id"] and stored["received_at"] >= event["ts"]
    assert (stored["context"]["os"], stored["context"]["browser"], stored["context"]["device_type"]) == ("Windows", "Chrome", "desktop")


def test_batch_groups_one_persons_events_into_one_message_keyed_by_primary_id(http, tap):
    alice = [make_event("click", device="dev-alice", x=i, y=i) for i in range(5)]
    for event in alice:
        event["ids"]["user_id"] = "alice"
    bob = [make_event("click", device="dev-bob", x=1, y=2) for _ in range(3)]
    answer = http.post("/v1/batch", json=alice + bob)
    assert answer.status_code == 200 and answer.json()["accepted"] == 8
    tap.wait([e["event_id"] for e in alice + bob])
    messages = {key: json.loads(value) for key, value in tap.raw_messages if key in (b"alice", b"dev-bob")}
    assert {e["event_id"] for e in messages[b"alice"]} == {e["event_id"] for e in alice}  # user_id outranks device_id
    assert [e["event_id"] for e in messages[b"dev-bob"]] == [e["event_id"] for e in bob]  # order kept


def test_gzip_batch_and_events_wrapper(http, tap):
    events = [make_event("search", query="shoes") for _ in range(20)]
    body = gzip.compress(json.dumps({"events": events}).encode())
    answer = http.post("/v1/batch", content=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert answer.status_code == 200 and answer.json()["accepted"] == 20
    tap.wait([e["event_id"] for e in events])


def test_image_beacon_with_json_and_base64_data(collector_url, tap):
    plain, encoded = make_event("click", x=1, y=1), make_event("click", x=2, y=2)
    data64 = base64.urlsafe_b64encode(json.dumps(encoded).encode()).decode().rstrip("=")
    for data in (json.dumps(plain), data64):
        answer = httpx.get(f"{collector_url}/v1/p.gif", params={"key": APP_KEY, "data": data})
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/gif" and answer.content[:6] == b"GIF89a"
    tap.wait([plain["event_id"], encoded["event_id"]])
    bad = httpx.get(f"{collector_url}/v1/p.gif", params={"key": APP_KEY, "data": "%%%"})
    assert bad.status_code == 400 and bad.content[:6] == b"GIF89a"


def test_cors_preflight_and_headers_for_browser_sdks(collector_url):
    preflight = httpx.options(
        f"{collector_url}/v1/batch",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-app-key"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] in ("*", "https://shop.example")
    answer = httpx.post(f"{collector_url}/v1/events", headers={"Origin": "https://shop.example", "X-App-Key": APP_KEY}, json=make_event())
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "*"


def test_app_keys(collector_url):
    event = make_event()
    missing = httpx.post(f"{collector_url}/v1/events", json=event)
    assert missing.status_code == 401 and "missing app key" in missing.json()["error"]
    unknown = httpx.post(f"{collector_url}/v1/events", json=event, headers={"X-App-Key": "nope"})
    assert unknown.status_code == 401 and unknown.json() == {"error": "unknown app key"}
    bearer = httpx.post(f"{collector_url}/v1/events", json=make_event(), headers={"Authorization": f"Bearer {APP_KEY}"})
    assert bearer.status_code == 200
    other_app = httpx.post(f"{collector_url}/v1/events", json={**event, "app_id": "someone-else"}, headers={"X-App-Key": APP_KEY})
    assert other_app.status_code == 403 and other_app.json()["field"] == "app_id"


def test_size_limits_answer_413(http, stack_settings):
    too_big_body = b"[" + b" " * (stack_settings.collector_max_body_bytes + 10) + b"]"
    assert http.post("/v1/batch", content=too_big_body).status_code == 413
    fat = make_event("click", element_text="x" * (stack_settings.collector_max_event_bytes + 1))
    answer = http.post("/v1/batch", json=[make_event(), fat])
    assert answer.status_code == 413 and answer.json()["index"] == 1
    many = [make_event() for _ in range(stack_settings.collector_max_batch_events + 1)]
    assert http.post("/v1/batch", json=many).status_code == 413
    bomb = gzip.compress(b"[" + b" " * (stack_settings.collector_max_body_bytes * 4) + b"]")
    assert http.post("/v1/batch", content=bomb, headers={"Content-Encoding": "gzip"}).status_code == 413


def test_malformed_requests_answer_400_naming_the_problem(http):
    cases = {
        b'{"event": ': "malformed JSON",
        b"": "empty body",
        b"[1]": "an event is a JSON object",
        json.dumps({**make_event(), "event_id": "nope"}).encode(): "is not a UUID",
        json.dumps({k: v for k, v in make_event().items() if k != "event_id"}).encode(): "event_id is required",
        json.dumps({**make_event(), "ts": "yesterday"}).encode(): "ts must be",
        json.dumps({**make_event(), "props": [1]}).encode(): "props must be an object",
    }
    for body, reason in cases.items():
        answer = http.post("/v1/events", content=body)
        assert answer.status_code == 400, body
        assert reason in answer.json()["error"], (body, answer.json())
    assert "array" in http.post("/v1/batch", content=b'{"x": 1}').json()["error"]
    assert http.post("/v1/batch", content=b"x", headers={"Content-Encoding": "br"}).status_code == 415
    assert http.get("/v1/events").status_code == 405 and http.get("/nowhere").status_code == 404


def test_tracking_plan_outcomes_and_quarantine_reasons(http, tap):
    valid = make_event("pay", amount=3.0, currency="USD")
    wrong_type = make_event("pay", amount="three", currency="JPY")
    undeclared_event = make_event("teleport")
    missing_required = make_event("scroll_depth")
    flagged = make_event("click", x=1, y=2, mood="happy")
    answer = http.post("/v1/batch", json=[valid, wrong_type, undeclared_event, missing_required, flagged])
    assert answer.status_code == 200 and answer.json() == {"status": "ok", "accepted": 2, "quarantined": 3}
    raw = tap.wait([valid["event_id"], flagged["event_id"]])
    assert raw[flagged["event_id"]][0]["plan"]["flags"] == ["undeclared_property:props.mood"]
    held = tap.wait([wrong_type["event_id"], undeclared_event["event_id"], missing_required["event_id"]], topic="quarantine")
    assert held[wrong_type["event_id"]][0]["reasons"] == [
        {"field": "props.amount", "rule": "type", "detail": "expected number, got string"},
        {"field": "props.currency", "rule": "enum", "detail": "'JPY' is not one of ['CNY', 'USD', 'EUR']"},
    ]
    assert held[undeclared_event["event_id"]][0]["reasons"][0]["rule"] == "undeclared_event"
    assert held[missing_required["event_id"]][0]["reasons"][0] == {"field": "props.depth", "rule": "required", "detail": "missing"}
    assert not ({wrong_type["event_id"], undeclared_event["event_id"]} & tap.raw.keys())


def test_big_session_fields_travel_once(http, tap):
    session = f"s-{uuid.uuid4().hex[:8]}"
    first = make_event("page_view", device="dev-session")
    first.update(session_id=session, context={"platform": "web", "ua": IPHONE_UA, "screen": "390x844", "lib": "trackflow-js"})
    later = make_event("click", device="dev-session", x=3, y=4)
    later.update(session_id=session, context={"url": "https://shop.example/cart"})
    assert http.post("/v1/batch", json=[first], headers={"User-Agent": CHROME_UA}).status_code == 200
    assert http.post("/v1/batch", json=[later], headers={"User-Agent": CHROME_UA}).status_code == 200
    stored = tap.wait([first["event_id"], later["event_id"]])
    first_ctx, later_ctx = stored[first["event_id"]][0]["context"], stored[later["event_id"]][0]["context"]
    assert first_ctx["ua"] == IPHONE_UA and first_ctx["os"] == "iOS"
    assert "ua" not in later_ctx  # the raw UA is stored once per session
    assert (later_ctx["os"], later_ctx["device_type"], later_ctx["screen"], later_ctx["lib"]) == ("iOS", "mobile", "390x844", "trackflow-js")


def test_metrics_are_prometheus_text(http):
    http.post("/v1/events", json=make_event())
    text = http.get("/metrics").text
    assert 'trackflow_collector_events_total{app_id="demo-shop",outcome="accepted"}' in text
    assert "trackflow_collector_ack_seconds_bucket" in text and "trackflow_collector_kafka_up 1.0" in text
    assert 'trackflow_collector_plan_version{app_id="demo-shop"}' in text
