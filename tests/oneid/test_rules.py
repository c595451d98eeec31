"""identity.yaml: validation with clear errors, normalisation, blocklists, unknown types, version label."""

from __future__ import annotations

import pytest

from pipelines.identity.links import event_links
from pipelines.identity.rules import RulesError, parse_rules
from pipelines.identity.synthetic import JUNK_VALUES

REQUIRED_TYPES = ("device_id", "user_id", "cookie_id", "wx_openid", "wx_unionid", "phone_hash", "idfa", "android_id")


def test_repository_rules_cover_the_required_types(rules):
    assert set(REQUIRED_TYPES) <= set(rules.types)
    assert rules.types["user_id"].unique and not rules.types["device_id"].unique
    assert rules.label.startswith(f"v{rules.version}@")


@pytest.mark.parametrize("junk", JUNK_VALUES)
@pytest.mark.parametrize("id_type", ["device_id", "user_id", "cookie_id", "idfa", "android_id", "some_new_type"])
def test_every_junk_value_is_blocked_for_every_type(rules, id_type, junk):
    node, reason = rules.normalise(id_type, junk)
    assert node is None and reason in ("blocked_value", "blocked_regex", "empty")


def test_case_rules_make_one_id(rules):
    assert rules.normalise("phone_hash", "ABCdef12")[0] == rules.normalise("phone_hash", " abcdef12 ")[0] == "phone_hash:abcdef12"
    assert rules.normalise("idfa", "a1b2-c3")[0] == "idfa:A1B2-C3"
    assert rules.normalise("user_id", "Alice")[0] != rules.normalise("user_id", "alice")[0]  # preserve


def test_unknown_types_follow_the_unknown_rule(rules):
    assert rules.normalise("loyalty_card", "LC-1")[0] == "loyalty_card:LC-1"
    assert rules.normalise("Bad Type!", "x") == (None, "unknown_type")


def test_event_links_are_a_star_from_the_strongest_id(rules):
    links = event_links(rules, {"cookie_id": "c1", "device_id": "D1", "user_id": "u1", "idfa": "null"}, 5)
    assert [(l.strong, l.weak) for l in links] == [("user_id:u1", "device_id:d1"), ("user_id:u1", "cookie_id:c1")]
    assert event_links(rules, {"device_id": "d9"}, 5)[0][1:] == ("device_id:d9", "device_id:d9")


@pytest.mark.parametrize(
    "text, message",
    [
        ("version: 1\nid_types: {}\n", "id_types"),
        ("version: 1\nid_types: {user_id: {priority: -1}}\n", "id_types.user_id.priority"),
        ("version: 1\nid_types: {user_id: {priority: 1, blocklist: {regexes: ['(']}}}\n", "does not compile"),
        ("version: 1\nid_types: {user_id: {priority: 1, uniq: true}}\n", "uniq"),
        ("id_types: {user_id: {priority: 1}}\n", "version"),
        ("- a list", "expected a mapping"),
    ],
)
def test_invalid_rules_are_one_clear_error(text, message):
    with pytest.raises(RulesError, match=message):
        parse_rules(text, "test.yaml")
