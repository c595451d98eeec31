"""Audience rules (pipelines/audiences/rules.py) against an independent pandas evaluation of the same generated events and
tag history, on the session's real warehouse; hypothesis draws the rule trees. Persons of this module are numbered
from FIRST_PERSON so no other test's persons or tags share their OneIDs."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pipelines.cdp import store
from pipelines.audiences.definitions import Invalid, check_rule
from pipelines.audiences.rules import RuleDefinition, compile_rule

APP = "audience-rules"
FIRST_PERSON = 7_100_000
END = dt.date(2026, 11, 20)
NOW = dt.datetime.combine(END + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
LEVELS = ["gold", "silver", "bronze"]
TAG_LEVEL, TAG_SCORE = "c2_level", "c2_score"
EVENTS = ["order", "product_view", "add_to_cart", "search"]


@pytest.fixture(scope="module")
def data(warehouse):
    from pipelines.demogen import DemoSpec, generate_frame, insert_frame

    events = generate_frame(DemoSpec(events=6_000, persons=500, days=30, end=END, app_id=APP, seed=20, first_person=FIRST_PERSON))
    insert_frame(warehouse, events)
    rng = np.random.default_rng(20)
    persons = events["oneid"].unique()
    rows = []
    # A history per person and tag: up to three values in order, the last possibly a deletion; plus some persons
    # tagged who have no events at all.
    tagged = list(rng.choice(persons, size=300, replace=False)) + [f"oneid:{FIRST_PERSON + 900 + i}" for i in range(30)]
    for oneid in tagged:
        for tag in (TAG_LEVEL, TAG_SCORE):
            if rng.random() < 0.25:
                continue
            start = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=int(rng.integers(0, 10_000)))
            for step in range(int(rng.integers(1, 4))):
                value = str(rng.choice(LEVELS)) if tag == TAG_LEVEL else str(int(rng.integers(0, 100)))
                rows.append({"oneid": oneid, "tag": tag, "value": value, "updated": start + dt.timedelta(hours=step), "deleted": 0})
            if rng.random() < 0.15:
                rows.append({**rows[-1], "updated": start + dt.timedelta(hours=5), "deleted": 1})
    tags = pd.DataFrame(rows)
    store.write_tags(warehouse, tags, source="c2-test")
    return events, tags


# -- the reference ------------------------------------------------------------------------------------------------
def current_tags(tags: pd.DataFrame) -> pd.DataFrame:
    latest = tags.sort_values("updated").groupby(["oneid", "tag"]).tail(1)
    return latest[latest["deleted"] == 0]


def tag_persons(tags: pd.DataFrame, rule: dict) -> set[str]:
    current = current_tags(tags)
    current = current[current["tag"] == rule["tag"]]
    op, value = rule["op"], rule.get("value")
    base = {"!=": "=", "not_in": "in", "is_not_set": "is_set"}.get(op, op)
    if base == "=":
        held = current["value"] == str(value)
    elif base == "in":
        held = current["value"].isin([str(v) for v in value])
    elif base in (">", "<"):
        numbers = pd.to_numeric(current["value"], errors="coerce")
        held = numbers > value if base == ">" else numbers < value
    else:
        held = pd.Series(True, index=current.index)
    return set(current.loc[held, "oneid"])


def event_persons(events: pd.DataFrame, rule: dict) -> set[str]:
    start = NOW - dt.timedelta(days=rule["days"])
    rows = events[(events["event"] == rule["event"]) & (events["ts"] >= start) & (events["ts"] < NOW)]
    for f in rule.get("filters", []):
        values = rows["props"].map(lambda p: p.get(f["property"]))
        if f["op"] == ">":
            rows = rows[pd.to_numeric(values, errors="coerce") > f["value"]]
        else:
            rows = rows[values == f["value"]]
    counts = rows.groupby("oneid").size()
    return set(counts[counts >= rule.get("at_least", 1)].index)


def negated(rule: dict) -> bool:
    if "not" in rule:
        return True
    if "all" in rule or "any" in rule:
        return any(negated(child) for child in rule.get("all", rule.get("any")))
    return rule.get("op") in ("!=", "not_in", "is_not_set")


def walk(rule: dict):
    yield rule
    for child in rule.get("all", rule.get("any", [rule["not"]] if "not" in rule else [])):
        yield from walk(child)


def reference(events: pd.DataFrame, tags: pd.DataFrame, rule: dict) -> set[str]:
    leaves = [leaf for leaf in walk(rule) if "tag" in leaf or "event" in leaf]
    universe: set[str] = set()
    if any("tag" in leaf for leaf in leaves):
        universe |= set(current_tags(tags)["oneid"])
    event_leaves = [leaf for leaf in leaves if "event" in leaf]
    if event_leaves:
        window = max(leaf["days"] for leaf in event_leaves)
        universe |= set(events.loc[(events["ts"] >= NOW - dt.timedelta(days=window)) & (events["ts"] < NOW), "oneid"])

    def holds(node: dict) -> set[str]:
        if "all" in node:
            return set.intersection(*(holds(child) for child in node["all"]))
        if "any" in node:
            return set.union(*(holds(child) for child in node["any"]))
        if "not" in node:
            return universe - holds(node["not"])
        if "tag" in node:
            persons = tag_persons(tags, node)
            return universe - persons if node["op"] in ("!=", "not_in", "is_not_set") else persons
        return event_persons(events, node)

    return holds(rule) & universe


def members(analyst, rule: dict) -> set[str]:
    query = compile_rule(RuleDefinition.model_validate({"app_id": APP, "rule": rule}), NOW)
    return {row[0] for row in analyst.rows(query.sql, query.parameters)}


def mine(oneids: set[str]) -> set[str]:
    """This module's persons (tags of other tests' persons may be in a negated rule's universe)."""
    return {o for o in oneids if o.startswith("oneid:") and int(o.split(":")[1]) >= FIRST_PERSON and int(o.split(":")[1]) < FIRST_PERSON + 1000}


