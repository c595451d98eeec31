"""Fuzzing (hypothesis) of bodies, headers and event shapes against the collector app in process (same code as
the service, real broker behind it): never a 5xx, always a JSON reason. Plus the rate limiter."""

from __future__ import annotations

import gzip
import json
import string

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pipelines.collect.limits import TokenBucket
from tests.collect.conftest import APP_KEY, in_process_client, make_event

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)
header_text = st.text(alphabet=string.printable.strip() + " ", max_size=60)


def event_shapes():
    """Envelopes whose every field may be missing, of the wrong type or of an odd value; and plausible ones with
    odd event names and properties (to reach the tracking-plan checks)."""
    base = make_event("click", x=1, y=2)
    mangled = st.fixed_dictionaries({}, optional={name: st.one_of(st.just(value), json_values) for name, value in base.items()})
    props = st.dictionaries(st.sampled_from(["x", "y", "element_path", "depth", "amount", "currency", "zzz"]), json_values, max_size=4)
    names = st.sampled_from(["click", "pay", "scroll_depth", "add_to_cart", "teleport", "", "x" * 200])
    plausible = st.fixed_dictionaries({**{k: st.just(v) for k, v in base.items() if k not in ("event", "props")}, "event": names, "props": props})
    return st.one_of(mangled, plausible)


@pytest.fixture(scope="module")
def client(stack, stack_settings, tmp_path_factory):
    with in_process_client(stack_settings, tmp_path_factory.mktemp("fuzz-spool"), port=1) as test_client:
        yield test_client


def assert_handled(answer) -> None:
    assert answer.status_code < 500, (answer.status_code, answer.text[:300])
    if answer.headers.get("content-type", "").startswith("application/json"):
        body = answer.json()
        assert answer.status_code in (200, 202) or isinstance(body.get("error"), str)


@FUZZ
@given(body=st.binary(max_size=300), path=st.sampled_from(["/v1/events", "/v1/batch"]), gz=st.booleans())
def test_arbitrary_bytes(client, body, path, gz):
    headers = {"Content-Encoding": "gzip"} if gz else {}
    assert_handled(client.post(path, content=gzip.compress(body) if gz and body[:1] != b"x" else body, headers=headers))


@FUZZ
@given(document=json_values, path=st.sampled_from(["/v1/events", "/v1/batch"]))
def test_arbitrary_json(client, document, path):
    assert_handled(client.post(path, content=json.dumps(document)))


@FUZZ
@given(events=st.lists(event_shapes(), min_size=1, max_size=4))
def test_event_shapes(client, events):
    assert_handled(client.post("/v1/batch", json=events))
    assert_handled(client.post("/v1/events", json=events[0]))


@FUZZ
@given(key=header_text, ua=header_text, encoding=st.sampled_from(["", "gzip", "identity", "br", "GZIP"]), origin=header_text, data=st.text(max_size=80))
def test_headers_and_beacons(client, key, ua, encoding, origin, data):
    headers = {"X-App-Key": key, "User-Agent": ua, "Content-Encoding": encoding, "Origin": origin}
    assert_handled(client.post("/v1/events", content=json.dumps(make_event()), headers=headers))
    assert_handled(client.get("/v1/p.gif", params={"key": APP_KEY, "data": data}))


def test_token_bucket_refills_at_its_rate():
    bucket = TokenBucket(rate=2.0, burst=3, updated=0.0)
    assert [bucket.take(now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(now=0.0) == pytest.approx(0.5)
    assert bucket.take(now=0.5) == 0.0


def test_rate_limit_answers_429_with_retry_after(stack, stack_settings, tmp_path):
    limited = stack_settings.model_copy(update={"collector_rate_per_s": 0.5, "collector_burst": 3})
    with in_process_client(limited, tmp_path, port=2) as test_client:
        statuses = [test_client.post("/v1/events", json=make_event()).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        answer = test_client.post("/v1/events", json=make_event())
        assert answer.status_code == 429 and answer.headers["retry-after"] == "2" and "rate limit" in answer.json()["error"]
