"""Segment HTTP tracking API under /segment: the pure mapping (messages -> envelopes, links and traits; malformed and
hostile requests -> 4xx with a reason) and the real Python SDK (`segment-analytics-python`) sending to the running
collector, checked on events.raw. The warehouse side is in test_protocol_e2e.py."""

from __future__ import annotations

import base64
import json
import time
import uuid

import httpx
import pytest
from hypothesis import given, settings, strategies as st
from segment.analytics import Client

from pipelines.collect.intake import BadRequest
from pipelines.collect.protocols.segment import decode_request, map_messages, write_key
from tests.collect.conftest import APP_ID, APP_KEY
from tests.collect.protocol_cases import JSON_VALUES, failure

NOW = 1_765_000_000_000
MOBILE = {"app": {"name": "Shop", "version": "3.2.0", "build": "412"}, "device": {"id": "dev-1", "manufacturer": "Apple",
          "model": "iPhone15,2", "type": "ios"}, "os": {"name": "iOS", "version": "17.1"}, "network": {"wifi": True, "carrier": "EE"},
          "screen": {"width": 393, "height": 852}, "library": {"name": "analytics-ios", "version": "4.1.8"}, "locale": "en-GB"}  # fmt: skip
WEB = {"page": {"url": "https://shop.example/p?x=1", "path": "/p", "referrer": "https://search.example/", "title": "Shoes"},
       "campaign": {"source": "news", "medium": "email", "name": "spring"}, "userAgent": "Mozilla/5.0",
       "library": {"name": "analytics.js", "version": "next-1.70.0"}}  # fmt: skip


def message(kind: str = "track", **fields) -> dict:
    base = {"type": kind, "anonymousId": "anon-1", "timestamp": "2025-12-06T05:46:40.000Z", "messageId": str(uuid.uuid4())}
    if kind == "track":
        base.update(event="Order Completed", properties={"revenue": 12.5})
    base.update(fields)
    return base


def mapped(*messages, document=None):
    return map_messages(list(messages), False, APP_KEY, APP_ID, document or {}, NOW)


# -- the pure mapping ---------------------------------------------------------------------------------------------
def test_a_mobile_track_maps_context_onto_typed_fields():
    [envelope] = mapped(message(context=MOBILE)).events
    assert envelope["event"] == "Order Completed" and envelope["ts"] == NOW and envelope["props"] == {"revenue": 12.5, "locale": "en-GB"}
    assert envelope["ids"] == {"device_id": "anon-1"}  # anonymousId of a mobile SDK; context.device.id differs:
    assert mapped(message(context={**MOBILE, "device": {**MOBILE["device"], "id": "idfv-9"}})).events[0]["ids"] == {"device_id": "anon-1"}
    assert envelope["context"] == {
        "platform": "ios", "app_version": "3.2.0", "device_brand": "Apple", "device_model": "iPhone15,2", "os": "iOS", "os_version": "17.1",
        "carrier": "EE", "network_type": "wifi", "screen_width": 393, "screen_height": 852, "screen": "393x852", "lib": "analytics-ios",
        "lib_version": "4.1.8",
    }  # fmt: skip


def test_a_web_page_call_is_a_page_view_with_its_page_and_campaign():
    [page] = mapped(message("page", name="Shoes", category="Catalog", context=WEB, properties={"url": "https://shop.example/p?x=1", "path": "/p"})).events
    assert page["event"] == "page_view" and page["ids"] == {"cookie_id": "anon-1"}
    assert page["props"] == {"path": "/p", "page_name": "Shoes", "page_category": "Catalog"}
    assert page["context"] == {
        "platform": "web", "url": "https://shop.example/p?x=1", "referrer": "https://search.example/", "title": "Shoes",
        "utm_source": "news", "utm_medium": "email", "utm_campaign": "spring", "ua": "Mozilla/5.0", "lib": "analytics.js",
        "lib_version": "next-1.70.0",
    }  # fmt: skip
    [screen] = mapped(message("screen", name="Basket", context=MOBILE)).events
    assert screen["event"] == "page_view" and screen["props"]["path"] == "Basket"


