"""PostHog capture API: the pure mapping (events -> envelopes, links and person updates; each compression variant;
malformed and hostile bodies -> 4xx with a reason) and the real Python SDK (`posthog`) sending to the running
collector, checked on events.raw. The warehouse side is in test_protocol_e2e.py."""

from __future__ import annotations

import base64
import gzip
import json
import time
import uuid

import httpx
import pytest
from hypothesis import given, settings, strategies as st
from lzstring import LZString
from posthog import Posthog

from pipelines.collect.intake import BadRequest
from pipelines.collect.protocols.posthog import decode_request, element_path, map_events, parse_elements_chain, request_key
from tests.collect.conftest import APP_ID, APP_KEY
from tests.collect.protocol_cases import JSON_VALUES, failure

LIMIT = 1 << 20
NOW = 1_765_000_000_000
JSON = "application/json"


def event(name: str = "add_to_cart", **fields) -> dict:
    base = {"event": name, "distinct_id": "anon-1", "timestamp": "2025-12-06T05:46:40.000Z",
            "properties": {"$lib": "web", "$device_id": "anon-1", "product_id": "p-1"}}  # fmt: skip
    base.update(fields)
    return base


def mapped(*events, fields=None):
    return map_events(list(events), False, APP_KEY, APP_ID, fields or {}, NOW)


# -- the pure mapping ---------------------------------------------------------------------------------------------
def test_a_web_page_view_maps_presets_onto_typed_context():
    sent = event("$pageview", uuid="0190b3a4-3c5e-7d6f-8a9b-0c1d2e3f4a5b", properties={
        "$lib": "web", "$lib_version": "1.200.0", "$device_id": "anon-1", "$current_url": "https://shop.example/p?utm_source=news",
        "$pathname": "/p", "$referrer": "https://search.example/", "title": "Shoes", "$os": "Mac OS X", "$os_version": "14.1.0",
        "$browser": "Chrome", "$browser_version": 131, "$device_type": "Desktop", "$screen_width": 1440, "$screen_height": 900,
        "$viewport_width": 1200, "$viewport_height": 800, "$session_id": "s-1", "token": APP_KEY, "campaign": "spring"})  # fmt: skip
    [envelope] = mapped(sent).events
    assert envelope["event_id"] == "0190b3a4-3c5e-7d6f-8a9b-0c1d2e3f4a5b" and envelope["event"] == "page_view"
    assert envelope["ts"] == NOW and envelope["ids"] == {"cookie_id": "anon-1"} and envelope["session_id"] == "s-1"
    assert envelope["context"] == {
        "platform": "web", "url": "https://shop.example/p?utm_source=news", "referrer": "https://search.example/", "title": "Shoes",
        "os": "Mac OS X", "os_version": "14.1.0", "browser": "Chrome", "browser_version": 131, "device_type": "desktop",
        "screen_width": 1440, "screen_height": 900, "screen": "1440x900", "viewport": "1200x800", "lib": "web", "lib_version": "1.200.0",
    }  # fmt: skip
    assert envelope["props"] == {"path": "/p", "campaign": "spring"}


def test_autocapture_elements_chain_becomes_a_click_with_the_heatmap_element_key():
    chain = ('span.label:nth-child="1"nth-of-type="1"text="Buy \\"now\\"";'
             'button.btn.primary:attr__data-track="buy"nth-child="2"nth-of-type="2"href="/cart";'
             'div:nth-child="3"nth-of-type="3";section:attr__id="product"nth-child="1"nth-of-type="1";body')  # fmt: skip
    [click] = mapped(event("$autocapture", properties={"$lib": "web", "$device_id": "anon-1", "$event_type": "click",
                                                       "$elements_chain": chain})).events  # fmt: skip
    assert click["event"] == "click"
    assert click["props"] == {"element_path": 'section#product>div:nth-of-type(3)>button[data-track="buy"]>span', "element_text": 'Buy "now"'}
    elements = parse_elements_chain(chain)
    assert elements[1] == {"tag_name": "button", "attr__data-track": "buy", "nth-child": "2", "nth-of-type": "2", "href": "/cart"}
    # The older $elements list names the same things.
    listed = [{"tag_name": "a", "$el_text": "Home", "attr__href": "/", "nth_of_type": 1}, {"tag_name": "nav", "attr__id": "top"}]
    [link] = mapped(event("$autocapture", properties={"$lib": "web", "$device_id": "anon-1", "$elements": listed})).events
    assert link["props"] == {"element_path": "nav#top>a", "element_text": "Home", "href": "/"}
    assert element_path([{"tag_name": "li", "nth-of-type": "4"}, {"tag_name": "ul", "attr__name": "menu"}]) == 'ul[name="menu"]>li:nth-of-type(4)'
    [change] = mapped(event("$autocapture", properties={"$lib": "web", "$device_id": "anon-1", "$event_type": "change"})).events
    assert change["event"] == "$autocapture"