# -- rules drawn by hypothesis ----------------------------------------------------------------------------------------
tag_rules = st.one_of(
    st.builds(lambda op, v: {"tag": TAG_LEVEL, "op": op, "value": v}, st.sampled_from(["=", "!="]), st.sampled_from(LEVELS)),
    st.builds(lambda op, v: {"tag": TAG_LEVEL, "op": op, "value": v}, st.sampled_from(["in", "not_in"]),
              st.lists(st.sampled_from(LEVELS), min_size=1, max_size=2, unique=True)),  # fmt: skip
    st.builds(lambda op, v: {"tag": TAG_SCORE, "op": op, "value": v}, st.sampled_from([">", "<"]), st.integers(0, 100)),
    st.builds(lambda op, t: {"tag": t, "op": op}, st.sampled_from(["is_set", "is_not_set"]), st.sampled_from([TAG_LEVEL, TAG_SCORE])),
)
event_rules = st.builds(
    lambda event, at_least, days, filters: {"event": event, "at_least": at_least, "days": days, "filters": filters},
    st.sampled_from(EVENTS),
    st.integers(1, 4),
    st.integers(1, 30),
    st.sampled_from([[], [{"property": "price", "op": ">", "value": 300}], [{"property": "category", "op": "=", "value": "toys"}]]),
)
rules = st.recursive(
    st.one_of(tag_rules, event_rules),
    lambda children: st.one_of(
        st.builds(lambda c: {"all": c}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda c: {"any": c}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda c: {"not": c}, children),
    ),
    max_leaves=5,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rule=rules)
def test_rules_equal_the_pandas_reference(data, analyst, rule):
    events, tags = data
    got, expected = members(analyst, rule), reference(events, tags, rule)
    if negated(rule):
        assert mine(got) == mine(expected), rule
    else:
        assert got == expected, rule


def test_hand_picked_rules_are_not_vacuous(data, analyst):
    """The drawn rules could all be empty or everyone: these are neither, and equal the reference."""
    events, tags = data
    for rule in (
        {"tag": TAG_LEVEL, "op": "=", "value": "gold"},
        {"all": [{"tag": TAG_SCORE, "op": ">", "value": 50}, {"event": "product_view", "at_least": 2, "days": 14}]},
        {"all": [{"event": "product_view", "days": 30}, {"not": {"event": "order", "days": 30}}]},
    ):
        got, expected = members(analyst, rule), reference(events, tags, rule)
        assert 0 < len(mine(expected)) < len(events["oneid"].unique()) + 30, rule
        assert mine(got) == mine(expected), rule


def test_unknown_tag_and_event_are_refused_by_name(data, analyst):
    definition = RuleDefinition.model_validate(
        {"app_id": APP, "rule": {"all": [{"tag": "c2_no_such_tag", "op": "is_set"}, {"event": "c2_no_such_event", "days": 7}]}}
    )
    with pytest.raises(Invalid) as refused:
        check_rule(analyst, definition, NOW)
    messages = " ".join(e["message"] for e in refused.value.errors)
    assert "c2_no_such_tag" in messages and "c2_no_such_event" in messages


def test_audience_leaves_pin_the_current_version(data, analyst, warehouse):
    """An audience in a rule reads the version current when the rule is checked (as the filters pin it)."""
    events, tags = data
    persons = sorted(events["oneid"].unique())
    store.write_members(warehouse, "c2_rules_half", persons[::2], "rule", "test", 10_000)
    rule = {"all": [{"audience": "c2_rules_half", "op": "in"}, {"event": "product_view", "days": 30}]}
    definition = check_rule(analyst, RuleDefinition.model_validate({"app_id": APP, "rule": rule}), NOW)
    store.write_members(warehouse, "c2_rules_half", persons[1::2], "rule", "test", 10_000)  # a newer version
    query = compile_rule(definition, NOW)
    got = {row[0] for row in analyst.rows(query.sql, query.parameters)}
    assert got == set(persons[::2]) & event_persons(events, {"event": "product_view", "days": 30})
    outside = {"all": [{"audience": "c2_rules_half", "op": "not_in"}, {"tag": TAG_LEVEL, "op": "=", "value": "gold"}]}
    definition = check_rule(analyst, RuleDefinition.model_validate({"app_id": APP, "rule": outside}), NOW)
    query = compile_rule(definition, NOW)
    got = {row[0] for row in analyst.rows(query.sql, query.parameters)}
    assert mine(got) == tag_persons(tags, {"tag": TAG_LEVEL, "op": "=", "value": "gold"}) - set(persons[1::2])
