"""Sensors Analytics intake: the pure mapping (records -> envelopes, malformed variants -> 4xx with a reason)
and the real Python SDK (`sensorsanalyticssdk`) sending to the running collector, checked on events.raw."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import time
import uuid

import httpx
import orjson
import pytest
import sensorsanalytics
from hypothesis import assume, given, settings, strategies as st

from pipelines.collect.intake import BadRequest
from pipelines.collect.protocols import content_ids
from pipelines.collect.protocols.sensors import EVENT_ID_NAMESPACE, decode_request, map_record, map_records
from tests.collect.conftest import APP_ID, APP_KEY
from tests.collect.protocol_cases import JSON_VALUES, failure

FORM = "application/x-www-form-urlencoded"
LIMIT = 1 << 20


def record(**fields) -> dict:
    base = {"type": "track", "event": "add_to_cart", "time": 1_765_000_000_000, "distinct_id": "anon-1",
            "lib": {"$lib": "js", "$lib_version": "1.26.0"}, "properties": {"product_id": "p-1"}}  # fmt: skip
    base.update(fields)
    return base


def encoded(document, compress: bool) -> str:
    raw = json.dumps(document).encode()
    return base64.b64encode(gzip.compress(raw) if compress else raw).decode()


# -- the pure mapping ---------------------------------------------------------------------------------------------
def test_web_page_view_presets_become_typed_context_and_the_rest_stays_in_props():
    sent = record(event="$pageview", properties={
        "$url": "https://shop.example/p?x=1", "$referrer": "https://search.example/", "$title": "Shoes", "$url_path": "/p",
        "$os": "Mac", "$os_version": "14.1", "$screen_width": 1440, "$screen_height": 900, "$lib": "js",
        "$lib_version": "1.26.0", "$is_first_day": True, "campaign": "spring", "$utm_source": "news"})  # fmt: skip
    envelope = map_record(sent, APP_KEY, APP_ID)
    assert envelope["event"] == "page_view" and envelope["ts"] == 1_765_000_000_000
    assert envelope["ids"] == {"cookie_id": "anon-1"}
    assert envelope["context"] == {"platform": "web", "url": "https://shop.example/p?x=1", "referrer": "https://search.example/",
                                   "title": "Shoes", "os": "Mac", "os_version": "14.1", "lib": "js", "lib_version": "1.26.0",
                                   "screen": "1440x900", "screen_width": 1440, "screen_height": 900, "utm_source": "news"}  # fmt: skip
    assert envelope["props"] == {"path": "/p", "$is_first_day": True, "campaign": "spring"}


def test_app_click_elements_become_the_native_click_properties():
    sent = record(event="$AppClick", lib={"$lib": "Android", "$lib_version": "6.8.0"}, properties={
        "$element_content": "Buy", "$element_selector": "#buy", "$element_type": "Button", "$app_version": "3.2.0",
        "$model": "Pixel 8", "$manufacturer": "Google", "$network_type": "WIFI", "$carrier": "CMCC"})  # fmt: skip
    envelope = map_record(sent, APP_KEY, APP_ID)
    assert envelope["event"] == "click" and envelope["ids"] == {"device_id": "anon-1"}
    assert envelope["context"] == {"platform": "android", "app_version": "3.2.0", "lib": "Android", "lib_version": "6.8.0",
                                   "device_model": "Pixel 8", "device_brand": "Google", "network_type": "WIFI", "carrier": "CMCC"}  # fmt: skip
    assert envelope["props"] == {"element_text": "Buy", "element_path": "#buy", "$element_type": "Button"}


def test_logins_carry_both_ids_in_one_envelope():
    signup = map_record(record(type="track_signup", event="$SignUp", distinct_id="user-9", original_id="anon-1"), APP_KEY, APP_ID)
    assert signup["event"] == "identify" and signup["ids"] == {"user_id": "user-9", "cookie_id": "anon-1"}
    bind = map_record(record(type="track_id_bind", event="$BindID", distinct_id="user-9", identities={"$identity_login_id": "user-9",
                                                                                                    "$identity_cookie_id": "anon-1"}), APP_KEY, APP_ID)  # fmt: skip
    assert bind["event"] == "identify" and bind["ids"] == {"user_id": "user-9", "cookie_id": "anon-1"}
    newer = record(distinct_id="user-9", login_id="user-9", anonymous_id="anon-1", properties={"$is_login_id": True})
    assert map_record(newer, APP_KEY, APP_ID)["ids"] == {"user_id": "user-9", "cookie_id": "anon-1"}
    with_identities = record(distinct_id="user-9", identities={"$identity_login_id": "user-9", "$identity_anonymous_id": "anon-1",
                                                                 "$identity_mp_openid": "o-7"})  # fmt: skip
    assert map_record(with_identities, APP_KEY, APP_ID)["ids"] == {"user_id": "user-9", "cookie_id": "anon-1", "wx_openid": "o-7"}


def test_event_id_is_stable_across_re_sends_and_differs_between_records():
    first = record(_track_id=123456, _flush_time=1_765_000_000_500)
    resent = dict(first, _flush_time=1_765_000_009_000)
    assert map_record(first, APP_KEY, APP_ID)["event_id"] == map_record(resent, APP_KEY, APP_ID)["event_id"]
    assert map_record(first, APP_KEY, APP_ID)["event_id"] != map_record(dict(first, _track_id=7), APP_KEY, APP_ID)["event_id"]
    assert map_record(first, APP_KEY, APP_ID)["event_id"] != map_record(first, APP_KEY, "other-app")["event_id"]
    uuid.UUID(map_record(first, APP_KEY, APP_ID)["event_id"])


@settings(max_examples=200, deadline=None)
@given(record=st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=5), app_id=st.text(min_size=1, max_size=12))
def test_content_ids_are_the_uuid5_of_the_app_and_the_stable_record(record, app_id):
    """The content id's shortcut (no uuid module round trips) gives uuid.uuid5's text: ids stored before it collapse
    with the re-sends after it."""
    try:  # as a request holds it: JSON (no NaN), integers beyond 64 bits read as floats (orjson)
        record = orjson.loads(json.dumps(record, allow_nan=False))
    except ValueError:
        assume(False)
    stable = {name: value for name, value in record.items() if name != "_flush_time"}
    name = app_id.encode() + b"\n" + orjson.dumps(stable, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    expected = uuid.UUID(bytes=hashlib.sha1(EVENT_ID_NAMESPACE.bytes + name).digest()[:16], version=5)
    assert content_ids(EVENT_ID_NAMESPACE, app_id, volatile=("_flush_time",))({**record, "_flush_time": 1}) == str(expected)


@pytest.mark.parametrize("compress", [False, True])
def test_single_and_batched_requests_decode_from_form_and_query(compress):
    gz = "1" if compress else "0"
    form = f"data={encoded(record(), compress)}&gzip={gz}".replace("+", "%2B").encode()
    assert decode_request(form, {}, FORM, LIMIT) == ([record()], True)
    records, single = decode_request(b"", {"data_list": encoded([record(), record(event="pay")], compress), "gzip": gz}, "", LIMIT)
    assert not single and [r["event"] for r in records] == ["add_to_cart", "pay"]


@pytest.mark.parametrize(
    ("params", "status", "reason"),
    [
        ({"data": "!!not base64!!"}, 400, "`data` is not base64"),
        ({"data": base64.b64encode(b"not gzip").decode(), "gzip": "1"}, 400, "is not base64 of gzip"),
        ({"data": base64.b64encode(b"{broken").decode()}, 400, "malformed JSON"),
        ({"data_list": encoded(record(), False)}, 400, "data_list must decode to a JSON array"),
        ({}, 400, "needs a `data` or `data_list`"),
    ],
)
def test_malformed_requests_are_4xx_with_a_reason(params, status, reason):
    error = failure(lambda: decode_request(b"", params, "", LIMIT))
    assert error.status == status and reason in error.reason


@pytest.mark.parametrize(
    ("fields", "status", "reason"),
    [
        ({"distinct_id": ""}, 400, "distinct_id is required"),
        ({"distinct_id": {"id": 1}}, 400, "distinct_id must be a string"),
        ({"time": "yesterday"}, 400, "time must be the client time"),
        ({"properties": ["a"]}, 400, "properties must be an object"),
        ({"type": "teleport"}, 400, "'teleport' is not a Sensors record type"),
        ({"type": "profile_increment"}, 422, "profile_increment is not supported"),
        ({"type": "profile_delete"}, 422, "profile_delete is not supported"),
        ({"type": "profile_set"}, 400, "is a person update, not an event"),
        ({"type": "item_set"}, 422, "item records are not supported"),
        ({"project": "someone_else"}, 403, "is not this URL's project"),
        ({"type": "track_signup", "original_id": None}, 400, "track_signup needs original_id"),
        ({"identities": "x"}, 400, "identities must be an object"),
    ],
)
def test_malformed_records_are_4xx_with_a_reason(fields, status, reason):
    error = failure(lambda: map_record(record(**fields), APP_KEY, APP_ID))
    assert error.status == status and reason in error.reason


def test_a_batch_lists_each_unmappable_record_and_keeps_the_rest():
    mapped = map_records([record(), record(type="item_set"), "junk", record(event="pay")], False, APP_KEY, APP_ID)
    assert [e["event"] for e in mapped.events] == ["add_to_cart", "pay"] and mapped.record_indexes == [0, 3]
    assert [(r["index"], r["status"]) for r in mapped.rejected] == [(1, 422), (2, 400)]


def profile(kind: str, properties: dict, **fields) -> dict:
    return record(type=kind, event=None, properties={"$is_login_id": True, **properties}, distinct_id="user-9", **fields)


def test_profile_records_become_person_updates_of_the_login_id():
    records = [profile("profile_set", {"vip": True, "city": "Leeds"}), profile("profile_set_once", {"first_seen": "2026-01-02"}),
               profile("profile_append", {"tags": ["a", "b"]}), profile("profile_unset", {"city": True}),
               record(type="profile_set", event=None, properties={"plan": "free"}, lib={"$lib": "Android"})]  # fmt: skip
    mapped = map_records(records, False, APP_KEY, APP_ID)
    assert not mapped.events and not mapped.rejected
    updates = [(u["op"], u["ids"], u["properties"]) for u in mapped.person_updates]
    assert updates == [
        ("set", {"user_id": "user-9"}, {"vip": True, "city": "Leeds"}),
        ("set_once", {"user_id": "user-9"}, {"first_seen": "2026-01-02"}),
        ("append", {"user_id": "user-9"}, {"tags": ["a", "b"]}),
        ("unset", {"user_id": "user-9"}, {"city": None}),
        ("set", {"device_id": "anon-1"}, {"plan": "free"}),  # not a login id: the anonymous id's person
    ]
    assert {u["ts"] for u in mapped.person_updates} == {1_765_000_000_000} and {u["source"] for u in mapped.person_updates} == {"sensors"}
    resent = map_records([dict(records[0], _flush_time=99)], False, APP_KEY, APP_ID).person_updates[0]
    assert resent["update_id"] == mapped.person_updates[0]["update_id"] != mapped.person_updates[1]["update_id"]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"type": "profile_append", "properties": {"tags": "a"}}, "append needs a list of items for 'tags'"),
        ({"type": "profile_set", "properties": {"": 1}}, "a person property name is 1 to 200 characters"),
        ({"type": "profile_set", "distinct_id": ""}, "distinct_id is required"),
        ({"type": "profile_set", "time": None}, "time must be the client time"),
    ],
)
def test_malformed_profile_records_are_400_with_a_reason(fields, reason):
    error = failure(lambda: map_records([record(**fields)], True, APP_KEY, APP_ID))
    assert error.status == 400 and reason in error.reason


RECORD_FIELDS = st.fixed_dictionaries(
    {},
    optional={name: JSON_VALUES for name in ("type", "event", "time", "distinct_id", "original_id", "login_id",
                                             "anonymous_id", "identities", "lib", "properties", "project")},  # fmt: skip
)


@settings(max_examples=300, deadline=None)
@given(records=st.lists(RECORD_FIELDS | JSON_VALUES, min_size=1, max_size=4), single=st.booleans())
def test_any_records_map_or_are_refused_with_a_4xx(records, single):
    try:
        mapped = map_records(records[:1] if single else records, single, APP_KEY, APP_ID)
    except BadRequest as exc:
        assert single and 400 <= exc.status < 500
        return
    assert all(400 <= item["status"] < 500 for item in mapped.rejected)
    assert len(mapped.events) + len(mapped.person_updates) + len(mapped.rejected) == (1 if single else len(records))


@settings(max_examples=200, deadline=None)
@given(data=st.text(max_size=60) | st.binary(max_size=60).map(lambda raw: base64.b64encode(raw).decode()), gz=st.sampled_from(["0", "1"]))
def test_any_data_field_decodes_or_is_refused_with_a_4xx(data, gz):
    for name in ("data", "data_list"):
        try:
            decode_request(b"", {name: data, "gzip": gz}, "", LIMIT)
        except BadRequest as exc:
            assert 400 <= exc.status < 500


# -- the real SDK against the running collector ---------------------------------------------------------------------
def test_the_sensors_python_sdk_sends_page_views_events_and_logins(collector_url, tap):
    run = uuid.uuid4().hex[:8]
    anonymous, user = f"anon-{run}", f"user-{run}"
    analytics = sensorsanalytics.SensorsAnalytics(sensorsanalytics.DefaultConsumer(f"{collector_url}/sa?project={APP_KEY}"))
    analytics.track(anonymous, "$pageview", {"$url": "https://shop.example/cart", "$title": "Cart", "$url_path": "/cart",
                                             "$screen_width": 390, "$screen_height": 844, "$os": "iOS"})  # fmt: skip
    analytics.track(anonymous, "add_to_cart", {"product_id": f"p-{run}", "quantity": 2})
    analytics.track_signup(user, anonymous, {"method": "phone"})
    batch = sensorsanalytics.SensorsAnalytics(sensorsanalytics.BatchConsumer(f"{collector_url}/sa?project={APP_KEY}", max_size=5))
    for quantity in range(1, 4):
        batch.track(user, "add_to_cart", {"product_id": f"p-{run}", "quantity": quantity}, is_login_id=True)
    batch.flush()

    deadline = time.monotonic() + 20
    mine: list[dict] = []
    while time.monotonic() < deadline and len(mine) < 6:
        time.sleep(0.2)
        with tap._lock:
            mine = [copies[0] for copies in tap.raw.values() if run in json.dumps(copies[0]["ids"])]
    assert len(mine) == 6, mine
    by_event = {}
    for envelope in mine:
        by_event.setdefault(envelope["event"], []).append(envelope)
    [page] = by_event["page_view"]
    assert page["app_id"] == APP_ID and page["ids"] == {"device_id": anonymous}
    assert page["context"]["url"] == "https://shop.example/cart" and page["context"]["title"] == "Cart"
    assert page["context"]["screen"] == "390x844" and page["context"]["lib"] == "python" and page["props"]["path"] == "/cart"
    [login] = by_event["identify"]
    assert login["ids"] == {"user_id": user, "device_id": anonymous} and login["props"]["method"] == "phone"
    carts = sorted((json.dumps(e["ids"], sort_keys=True), e["props"]["quantity"]) for e in by_event["add_to_cart"])
    assert carts == sorted([(json.dumps({"device_id": anonymous}), 2)] + [(json.dumps({"user_id": user}), q) for q in (1, 2, 3)])


def test_the_sdk_profile_calls_are_accepted_and_the_gif_path_answers_a_pixel(collector_url):
    """The profile calls' landing in the warehouse is checked end to end in test_protocol_e2e.py."""
    analytics = sensorsanalytics.SensorsAnalytics(sensorsanalytics.DefaultConsumer(f"{collector_url}/sa?project={APP_KEY}"))
    analytics.profile_set("user-1", {"vip": True}, is_login_id=True)  # raises SensorsAnalyticsNetworkException on a 4xx
    analytics.profile_set_once("user-1", {"first_city": "York"}, is_login_id=True)
    analytics.profile_append("user-1", {"tags": ["a"]}, is_login_id=True)
    analytics.profile_unset("user-1", ["vip"], is_login_id=True)
    answer = httpx.post(f"{collector_url}/sa?project={APP_KEY}", data={"data": encoded(record(type="profile_set", properties={"x": 1}), True), "gzip": "1"})
    assert answer.status_code == 200 and answer.json() == {"status": "ok", "accepted": 0, "quarantined": 0, "person_updates": 1}
    with pytest.raises(sensorsanalytics.SensorsAnalyticsNetworkException):
        analytics.profile_increment("user-1", {"visits": 1}, is_login_id=True)
    pixel = httpx.get(f"{collector_url}/sa.gif", params={"project": APP_KEY, "data": encoded(record(distinct_id=f"gif-{uuid.uuid4().hex[:6]}"), False)})
    assert pixel.status_code == 200 and pixel.headers["content-type"] == "image/gif"