def test_identify_and_alias_carry_both_ids_and_set_properties_become_person_updates():
    identify = event("$identify", distinct_id="user-9", properties={"$lib": "web", "$device_id": "anon-1", "$anon_distinct_id": "anon-1",
                                                                    "$set": {"email": "a@example.com"}, "$set_once": {"first": "ad"}})  # fmt: skip
    alias = event("$create_alias", distinct_id="anon-2", properties={"alias": "user-9", "$lib": "posthog-python"})
    result = mapped(identify, alias, event("$set", distinct_id="user-9", **{"$set": {"vip": True}}, properties={"$lib": "posthog-python"}))
    assert [(e["event"], e["ids"]) for e in result.events] == [
        ("identify", {"user_id": "user-9", "cookie_id": "anon-1"}),
        ("identify", {"user_id": "user-9", "device_id": "anon-2"}),
    ]  # the $set event itself is no event: it only updates the person
    # Older server SDKs' identify(): $identify with $set and no anonymous id is the user's, with no link.
    [older] = mapped(event("$identify", distinct_id="user-9", properties={"$lib": "posthog-python", "$set": {"a": 1}})).events
    assert older["event"] == "identify" and older["ids"] == {"user_id": "user-9"}
    assert [(u["op"], u["ids"], u["properties"], u["seq"]) for u in result.person_updates] == [
        ("set", {"user_id": "user-9", "cookie_id": "anon-1"}, {"email": "a@example.com"}, 0),
        ("set_once", {"user_id": "user-9", "cookie_id": "anon-1"}, {"first": "ad"}, 0),
        ("set", {"user_id": "user-9"}, {"vip": True}, 2),
    ]
    assert len({u["update_id"] for u in result.person_updates}) == 3
    again = mapped(identify, alias)  # the same events re-sent: the same event and update ids
    assert [e["event_id"] for e in again.events] == [e["event_id"] for e in result.events[:2]]
    assert [u["update_id"] for u in again.person_updates] == [u["update_id"] for u in result.person_updates[:2]]


def test_client_and_server_sdks_ids_and_times():
    anonymous = event(properties={"$lib": "web", "$device_id": "anon-1"})
    identified = event(distinct_id="user-9", properties={"$lib": "web", "$device_id": "anon-1"})
    server = event(distinct_id="user-9", timestamp=None, offset=500, properties={"$lib": "posthog-python"})
    result = mapped(anonymous, identified, server, fields={"sent_at": "2025-12-06T05:46:41.000Z"})
    assert [e["ids"] for e in result.events] == [{"cookie_id": "anon-1"}, {"user_id": "user-9", "cookie_id": "anon-1"}, {"user_id": "user-9"}]
    assert result.events[2]["ts"] == 1_765_000_001_000 - 500
    assert mapped(event(timestamp=None)).events[0]["ts"] == NOW


@pytest.mark.parametrize(
    ("sent", "status", "reason"),
    [
        (event(distinct_id=None), 400, "distinct_id is required"),
        (event(distinct_id={"a": 1}), 400, "distinct_id must be a string"),
        (event(event=""), 400, "event must be a non-empty string"),
        (event(timestamp="yesterday"), 400, "timestamp must be an ISO-8601 time"),
        (event(properties=[1]), 400, "properties must be an object"),
        (event(api_key="someone-else"), 403, "not this request's project key"),
        (event("$create_alias", properties={}), 400, "$create_alias needs properties.alias"),
        (event(**{"$unset": "vip"}), 400, "$unset must be an array of property names"),
        (event(**{"$set": [1]}), 400, "set properties must be an object"),
        ("junk", 400, "a PostHog event is a JSON object"),
    ],
)
def test_malformed_events_are_4xx_with_a_reason(sent, status, reason):
    error = failure(lambda: map_events([sent], True, APP_KEY, APP_ID, {}, NOW))
    assert error.status == status and reason in error.reason


# -- bodies: each compression variant and hostile ones -------------------------------------------------------------
def body_of(document) -> bytes:
    return json.dumps(document).encode()