def test_identify_alias_and_group():
    identify = message("identify", userId="user-9", traits={"email": "a@example.com", "plan": "pro"})
    alias = message("alias", userId="user-9", previousId="anon-2", anonymousId=None)
    group = message("group", userId="user-9", groupId="acme", traits={"employees": 40})
    result = mapped(identify, alias, group)
    assert [(e["event"], e["ids"], e["props"]) for e in result.events] == [
        ("identify", {"user_id": "user-9", "device_id": "anon-1"}, {}),
        ("identify", {"user_id": "user-9", "device_id": "anon-2"}, {}),
        ("group", {"user_id": "user-9", "device_id": "anon-1"}, {"group_id": "acme", "group_employees": 40}),
    ]
    [update] = result.person_updates
    assert (update["op"], update["ids"], update["properties"], update["source"]) == ("set", {"user_id": "user-9", "device_id": "anon-1"},
                                                                                      {"email": "a@example.com", "plan": "pro"}, "segment")  # fmt: skip
    assert mapped(identify).person_updates[0]["update_id"] == update["update_id"]  # a re-send updates nothing twice
    no_id = dict(identify, messageId=None)
    assert mapped(no_id).events[0]["event_id"] == mapped(dict(no_id, sentAt="later")).events[0]["event_id"]


def test_write_key_from_basic_auth_or_body():
    basic = "Basic " + base64.b64encode(f"{APP_KEY}:".encode()).decode()
    assert write_key(basic, {}) == APP_KEY and write_key("", {"writeKey": "wk"}) == "wk" and write_key("", {}) == ""
    assert failure(lambda: write_key("Basic %%%", {})).status == 401


@pytest.mark.parametrize(
    ("kind", "fields", "status", "reason"),
    [
        ("track", {"anonymousId": None}, 400, "needs userId or anonymousId"),
        ("track", {"event": ""}, 400, "needs an `event` name"),
        ("track", {"userId": ["x"]}, 400, "userId must be a string"),
        ("track", {"timestamp": "noon"}, 400, "timestamp must be an ISO-8601 time"),
        ("track", {"properties": "x"}, 400, "properties must be an object"),
        ("track", {"writeKey": "other"}, 403, "not this request's write key"),
        ("alias", {"previousId": "anon-2"}, 400, "alias needs previousId and userId"),
        ("group", {"userId": "u"}, 400, "needs groupId"),
        ("teleport", {}, 400, "type must be one of"),
    ],
)
def test_malformed_messages_are_4xx_with_a_reason(kind, fields, status, reason):
    error = failure(lambda: map_messages([message(kind, **fields)], True, APP_KEY, APP_ID, {}, NOW))
    assert error.status == status and reason in error.reason


def test_request_bodies():
    document, messages, single = decode_request(json.dumps({"batch": [message(), message("page")], "sentAt": "x"}).encode(), "batch")
    assert len(messages) == 2 and not single and document["sentAt"] == "x"
    _, [one], single = decode_request(json.dumps({"event": "Viewed", "userId": "u"}).encode(), "track")
    assert single and one["type"] == "track"
    for body, kind, reason in [(b"[1]", "track", "a Segment body is a JSON object"), (b'{"batch": 1}', "batch", "needs `batch`")]:
        assert reason in failure(lambda: decode_request(body, kind)).reason


CONTEXT = st.fixed_dictionaries({}, optional={name: JSON_VALUES | st.dictionaries(st.sampled_from(["id", "name", "version", "type", "wifi", "width"]), JSON_VALUES)
                                              for name in ("app", "device", "os", "page", "campaign", "network", "screen", "library", "userAgent")})  # fmt: skip
