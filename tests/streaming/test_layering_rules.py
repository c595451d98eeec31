"""Layering rules, routing and trimming: pure functions, no JVM. Cases live in tests/streaming/cases/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipelines.layering.publish import ods_records
from pipelines.layering.route import TRIM_MARK, route, trim
from pipelines.layering.rules import RuleSet, RuleSetError, compile_rules, parse_document
from pipelines.streaming.decode import decode_message

CASES = Path(__file__).parent / "cases"
ROUTING = yaml.safe_load((CASES / "routing.yaml").read_text())
INVALID = yaml.safe_load((CASES / "invalid_rules.yaml").read_text())
BASE = {
    "event_id": "5b0c1f0e-8a47-4a8e-9d55-0c3c5b1f4a11",
    "event": "page_view",
    "app_id": "shop",
    "ts": 1_700_000_000_000,
    "ids": {"device_id": "d1"},
    "context": {"platform": "web"},
    "props": {},
}


def envelope(**overrides):
    event = dict(BASE)
    for key, value in overrides.items():
        event[key] = dict(BASE[key], **value) if isinstance(value, dict) and key in ("context",) else value
    return event


@pytest.mark.parametrize("case", ROUTING["cases"], ids=lambda case: json.dumps(case["event"]))
def test_routing_cases(case):
    rules = compile_rules(ROUTING["rules"])
    routed = route(envelope(**case["event"]), rules)
    assert (routed.layer, routed.rule) == (case["layer"], case["rule"])
    assert routed.event["layer"] == case["layer"]


@pytest.mark.parametrize("case", INVALID, ids=lambda case: case["document"])
def test_invalid_documents_are_rejected_with_where_and_why(case):
    with pytest.raises(RuleSetError) as error:
        compile_rules(parse_document(case["document"]))
    assert case["problem"] in str(error.value)


def test_every_problem_is_reported_at_once():
    document = {"rules": [{"name": "a", "layer": "X"}, {"layer": "y"}], "trim": {"max_field_chars": 1}}
    with pytest.raises(RuleSetError) as error:
        compile_rules(document)
    assert len(error.value.problems) == 3


def test_no_rules_routes_everything_to_the_default_layer():
    assert route(envelope(event="pay"), RuleSet()).layer == "default"
    assert RuleSet().layers == ["default"]


def test_layers_lists_default_first_without_repeats():
    assert compile_rules(ROUTING["rules"]).layers == ["default", "trade", "app_search", "vip", "tagged"]


def test_trim_cuts_long_strings_and_drops_fields_without_touching_the_input():
    event = envelope(props={"html": "x" * 100, "short": "ok", "n": 5}, context={"ua": "Mozilla", "url": "u" * 40})
    before = json.dumps(event, sort_keys=True)
    trimmed, changed = trim(event, ("context.ua",), max_chars=20)
    assert json.dumps(event, sort_keys=True) == before
    assert trimmed["props"]["html"] == "x" * 19 + TRIM_MARK and len(trimmed["props"]["html"]) == 20
    assert trimmed["props"]["short"] == "ok" and trimmed["props"]["n"] == 5
    assert "ua" not in trimmed["context"] and trimmed["context"]["url"].endswith(TRIM_MARK)
    assert sorted(changed) == ["context.ua", "context.url", "props.html"]


def test_route_applies_global_and_rule_drops_and_records_them():
    rules = compile_rules(
        {
            "rules": [{"name": "t", "layer": "trade", "match": {"event": "pay"}, "drop_fields": ["props.card"]}],
            "trim": {"drop_fields": ["context.ua"], "max_field_chars": 64},
        }
    )
    routed = route(envelope(event="pay", props={"card": "4111", "amount": 3}, context={"ua": "UA"}), rules)
    assert routed.event["props"] == {"amount": 3}
    assert "ua" not in routed.event["context"]
    assert sorted(routed.event["trimmed"]) == ["context.ua", "props.card"]
    untouched = route(envelope(event="view"), rules)
    assert "trimmed" not in untouched.event


def test_one_ods_record_per_layer_and_shard_keyed_by_the_shard_events_in_order():
    def of(person, n):
        return envelope(event_id=f"00000000-0000-4000-8000-00000000000{n}", ids={"user_id": person, "device_id": "d"})

    alice, carol, dave = [of("alice", n) for n in range(3)], of("carol", 3), of("dave", 4)  # shards 3, 3, 0 of 4
    routed = [("default", alice[0]), ("trade", alice[1]), ("default", dave), ("default", carol), ("default", alice[2])]
    records = ods_records(routed, shards=4)
    assert [(topic, key) for topic, key, _ in records] == [
        ("ods.default", "3"), ("ods.trade", "3"), ("ods.default", "0")
    ]  # fmt: skip
    assert [e["event_id"] for e in decode_message(records[0][2], "dwd")[0]] == [
        alice[0]["event_id"], carol["event_id"], alice[2]["event_id"]
    ]  # fmt: skip
    assert json.loads(records[1][2])["layer"] == "trade" and json.loads(records[1][2])["shard"] == "3"


def test_a_large_ods_group_is_cut_into_messages_under_the_size_limit_in_order():
    events = [envelope(event_id=f"00000000-0000-4000-8000-{n:012d}") for n in range(50)]  # one person: one shard
    size = len(json.dumps(events[0]))
    records = ods_records([("default", event) for event in events], shards=4, max_bytes=10 * size)
    assert len(records) > 1 and all(len(value.encode()) <= 12 * size for _, _, value in records)
    assert len({(topic, key) for topic, key, _ in records}) == 1
    assert [e["event_id"] for _, _, value in records for e in decode_message(value, "dwd")[0]] == [
        e["event_id"] for e in events
    ]