@pytest.mark.parametrize("variant", ["plain", "gzip", "gzip-js", "base64", "lz64", "form-base64", "form-lz64", "form-json"])
def test_every_compression_variant_decodes(variant):
    batch = [event(), event("pay")]
    raw = body_of(batch)
    body, query, content_type = {
        "plain": (raw, {}, JSON),
        "gzip": (gzip.compress(raw), {}, JSON),  # posthog-js marks nothing: the magic bytes tell
        "gzip-js": (gzip.compress(raw), {"compression": "gzip-js"}, "text/plain"),
        "base64": (base64.b64encode(raw), {"compression": "base64"}, "text/plain"),
        "lz64": (LZString.compressToBase64(raw.decode()).encode(), {"compression": "lz64"}, "text/plain"),
        "form-base64": (b"data=" + base64.b64encode(raw).replace(b"+", b"%2B"), {}, "application/x-www-form-urlencoded"),
        "form-lz64": (b"compression=lz64&data=" + LZString.compressToBase64(raw.decode()).replace("+", "%2B").encode(), {},
                      "application/x-www-form-urlencoded"),  # fmt: skip
        "form-json": (b"data=" + raw.replace(b'"', b"%22"), {}, "application/x-www-form-urlencoded"),
    }[variant]
    events, single, _ = decode_request(body, query, content_type, LIMIT)
    assert events == batch and not single


def test_batch_envelope_and_single_events_and_the_key_wherever_it_travels():
    events, single, fields = decode_request(body_of({"api_key": APP_KEY, "batch": [event()], "sent_at": "x"}), {}, JSON, LIMIT)
    assert len(events) == 1 and not single and request_key(events, fields, {}) == APP_KEY
    events, single, fields = decode_request(body_of(event(properties={"token": "t-1"})), {}, JSON, LIMIT)
    assert single and request_key(events, fields, {}) == "t-1"
    assert request_key(events, fields, {"token": "from-url"}) == "from-url"
    assert request_key([event()], {}, {}) == ""