MESSAGE_FIELDS = st.fixed_dictionaries(
    {},
    optional={"type": st.sampled_from(["track", "page", "screen", "identify", "alias", "group"]) | JSON_VALUES,
              "userId": JSON_VALUES, "anonymousId": JSON_VALUES, "previousId": JSON_VALUES, "groupId": JSON_VALUES,
              "event": JSON_VALUES, "name": JSON_VALUES, "properties": JSON_VALUES, "traits": JSON_VALUES,
              "timestamp": JSON_VALUES, "messageId": JSON_VALUES, "context": CONTEXT | JSON_VALUES, "writeKey": JSON_VALUES},
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(messages=st.lists(MESSAGE_FIELDS | JSON_VALUES, min_size=1, max_size=4), single=st.booleans(), batch_context=JSON_VALUES)
def test_any_messages_map_or_are_refused_with_a_4xx(messages, single, batch_context):
    try:
        result = map_messages(messages[:1] if single else messages, single, APP_KEY, APP_ID, {"context": batch_context}, NOW)
    except BadRequest as exc:
        assert single and 400 <= exc.status < 500
        return
    assert all(400 <= item["status"] < 500 for item in result.rejected)
    assert len(result.events) + len(result.rejected) == (1 if single else len(messages))


# -- the real SDK against the running collector ---------------------------------------------------------------------
def test_the_segment_python_sdk_sends_tracks_pages_and_identifies(collector_url, tap):
    run = uuid.uuid4().hex[:8]
    anonymous, user = f"sg-anon-{run}", f"sg-user-{run}"
    errors = []
    client = Client(APP_KEY, host=f"{collector_url}/segment", sync_mode=True, on_error=lambda error, batch: errors.append(error))
    client.page(anonymous_id=anonymous, category="Shop", name="Cart", properties={"url": "https://shop.example/cart", "path": "/cart"},
                context={"os": {"name": "iOS", "version": "17.1"}, "device": {"model": "iPhone15,2", "type": "ios"}})  # fmt: skip
    client.track(anonymous_id=anonymous, event="add_to_cart", properties={"product_id": f"p-{run}"})
    client.identify(user_id=user, anonymous_id=anonymous, traits={"plan": "pro"})
    client.flush()
    assert not errors

    deadline, mine = time.monotonic() + 20, []
    while time.monotonic() < deadline and len(mine) < 3:
        time.sleep(0.2)
        with tap._lock:
            mine = [copies[0] for copies in tap.raw.values() if run in json.dumps(copies[0]["ids"])]
    by_event = {e["event"]: e for e in mine}
    assert sorted(by_event) == ["add_to_cart", "identify", "page_view"], mine
    page = by_event["page_view"]
    assert page["app_id"] == APP_ID and page["ids"] == {"device_id": anonymous} and page["props"]["path"] == "/cart"
    assert (page["context"]["platform"], page["context"]["os_version"], page["context"]["device_model"]) == ("ios", "17.1", "iPhone15,2")
    assert page["context"]["url"] == "https://shop.example/cart" and page["context"]["lib"] == "analytics-python"
    assert by_event["identify"]["ids"] == {"user_id": user, "device_id": anonymous}


BASIC = {"authorization": "Basic " + base64.b64encode(f"{APP_KEY}:".encode()).decode()}


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "reason"),
    [
        ("/segment/v1/track", {"event": "x", "userId": "u"}, {}, 401, "missing write key"),
        ("/segment/v1/track", {"event": "x", "userId": "u", "writeKey": "nope"}, {}, 401, "unknown app key"),
        ("/segment/v1/track", {"event": "x", "userId": "u"}, {"authorization": "Basic !!"}, 401, "not Basic base64"),
        ("/segment/v1/batch", {"batch": [{"type": "track", "event": "x"}]}, BASIC, 400, "needs userId or anonymousId"),
        ("/segment/v1/identify", [1], BASIC, 400, "a Segment body is a JSON object"),
        ("/segment/v1/batch", {"batch": [{"type": "track", "event": "x", "userId": "u"}] * 100_000}, BASIC, 413, "exceeds the limit"),
    ],
)
def test_bad_requests_over_http_are_4xx_json(collector_url, path, body, headers, status, reason):
    answer = httpx.post(f"{collector_url}{path}", content=json.dumps(body), headers={"content-type": "application/json", **headers})
    assert answer.status_code == status and reason in answer.json()["error"]


def test_segment_and_native_batches_keep_their_own_paths(collector_url):
    """The native /v1/batch still answers a native batch; a Segment body there is not taken for one."""
    native = httpx.post(f"{collector_url}/v1/batch", json={"batch": [message()]}, headers={"X-App-Key": APP_KEY})
    assert native.status_code == 400 and "a batch body is a JSON array" in native.json()["error"]
    segment = httpx.post(f"{collector_url}/segment/v1/batch", json={"batch": [message(userId=f"u-{uuid.uuid4().hex[:6]}", event="add_to_cart", properties={})]}, headers=BASIC)
    assert segment.status_code == 200 and segment.json()["accepted"] == 1
