"""The analysis API under hostile bodies, tried as an attacker would: over-long strings, numbers of thousands of
digits or beyond 64 bits, NaN/Infinity, deep nesting, huge arrays, bodies that are not UTF-8 or not JSON at all.
Each gets a 4xx with a reason (the field named where there is one) - never a 5xx or a traceback. Then hypothesis
over wide JSON inputs, with the real warehouse behind the API for whatever passes validation."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st
from starlette.testclient import TestClient

from pipelines.analysis.api import MAX_REPORTED_ERRORS, ApiSettings, create_app

from .conftest import APP

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SCOPE = {"app_id": APP, "date_from": "2026-11-01", "date_to": "2026-11-08"}
BASES = {
    "event": {"model": "event", **SCOPE, "metrics": [{"event": "view"}], "group_by": ["platform"]},
    "funnel": {"model": "funnel", **SCOPE, "steps": [{"event": "view"}, {"event": "cart"}], "breakdown": "platform",
               "persons": {"step": 2, "limit": 5}},
    "retention": {"model": "retention", **SCOPE, "initial": {"event": "view"}, "returning": {"event": "cart"}, "periods": 3},
    "interval": {"model": "interval", **SCOPE, "start": {"event": "view"}, "end": {"event": "cart"}},
    "distribution": {"model": "distribution", **SCOPE, "event": {"event": "view"}},
    "paths": {"model": "paths", **SCOPE, "item": "url", "start": {"event": "$any"}, "cleaning": [{"pattern": "/([0-9]+)", "replacement": "/:id"}],
              "persons": {"step": 1, "source": "/a", "target": "/b"}},
    "lifecycle": {"model": "lifecycle", **SCOPE, "event": {"event": "view"}, "persons": {"period": "2026-11-02", "status": "dormant"}},
    "stickiness": {"model": "stickiness", **SCOPE, "event": {"event": "$any"}, "period": "month"},
}  # fmt: skip
EVENT = BASES["event"]
FUNNEL = BASES["funnel"]
BIG = 2**70  # no 64-bit integer type holds it
DIGITS_5000 = "9" * 5000  # past Python's 4,300-digit int-to-str limit


@pytest.fixture(scope="module")
def client(stack_settings, analyst, loaded):
    app = create_app(stack_settings, ApiSettings(tokens=TOKEN, max_result_rows=10_000), warehouse=analyst, record_heat=False)
    with TestClient(app, raise_server_exceptions=False) as http:
        yield http


def send(client, body: bytes | str, content_type: str | None = "application/json"):
    headers = {**AUTH, **({"Content-Type": content_type} if content_type else {})}
    return client.post("/v1/query", content=body, headers=headers)


def refused(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:500])
    body = response.json()
    assert isinstance(body["error"], str) and "Traceback" not in response.text
    return body


def fields(response) -> list[str]:
    return [error["field"] for error in refused(response, 422)["errors"]]


# -- the three inputs of the issue ----------------------------------------------------------------------------------
def test_a_5000_character_timezone_is_refused_naming_the_field(client):
    assert fields(send(client, json.dumps({**EVENT, "timezone": "A" * 5000}))) == ["timezone"]


@pytest.mark.parametrize("where", ["max_rows", "sample", "date_from"])
def test_a_number_of_5000_digits_is_not_json_we_read(client, where):
    body = json.dumps({**EVENT, where: 0}).replace(f'"{where}": 0', f'"{where}": {DIGITS_5000}')
    assert "number" in refused(send(client, body), 400)["error"]


@pytest.mark.parametrize("body", [
    "[" * 100_000 + "]" * 100_000,
    json.dumps({**EVENT, "filters": "@"}).replace('"@"', "[" * 100_000 + "]" * 100_000),
    json.dumps({**EVENT, "metrics": "@"}).replace('"@"', '{"a":' * 50_000 + "1" + "}" * 50_000),
])  # fmt: skip
def test_100000_nested_brackets_are_refused(client, body):
    assert "depth" in refused(send(client, body), 400)["error"]


# -- their siblings -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("literal", ["1e400", "-1e400", "NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused(client, literal):
    body = json.dumps({**EVENT, "sample": 0.5}).replace('"sample": 0.5', f'"sample": {literal}')
    refused(send(client, body), 400)


@pytest.mark.parametrize("model, field, value", [
    ("event", "sample", "nan"), ("event", "sample", "inf"), ("distribution", "bucket_edges", [0, "inf"]),
    ("interval", "bucket_edges_seconds", ["-inf", 0]), ("funnel", "max_step_gap_seconds", "Infinity"),
])  # fmt: skip
def test_non_finite_numbers_spelled_as_strings_are_refused(client, model, field, value):
    assert fields(send(client, json.dumps({**BASES[model], field: value})))[0].startswith(field)


@pytest.mark.parametrize("model, path", [
    ("event", ["max_rows"]), ("event", ["sample"]), ("retention", ["periods"]), ("funnel", ["window_seconds"]),
    ("funnel", ["histogram_bins"]), ("funnel", ["min_step_gap_seconds"]), ("funnel", ["max_step_gap_seconds"]),
    ("funnel", ["persons", "step"]), ("funnel", ["persons", "limit"]), ("funnel", ["persons", "offset"]),
])  # fmt: skip
@pytest.mark.parametrize("number", [BIG, -BIG, 2**64, 2**63])
def test_integers_beyond_64_bits_in_every_numeric_field(client, model, path, number):
    body = json.loads(json.dumps(BASES[model]))
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = number
    assert fields(send(client, json.dumps(body))) == [".".join(path)]


@pytest.mark.parametrize("model, field", [("distribution", "bucket_edges"), ("interval", "bucket_edges_seconds")])
def test_huge_bucket_edges_are_answered(client, model, field):
    """Finite doubles near the limit and integers past 64 bits are valid edges: they are answered, not a 5xx."""
    response = send(client, json.dumps({**BASES[model], field: [-BIG, 0, 1e300, 1.7e308]}))
    assert response.status_code == 200, response.text[:500]


@pytest.mark.parametrize("op, value", [(">", BIG), (">", -1.7e308), ("between", [-BIG, BIG]), ("=", BIG), ("in", [BIG, -BIG, 1e300])])
def test_huge_filter_numbers_are_answered(client, op, value):
    body = {**EVENT, "filters": [{"property": "price", "op": op, "value": value}]}
    assert send(client, json.dumps(body)).status_code == 200


LONG = "x" * 5000


@pytest.mark.parametrize("model, change, field", [
    ("event", {"app_id": LONG}, "app_id"),
    ("event", {"metrics": [{"event": LONG}]}, "metrics.0.event"),
    ("event", {"metrics": [{"event": "view", "math": "sum", "property": LONG}]}, "metrics.0.property"),
    ("event", {"group_by": [LONG]}, "group_by.0"),
    ("event", {"filters": [{"property": LONG, "op": "is_set"}]}, "filters.0.property"),
    ("event", {"filters": [{"property": "channel", "op": "=", "value": LONG}]}, "filters.0.value"),
    ("event", {"filters": [{"property": "channel", "op": "in", "value": ["ads", LONG]}]}, "filters.0.value"),
    ("event", {"filters": [{"property": "channel", "op": "regex", "value": LONG}]}, "filters.0.value"),
    ("funnel", {"breakdown": LONG}, "breakdown"),
    ("funnel", {"hold_constant": LONG}, "hold_constant"),
    ("funnel", {"persons": {"step": 2, "breakdown_value": LONG}}, "persons.breakdown_value"),
    ("funnel", {"steps": [{"event": "view"}, {"event": "cart", "filters": [{"property": "p", "op": "contains", "value": LONG}]}]},
     "steps.1.filters.0.value"),
    ("interval", {"same_property": LONG}, "same_property"),
    ("distribution", {"property": LONG, "measure": "sum"}, "property"),
    ("event", {"model": LONG}, "model"),
])  # fmt: skip
def test_over_long_strings_are_refused_naming_the_field(client, model, change, field):
    response = send(client, json.dumps({**BASES[model], **change}))
    assert field in fields(response)
    assert len(response.content) < 2000  # the message does not echo the 5,000 characters back


@pytest.mark.parametrize("model, change, field", [
    ("event", {"filters": [{"property": "channel", "op": "in", "value": ["ads"] * 100_000}]}, "filters.0.value"),
    ("event", {"filters": [{"property": "channel", "op": "in", "value": [1, {"a": []}]}]}, "filters.0.value"),
    ("event", {"filters": [{"property": "channel", "op": "is_set"}] * 10_000}, "filters"),
    ("event", {"metrics": [{"event": "view"}] * 10_000}, "metrics"),
    ("funnel", {"steps": [{"event": "view"}] * 10_000}, "steps"),
    ("distribution", {"bucket_edges": list(range(100_000))}, "bucket_edges"),
])  # fmt: skip
def test_huge_arrays_are_refused_naming_the_field(client, model, change, field):
    assert fields(send(client, json.dumps({**BASES[model], **change}))) == [field]


def test_thousands_of_unknown_fields_get_a_short_answer(client):
    response = send(client, json.dumps({**EVENT, **{f"x{i}": i for i in range(50_000)}}))
    errors = refused(response, 422)["errors"]
    assert len(errors) == MAX_REPORTED_ERRORS + 1 and "more errors" in errors[-1]["message"]


@pytest.mark.parametrize("timezone", ["../../../etc/passwd", "/etc/localtime", "localtime", "UTC\x00", "posix/UTC", ""])
def test_timezones_are_iana_names_not_paths(client, timezone):
    assert fields(send(client, json.dumps({**EVENT, "timezone": timezone}))) == ["timezone"]


@pytest.mark.parametrize("date_from, date_to, timezone", [
    ("0001-01-01", "0001-01-02", "Asia/Shanghai"), ("9999-12-30", "9999-12-31", "America/New_York"),
    ("9999-12-31T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "UTC"), ("1899-12-31", "1900-01-02", "UTC"),
])  # fmt: skip
def test_dates_outside_the_warehouse_range_are_refused(client, date_from, date_to, timezone):
    body = {**EVENT, "date_from": date_from, "date_to": date_to, "timezone": timezone}
    assert "date_from" in fields(send(client, json.dumps(body)))


@pytest.mark.parametrize("body", [
    b'{"model": "event", "app_id": "\xff\xfe"}',  # not UTF-8
    json.dumps(EVENT).encode("utf-16"),  # valid JSON, but not UTF-8
    b'{"model": "event", "app_id": "\\ud800"}',  # a lone surrogate
    b"", b"   ", b"\x00" * 10, b"model=event",
])  # fmt: skip
def test_bodies_that_are_not_utf8_json_are_refused(client, body):
    refused(send(client, body), 400)


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"])
def test_wrong_content_types_are_refused(client, content_type):
    assert "application/json" in refused(send(client, json.dumps(EVENT), content_type), 415)["error"]


@pytest.mark.parametrize("content_type", [None, "application/json; charset=utf-8", "Application/JSON", "application/vnd.api+json"])
def test_json_content_types_are_served(client, content_type):
    assert send(client, json.dumps(EVENT), content_type).status_code == 200


def test_a_pattern_the_warehouse_cannot_compile_is_the_requests_fault(client):
    body = {**EVENT, "filters": [{"property": "channel", "op": "regex", "value": "(unclosed"}]}
    assert "regular expression" in refused(send(client, json.dumps(body)), 422)["error"]


# -- hypothesis: wide JSON inputs, never a 5xx -----------------------------------------------------------------------
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
RAW = "\u0000raw:"  # a string standing for JSON text spliced in verbatim (json.dumps cannot write these)


def raw(text: str) -> str:
    return RAW + text.encode().hex()


def dumps(value) -> str:
    return re.sub(r'"\\u0000raw:([0-9a-f]*)"', lambda m: bytes.fromhex(m[1]).decode(), json.dumps(value))


names = st.sampled_from(["view", "cart", "price", "channel", "platform", "product_id", "", "x" * 101, "a'b", "$x:y-z"])
long_texts = st.builds(lambda char, n: char * n, st.characters(), st.integers(0, 6000))
huge_numbers = st.builds(lambda sign, n, exp: raw(f"{sign}{'9' * n}{exp}"), st.sampled_from(["", "-"]), st.integers(1, 6000),
                         st.sampled_from(["", ".5", "e400", "e-400", "E+20"]))  # fmt: skip
deep = st.integers(1, 120_000).flatmap(lambda d: st.sampled_from([raw("[" * d + "]" * d), raw('{"a":' * d + "1" + "}" * d)]))
non_finite = st.sampled_from(["NaN", "Infinity", "-Infinity"]).map(raw)
plain = (
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30) | names
    | st.sampled_from(["inf", "NaN", "1e400", "2026-11-01", "2026-11-01T00:00:00+14:00", "9999-12-31", "Asia/Shanghai", "day"])
)  # fmt: skip
hostile = long_texts | huge_numbers | deep | non_finite
json_values = st.recursive(
    plain | plain | plain | hostile,  # mostly plain, so that many requests get past validation into the warehouse
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=12) | names, children, max_size=5),
    max_leaves=30,
)
filters = st.fixed_dictionaries(
    {"property": names, "op": st.sampled_from(["=", "!=", "in", "not_in", "contains", "regex", ">", "<", "between", "is_set", "is_not_set"])},
    optional={"value": plain | st.lists(plain, max_size=4) | hostile},
)


@st.composite
def mangled_requests(draw) -> dict:
    """A valid request of some model with a few fields replaced, removed or added by arbitrary JSON."""
    body = json.loads(json.dumps(BASES[draw(st.sampled_from(sorted(BASES)))]))
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(sorted(body) + ["filters", "sample", "timezone", "refresh", "bogus"]))
        action = draw(st.sampled_from(["replace", "replace", "filters", "drop"]))
        if action == "drop":
            body.pop(key, None)
        elif action == "filters":
            body["filters"] = draw(st.lists(filters, max_size=3))
        else:
            body[key] = draw(json_values)
    return body


@FUZZ
@given(body=mangled_requests())
def test_mangled_requests_never_get_a_5xx(client, body):
    response = send(client, dumps(body))
    event(f"status {response.status_code}")  # --hypothesis-show-statistics: how many reached the warehouse (200)
    assert response.status_code < 500, (body, response.status_code, response.text[:500])
    assert response.status_code == 200 or isinstance(response.json()["error"], str)


@FUZZ
@given(document=json_values)
def test_arbitrary_json_never_gets_a_5xx(client, document):
    response = send(client, dumps(document))
    assert 400 <= response.status_code < 500 and isinstance(response.json()["error"], str)


@FUZZ
@given(body=st.binary(max_size=200))
def test_arbitrary_bytes_never_get_a_5xx(client, body):
    response = send(client, body)
    assert 400 <= response.status_code < 500 and isinstance(response.json()["error"], str)


@pytest.mark.parametrize("path", ["/v1/plan/demo-shop/health", "/v1/plan/demo-shop/query?event=pay"])
@pytest.mark.parametrize("days", [DIGITS_5000, "²", "٣", "-1", "1e3", "0x10", " 7"])
def test_plan_routes_refuse_odd_day_counts(client, path, days):
    """The tracking-plan routes the API serves take `days` from the query string: the same care applies."""
    separator = "&" if "?" in path else "?"
    response = client.get(f"{path}{separator}days={days}", headers=AUTH)
    assert "days must be" in refused(response, 400)["error"]


@pytest.mark.parametrize("spec", [json.dumps(EVENT).replace('"max_rows"', '"x"')[:-1] + f', "max_rows": {DIGITS_5000}}}', "[" * 100_000 + "]" * 100_000, b'{"model": "\xff"}'])
def test_query_cli_refuses_the_same_files_in_one_line(tmp_path, spec):
    """`trackflow query --spec` reads the same requests: a message naming the file, exit 1, no traceback."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    path = tmp_path / "spec.json"
    path.write_bytes(spec if isinstance(spec, bytes) else spec.encode())
    result = CliRunner().invoke(app, ["query", "--spec", str(path)])
    assert result.exit_code == 1 and "not a JSON request" in result.output and "Traceback" not in result.output, result.output


def test_query_cli_names_a_pattern_the_warehouse_cannot_compile(loaded, tmp_path):
    from typer.testing import CliRunner

    from pipelines.cli import app

    path = tmp_path / "spec.json"
    path.write_text(json.dumps({**EVENT, "filters": [{"property": "channel", "op": "regex", "value": "(unclosed"}]}))
    result = CliRunner().invoke(app, ["query", "--spec", str(path)])
    assert result.exit_code == 1 and "not a regular expression" in result.output and "Traceback" not in result.output, result.output
