"""The three inputs that gave the analysis API a 500 (issue 16: a 5,000-character string where a short one is
expected, a JSON number of 5,000 digits, 100,000 nested brackets), sent to the collector: a 4xx with a JSON reason,
or an accepted/quarantined event - never a 5xx. The collector parses with orjson, which refuses the number and the
nesting itself; these tests keep it so if the parser ever changes."""

from __future__ import annotations

import json

import pytest

from tests.collect.conftest import in_process_client, make_event

LONG = "x" * 5000
DIGITS_5000 = "9" * 5000
NESTED = "[" * 100_000 + "]" * 100_000


@pytest.fixture(scope="module")
def client(stack, stack_settings, tmp_path_factory):
    with in_process_client(stack_settings, tmp_path_factory.mktemp("hostile-spool"), port=1) as test_client:
        yield test_client


def splice(event: dict, field: str, raw_json: str) -> str:
    """The event as JSON with `field`'s value replaced by raw JSON text (json.dumps cannot write these)."""
    return json.dumps({**event, field: "@"}).replace('"@"', raw_json)


def handled(response) -> int:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400:
        assert isinstance(response.json()["error"], str)
    return response.status_code


@pytest.mark.parametrize("path", ["/v1/events", "/v1/batch"])
@pytest.mark.parametrize("body", [
    NESTED,
    splice(make_event(), "props", NESTED),
    splice(make_event(), "ts", DIGITS_5000),
    splice(make_event(), "props", '{"amount": ' + DIGITS_5000 + "}"),
    splice(make_event(), "ts", "1e400"),
    splice(make_event(), "ts", "NaN"),
])  # fmt: skip
def test_huge_numbers_and_deep_nesting_are_refused(client, path, body):
    body = body if path == "/v1/events" or body.startswith("[") else f"[{body}]"
    assert handled(client.post(path, content=body)) == 400


@pytest.mark.parametrize("change", [
    {"event": LONG}, {"event_id": LONG}, {"session_id": LONG}, {"ids": {"device_id": LONG}}, {"ids": {LONG: "d"}},
    {"context": {"platform": LONG}}, {"context": {"platform": "web", "url": LONG}}, {"props": {LONG: 1}},
    {"props": {"note": LONG}}, {"ts": LONG},
])  # fmt: skip
def test_5000_character_strings_are_answered_without_a_5xx(client, change):
    handled(client.post("/v1/events", content=json.dumps({**make_event(), **change})))


def test_a_5000_character_beacon_is_answered_without_a_5xx(client):
    assert client.get("/v1/p.gif", params={"data": LONG}).status_code < 500
    assert client.get("/v1/p.gif", params={"data": NESTED[:20_000]}).status_code < 500