def web_sdk_login(anonymous: str, user: str) -> dict:
    """What sa-sdk-javascript 1.27.11 sends on login(user) in Chromium (captured from the browser test's page): a
    $SignUp with both ids and none of the properties the plan's `signup` requires."""
    ids = {"$identity_cookie_id": anonymous, "$identity_login_id": user, "$identity_anonymous_id": anonymous}
    return {"identities": ids, "distinct_id": user, "lib": {"$lib": "js", "$lib_method": "code", "$lib_version": "1.27.11"},
            "properties": {"$timezone_offset": 0, "$screen_height": 800, "$screen_width": 1000, "$lib": "js", "$lib_version": "1.27.11",
                           "$url": "http://localhost/sensors.html", "$title": "Sensors shop"},
            "login_id": user, "anonymous_id": anonymous, "original_id": anonymous, "type": "track_signup", "event": "$SignUp",
            "time": int(time.time() * 1000), "_track_id": 729758838, "_flush_time": int(time.time() * 1000)}  # fmt: skip


def test_the_web_sdks_login_is_an_accepted_identify_carrying_both_ids(collector_url, tap):
    """The web SDK's login was quarantined by the plan as a `signup` without `method` (the 200 pixel hid it), so the
    events table and OneID never saw the login's link (test_protocol_e2e's browser login test)."""
    run = uuid.uuid4().hex[:8]
    anonymous, user = f"web-anon-{run}", f"web-user-{run}"
    answer = httpx.post(f"{collector_url}/sa?project={APP_KEY}", data={"data": encoded(web_sdk_login(anonymous, user), False)})
    assert answer.status_code == 200 and answer.json() == {"status": "ok", "accepted": 1, "quarantined": 0}, answer.json()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (mine := [c[0] for c in list(tap.raw.values()) if c[0]["ids"].get("user_id") == user]):
        time.sleep(0.1)
    assert [(e["event"], e["ids"]) for e in mine] == [("identify", {"cookie_id": anonymous, "user_id": user})]


@pytest.mark.parametrize(
    ("params", "status", "reason"),
    [
        ({}, 401, "missing project"),
        ({"project": "no-such-key"}, 401, "unknown app key"),
        ({"project": APP_KEY, "data": "%%%"}, 400, "`data` is not base64"),
        ({"project": APP_KEY, "data_list": encoded([record(distinct_id=""), record(type="teleport")], True), "gzip": "1"}, 400, "no record accepted"),
    ],
)
def test_bad_requests_over_http_are_4xx_json(collector_url, params, status, reason):
    answer = httpx.get(f"{collector_url}/sa", params=params)
    assert answer.status_code == status and reason in answer.json()["error"]
