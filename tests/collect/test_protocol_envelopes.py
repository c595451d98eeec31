"""What the protocol mappings hand to the collector's envelope checks: `normalize` checks an envelope a mapping made
(MappedEnvelope) only for what the mappings do not guarantee, and must answer exactly as the full checks do for the
same fields in a plain dict (what a native request gives). And Segment's per-request context reuse: messages of
one request with the same `context` get equal, separate envelope contexts."""

from __future__ import annotations

import pytest

from pipelines.collect.intake import BadRequest, MappedEnvelope, normalize
from pipelines.collect.protocols import posthog, segment, sensors
from tests.collect.conftest import APP_ID, APP_KEY

NOW = 1_765_000_000_000


def sensors_envelopes(**fields):
    record = {"type": "track", "event": "$WebClick", "time": NOW, "distinct_id": "anon-1", "login_id": "user-1",
              "identities": {"$identity_idfa": "idfa-1", "$identity_cookie_id": ""}, "lib": {"$lib": "js", "$lib_version": "1.26.0"},
              "properties": {"$url": "https://shop.example/p", "$element_content": "Buy", "$page_x": 3}, **fields}  # fmt: skip
    return sensors.map_records([record], False, APP_KEY, APP_ID).events


def posthog_envelopes(sent_at="2025-12-06T05:46:41Z", **fields):
    event = {"event": "$autocapture", "distinct_id": "user-1", "uuid": "0B7F1F0E-5A3C-4C1E-8A77-3E2D9C4B6A10", "timestamp": "2025-12-06T05:46:40Z",
             "properties": {"$lib": "web", "$device_id": "anon-1", "$session_id": "s-1", "$elements_chain": 'a:attr__id="x"', "n": None}}  # fmt: skip
    event.update(fields)
    return posthog.map_events([event], False, APP_KEY, APP_ID, {"sent_at": sent_at}, NOW).events


def segment_envelopes(**fields):
    message = {"type": "identify", "userId": "user-1", "anonymousId": "anon-1", "context": {"device": {"id": "dev-1"}}, "traits": {}, **fields}
    return segment.map_messages([message], False, APP_KEY, APP_ID, {}, NOW).events


def answer(envelope):
    try:
        return normalize(envelope, APP_ID)
    except BadRequest as exc:
        return exc.status, exc.reason, exc.details


CASES = {
    "sensors": sensors_envelopes(),
    "sensors, time past the envelope's range": sensors_envelopes(time=10**15),
    "sensors, event name of 101 characters": sensors_envelopes(event="e" * 101),
    "sensors, event name of 100 characters": sensors_envelopes(event="e" * 100),
    "posthog": posthog_envelopes(),
    "posthog, no props": posthog_envelopes(properties={"$lib": "web"}),
    "posthog, session id of 257 characters": posthog_envelopes(properties={"$lib": "web", "$session_id": "s" * 257}),
    "posthog, offset before the epoch": posthog_envelopes(sent_at="1970-01-01T00:00:01Z", timestamp=None, offset=5000),
    "posthog, sent_at and offset": posthog_envelopes(timestamp=None, offset=1000),
    "segment": segment_envelopes(),
    "segment, group": segment_envelopes(type="group", groupId="g-1", traits={"plan": "pro"}),
}


@pytest.mark.parametrize("case", CASES)
def test_normalize_answers_for_a_mapped_envelope_as_for_the_same_fields_in_a_plain_dict(case):
    [envelope] = CASES[case]
    assert type(envelope) is MappedEnvelope
    plain = dict(envelope)
    assert answer(envelope) == answer(plain)
    if isinstance(normalized := answer(envelope), dict):  # the mapped envelope is the checked one, in the same field order
        assert normalized is envelope and list(normalized) == list(normalize(plain, APP_ID))


def test_mapped_envelopes_of_one_request_own_their_ids_and_context():
    """normalize hands a mapped envelope on as it is and enrichment writes into its context: no two envelopes of a
    request may share a context or ids dict, even when their records are equal."""
    sensors_record = {"type": "track", "event": "$pageview", "time": NOW, "distinct_id": "anon-1", "lib": {"$lib": "js"}, "properties": {"$url": "https://a/"}}
    posthog_event = {"event": "$pageview", "distinct_id": "anon-1", "properties": {"$lib": "web", "$current_url": "https://a/"}}
    segment_message = {"type": "track", "event": "tap", "anonymousId": "anon-1", "context": MOBILE}
    requests = {
        "sensors": sensors.map_records([sensors_record, sensors_record], False, APP_KEY, APP_ID),
        "posthog": posthog.map_events([posthog_event, posthog_event], False, APP_KEY, APP_ID, {}, NOW),
        "segment": segment.map_messages([segment_message, segment_message], False, APP_KEY, APP_ID, {}, NOW),
    }
    for case, mapped in requests.items():
        first, second = (normalize(envelope, APP_ID) for envelope in mapped.events)
        assert first["context"] == second["context"] and first["context"] is not second["context"], case
        assert first["ids"] == second["ids"] and first["ids"] is not second["ids"], case
        first["context"]["enriched"] = True
        assert "enriched" not in second["context"], case


def test_the_fast_path_is_taken_only_by_mapped_envelopes():
    [envelope] = posthog_envelopes()
    forged = {**envelope, "event_id": envelope["event_id"].upper(), "ids": {"user_id": 7, "cookie_id": ""}}
    assert normalize(forged, APP_ID)["event_id"] == envelope["event_id"]  # a plain dict is checked and normalised
    assert normalize(forged, APP_ID)["ids"] == {"user_id": "7"}


MOBILE = {"device": {"id": "dev-1", "model": "iPhone15,2", "type": "ios"}, "os": {"name": "iOS", "version": "17.1"},
          "network": {"wifi": True}, "screen": {"width": 393, "height": 852}, "library": {"name": "analytics-ios", "version": "4.1.8"}}  # fmt: skip
WEB = {"page": {"url": "https://shop.example/p", "title": "Shoes"}, "library": {"name": "analytics.js", "version": "next-1.70.0"}}


def test_messages_of_one_request_with_one_context_get_equal_separate_contexts():
    def track(n, context):
        return {"type": "track", "event": "tap", "anonymousId": "anon-1", "timestamp": f"2025-12-06T05:46:40.{n:03d}Z", "context": context}

    messages = [track(0, MOBILE), track(1, WEB), track(2, dict(MOBILE)), track(3, {**MOBILE, "os": {"name": "iOS", "version": "18.0"}})]
    batch = segment.map_messages(messages, False, APP_KEY, APP_ID, {}, NOW).events
    alone = [segment.map_messages([message], False, APP_KEY, APP_ID, {}, NOW).events[0] for message in messages]
    assert [envelope["context"] for envelope in batch] == [envelope["context"] for envelope in alone]
    assert batch[0]["context"] == batch[2]["context"] and batch[0]["context"] is not batch[2]["context"]
    assert batch[3]["context"]["os_version"] == "18.0" and batch[1]["context"]["platform"] == "web"
    # a page call's own properties take part in its context: not reused from a track with the same context
    page = {"type": "page", "anonymousId": "anon-1", "context": WEB, "properties": {"title": "Cart"}}
    [_, page_view] = segment.map_messages([track(4, WEB), page], False, APP_KEY, APP_ID, {}, NOW).events
    assert page_view["context"]["title"] == "Cart"