@pytest.mark.parametrize(
    ("body", "query", "status", "reason"),
    [
        (b"!!!not base64!!!", {"compression": "base64"}, 400, "is not base64"),
        (b"{not gzip", {"compression": "gzip-js"}, 400, "malformed JSON"),
        (b"plainly not gzip", {"compression": "gzip-js"}, 400, "is not gzip"),
        (gzip.compress(b"[1,2,3]")[:12], {}, 400, "malformed JSON"),  # truncated gzip: what it held
        (b"%%%%", {"compression": "lz64"}, 400, "is not lz-string base64"),
        (b"A" * (20 * 1024), {"compression": "lz64"}, 413, "lz64 body above"),
        (gzip.compress(b"[" + b"0," * (LIMIT // 2) + b"0]"), {}, 413, "decompressed body exceeds"),
        (body_of({"batch": {"a": 1}}), {}, 400, "batch must be an array"),
        (b"", {}, 400, "empty body"),
    ],
)
def test_hostile_bodies_are_4xx_with_a_reason(body, query, status, reason):
    error = failure(lambda: decode_request(body, query, "text/plain", LIMIT))
    assert error.status == status and reason in error.reason


PROPERTY_FIELDS = st.fixed_dictionaries(
    {}, optional={name: JSON_VALUES for name in ("$lib", "$device_id", "$anon_distinct_id", "alias", "$set", "$elements",
                                                 "$elements_chain", "$event_type", "$screen_width", "token", "$is_identified")},
)  # fmt: skip
EVENT_FIELDS = st.fixed_dictionaries(
    {},
    optional={"event": st.sampled_from(["$pageview", "$autocapture", "$identify", "$create_alias", "$set", "$screen"]) | JSON_VALUES,
              "distinct_id": JSON_VALUES, "timestamp": JSON_VALUES, "offset": JSON_VALUES, "uuid": JSON_VALUES,
              "properties": PROPERTY_FIELDS | JSON_VALUES, "$set": JSON_VALUES, "$set_once": JSON_VALUES, "$unset": JSON_VALUES,
              "api_key": JSON_VALUES},
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(events=st.lists(EVENT_FIELDS | JSON_VALUES, min_size=1, max_size=4), single=st.booleans(), sent_at=JSON_VALUES)
def test_any_events_map_or_are_refused_with_a_4xx(events, single, sent_at):
    try:
        result = map_events(events[:1] if single else events, single, APP_KEY, APP_ID, {"sent_at": sent_at}, NOW)
    except BadRequest as exc:
        assert single and 400 <= exc.status < 500
        return
    assert all(400 <= item["status"] < 500 for item in result.rejected)
    assert len(result.events) + len(result.rejected) <= (1 if single else len(events))


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=80) | st.text(max_size=80).map(str.encode), compression=st.sampled_from(["", "gzip-js", "base64", "lz64", "junk"]),
       form=st.booleans())  # fmt: skip
def test_any_body_decodes_or_is_refused_with_a_4xx(body, compression, form):
    content_type = "application/x-www-form-urlencoded" if form else "text/plain"
    try:
        decode_request(body, {"compression": compression}, content_type, LIMIT)
    except BadRequest as exc:
        assert 400 <= exc.status < 500


# -- the real SDK against the running collector ---------------------------------------------------------------------
def test_the_posthog_python_sdk_sends_events_links_and_person_properties(collector_url, tap):
    run = uuid.uuid4().hex[:8]
    anonymous, user = f"ph-anon-{run}", f"ph-user-{run}"
    client = Posthog(APP_KEY, host=collector_url, sync_mode=True, gzip=True)
    client.capture("$pageview", distinct_id=anonymous, properties={"$device_id": anonymous, "$current_url": "https://shop.example/cart",
                                                                  "$pathname": "/cart", "$screen_width": 390, "$screen_height": 844})  # fmt: skip
    client.capture("add_to_cart", distinct_id=anonymous, properties={"$device_id": anonymous, "product_id": f"p-{run}"})
    client.alias(previous_id=anonymous, distinct_id=user)
    client.set(distinct_id=user, properties={"vip": True})
    client.flush()

    deadline, mine = time.monotonic() + 20, []
    while time.monotonic() < deadline and len(mine) < 3:
        time.sleep(0.2)
        with tap._lock:
            mine = [copies[0] for copies in tap.raw.values() if run in json.dumps(copies[0]["ids"])]
    by_event = {e["event"]: e for e in mine}
    assert sorted(by_event) == ["add_to_cart", "identify", "page_view"], mine
    page = by_event["page_view"]
    assert page["app_id"] == APP_ID and page["ids"] == {"device_id": anonymous} and page["props"]["path"] == "/cart"
    assert page["context"]["url"] == "https://shop.example/cart" and page["context"]["lib"] == "posthog-python"
    assert page["context"]["screen"] == "390x844" and page["context"]["os"]  # the SDK's own $os
    assert by_event["identify"]["ids"] == {"user_id": user, "device_id": anonymous}


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "reason"),
    [
        ("/batch/", body_of({"api_key": "no-such-key", "batch": [event()]}), {}, 401, "unknown app key"),
        ("/batch/", body_of({"batch": [event()]}), {}, 401, "missing project key"),
        ("/e/?compression=gzip-js", b"not gzip", {}, 400, "is not gzip"),
        ("/i/v0/e/?compression=base64", b"%%%", {}, 400, "is not base64"),
        ("/capture/", gzip.compress(b"{broken"), {}, 400, "malformed JSON"),
        ("/e/", b"x" * (2 << 20), {}, 413, "exceeds the limit"),
        ("/e/", body_of(event(api_key=APP_KEY, distinct_id=None)), {}, 400, "distinct_id is required"),
    ],
)
def test_bad_requests_over_http_are_4xx_json(collector_url, path, body, headers, status, reason):
    answer = httpx.post(f"{collector_url}{path}", content=body, headers={"content-type": "text/plain", **headers})
    assert answer.status_code == status and reason in answer.json()["error"]


def test_posthog_js_start_requests_get_the_minimal_answers(collector_url):
    """posthog-js asks for its remote config and its flags before capturing: both answer that nothing is enabled and
    that gzip is taken (the flags request as posthog-js sends it: a base64 form); an unknown key is a 401."""
    config = httpx.get(f"{collector_url}/array/{APP_KEY}/config")
    assert config.status_code == 200 and config.json()["supportedCompression"] == ["gzip", "gzip-js"]
    assert config.json()["token"] == APP_KEY and config.json()["hasFeatureFlags"] is False
    form = {"data": base64.b64encode(json.dumps({"token": APP_KEY, "distinct_id": "d-1", "groups": {}}).encode()).decode()}
    for path in ("/flags/?v=2&compression=base64", "/decide/?v=3"):
        flags = httpx.post(f"{collector_url}{path}", data=form)
        assert flags.status_code == 200 and flags.json()["flags"] == {} and flags.json()["featureFlags"] == {}
    gzipped = httpx.post(f"{collector_url}/flags/?v=2", content=gzip.compress(json.dumps({"token": APP_KEY}).encode()))
    assert gzipped.status_code == 200 and gzipped.json()["errorsWhileComputingFlags"] is False
    assert httpx.get(f"{collector_url}/array/nope/config").status_code == 401
    refused = httpx.post(f"{collector_url}/flags/?v=2", content=b'{"distinct_id": "d-1"}')
    assert refused.status_code == 401 and "api_key or token" in refused.json()["error"]
