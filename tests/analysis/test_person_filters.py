"""Audience, tag and person-property filters and breakdowns (issue 20 §4, issue 22's person properties) in every
model: each model's response with a person-level filter equals its pandas reference (tests/analysis/reference.py,
test_lifecycle.py) run on the frame narrowed to those persons, or, for the models whose references live with their
own data sets (paths, pages, terminals), the model's response with the same persons given as a plain `person_id in`
event filter (each person here has one id, so both select the same events). Unknown names are refused with 422."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from pipelines.analysis import run_query
from pipelines.analysis.api import ApiSettings, create_app
from pipelines.analysis.person_filters import UnknownPersonNames
from pipelines.envelope import DETAIL_COLUMNS, detail_row

from . import reference as ref
from .checks import approx, assert_funnel
from .conftest import T0, envelope, random_events
from .test_lifecycle import reference_lifecycle, reference_stickiness
from .test_models import bounds

APP = "person-filters-app"
SCOPE = {"app_id": APP, "date_from": "2026-11-01", "date_to": "2026-11-15"}
AUDIENCE = "c3_buyers"  # names of this module's own, so other tests' audiences and tags never meet them
LEVEL, SCORE, CHINESE = "c3_level", "c3_score", "c3_等级"


def index(person: str) -> int:
    return int(person.removeprefix("device_id:d"))


PERSONS = [f"device_id:d{p}" for p in range(120)]
MEMBERS = {1: {p for p in PERSONS if index(p) % 3 == 0}, 2: {p for p in PERSONS if index(p) % 2 == 0}}
LEVELS = {p: ("gold" if index(p) % 4 == 0 else "silver") for p in PERSONS if index(p) % 4 in (0, 1)}
SCORES = {p: str(index(p)) for p in PERSONS if index(p) % 5 == 0}
CITIES = {p: ("Shanghai" if index(p) % 3 == 0 else "Beijing") for p in PERSONS if index(p) % 3 in (0, 1)}


@pytest.fixture(scope="module")
def cdp_frame(warehouse) -> pd.DataFrame:
    """Events of 120 persons (the reference generator's, under this module's app, with some page views), audience
    versions (1, 2 complete, 3 members only), tag history (values replaced, one deleted) and person-property
    updates (a value replaced later) in the warehouse; the events as the references see them."""
    events = [{**e, "app_id": APP} for e in random_events(seed=23, persons=len(PERSONS))]
    events += [
        {**envelope(p, "page_view", T0 + i * 3_600_000 * 7, app=APP), "context": {"platform": "web", "url": f"https://s.example/{i % 3}", "title": f"t{i % 3}"}}
        for i, p in enumerate(f"d{n}" for n in range(0, len(PERSONS), 3))
    ]
    warehouse.insert("dwd_default", [detail_row(e) for e in events], DETAIL_COLUMNS, settings={"async_insert": 0})

    def members(version: int, persons: list[str]) -> None:
        warehouse.command(
            "INSERT INTO cdp_audiences SELECT {a:String}, {v:UInt64}, o, cityHash64(o) FROM (SELECT arrayJoin({ids:Array(String)}) AS o)",
            {"a": AUDIENCE, "v": version, "ids": persons},
        )

    for version, persons in MEMBERS.items():
        members(version, sorted(persons))
        warehouse.command(
            "INSERT INTO cdp_audience_versions VALUES ({a:String}, {v:UInt64}, {n:UInt64}, 'saved', 'test', now64(3))",
            {"a": AUDIENCE, "v": version, "n": len(persons)},
        )
    members(3, PERSONS)  # no version row: an unfinished write, invisible

    tags = [(p, LEVEL, "bronze", "2026-10-01 00:00:00", 0) for p in LEVELS]  # replaced below
    tags += [(p, LEVEL, v, "2026-10-02 00:00:00", 0) for p, v in LEVELS.items()]
    deleted = [p for p in PERSONS if index(p) % 4 == 2]
    tags += [(p, LEVEL, "gold", "2026-10-01 00:00:00", 0) for p in deleted] + [(p, LEVEL, "gold", "2026-10-03 00:00:00", 1) for p in deleted]
    tags += [(p, SCORE, v, "2026-10-01 00:00:00", 0) for p, v in SCORES.items()]
    tags += [(p, CHINESE, "高", "2026-10-01 00:00:00", 0) for p in PERSONS[:10]]
    warehouse.command(
        "INSERT INTO cdp_tags (oneid, oneid_hash, tag, value, updated, source, deleted) "
        "SELECT r.1, cityHash64(r.1), r.2, r.3, toDateTime64(r.4, 3, 'UTC'), 'test', r.5 FROM (SELECT arrayJoin({rows:Array(Tuple(String, String, String, String, UInt8))}) AS r)",
        {"rows": tags},
    )
    updates = [(p, "Shanghai", "2026-10-01 00:00:00") for p, city in CITIES.items() if city == "Beijing"]  # replaced below
    updates += [(p, city, "2026-10-05 00:00:00") for p, city in CITIES.items()]
    warehouse.insert(
        "person_property_log",
        [[APP, p, "city", uuid.uuid4(), "set", city, [], pd.Timestamp(at, tz="UTC").to_pydatetime(), 0, pd.Timestamp(at, tz="UTC").to_pydatetime(), {}, "segment"]
         for p, city, at in updates],  # fmt: skip
        ["app_id", "person_id", "property", "update_id", "op", "value", "items", "ts", "seq", "received_at", "ids", "source"],
        settings={"async_insert": 0},
    )
    rows = [{"person": "device_id:" + e["ids"]["device_id"], "event_id": e["event_id"], "event": e["event"], "t": e["ts"],
             "platform": e["context"]["platform"], **{k: str(v) for k, v in e["props"].items()}} for e in events]  # fmt: skip
    frame = pd.DataFrame(rows)
    return frame.assign(level=frame.person.map(LEVELS).fillna(""))


def of(frame: pd.DataFrame, persons) -> pd.DataFrame:
    return frame[frame.person.isin(persons)]


AUDIENCE_IN = {"audience": AUDIENCE, "op": "in"}


# -- each model with an audience filter against its pandas reference ---------------------------------------------
def test_event_analysis_in_audience(analyst, cdp_frame):
    request = {**SCOPE, "model": "event", "granularity": "month", "metrics": [{"event": "view"}, {"event": "pay", "math": "unique_persons"}]}
    got = run_query({**request, "filters": [AUDIENCE_IN]}, analyst)
    rows = ref.in_range(of(cdp_frame, MEMBERS[2]), *bounds(request))
    totals = [sum(s["values"][i] for s in got["series"]) for i in (0, 1)]
    assert totals == [int((rows.event == "view").sum()), rows[rows.event == "pay"].person.nunique()] and totals[0] > 0


@pytest.mark.parametrize("version", [1, 2])
def test_funnel_in_audience_at_a_version(analyst, cdp_frame, version):
    request = {**SCOPE, "model": "funnel", "steps": [{"event": "view"}, {"event": "cart"}, {"event": "pay"}], "window_seconds": 3 * 86_400}
    pinned = {**AUDIENCE_IN, "version": version} if version == 1 else AUDIENCE_IN  # 2 is the current version
    got = run_query({**request, "filters": [pinned]}, analyst)
    assert_funnel(got, ref.funnel(of(cdp_frame, MEMBERS[version]), request, *bounds(request)), request)


def test_funnel_persons_are_the_filtered_persons(analyst, cdp_frame):
    request = {**SCOPE, "model": "funnel", "steps": [{"event": "view"}, {"event": "cart"}], "filters": [AUDIENCE_IN]}
    reference = ref.funnel(of(cdp_frame, MEMBERS[2]), {**request, "filters": []}, *bounds(request))[""]
    for status, wanted in (("converted", lambda s: s >= 2), ("dropped", lambda s: s == 1)):
        got = run_query({**request, "persons": {"step": 2, "status": status, "limit": 10_000}}, analyst)["persons"]["persons"]
        assert got == sorted(p for p, best in reference.items() if wanted(best[0])) and got


def test_funnel_step_filter_by_tag(analyst, cdp_frame):
    """A person-level filter on one step: only gold persons' carts count as step 2."""
    request = {**SCOPE, "model": "funnel", "steps": [{"event": "view"}, {"event": "cart"}]}
    got = run_query({**request, "steps": [{"event": "view"}, {"event": "cart", "filters": [{"tag": LEVEL, "op": "=", "value": "gold"}]}]}, analyst)
    frame = cdp_frame.assign(gold=cdp_frame.level.eq("gold").map({True: "y", False: "n"}))
    steps = [{"event": "view"}, {"event": "cart", "filters": [{"property": "gold", "op": "=", "value": "y"}]}]
    assert_funnel(got, ref.funnel(frame, {**request, "steps": steps}, *bounds(request)), request)


def test_retention_not_in_audience(analyst, cdp_frame):
    request = {**SCOPE, "model": "retention", "initial": {"event": "view"}, "returning": {"event": "search"}, "period": "day", "periods": 5}
    got = run_query({**request, "filters": [{"audience": AUDIENCE, "op": "not_in"}]}, analyst)
    expected = ref.retention(of(cdp_frame, set(PERSONS) - MEMBERS[2]), request, *bounds(request))
    assert {c["cohort"]: (c["persons"], c["returned"]) for c in got["cohorts"]} == {d.isoformat(): v for d, v in expected.items()}


def test_interval_in_audience_by_tag(analyst, cdp_frame):
    request = {**SCOPE, "model": "interval", "start": {"event": "view"}, "end": {"event": "pay"}}
    got = run_query({**request, "filters": [AUDIENCE_IN], "group_by": {"tag": LEVEL}}, analyst)
    expected = ref.intervals(of(cdp_frame, MEMBERS[2]), {**request, "group_by": "level"}, *bounds(request))
    groups = {g["group"] or "": (g["intervals"], g["unmatched"]) for g in got["groups"]}
    assert groups == {k: (len(v), unmatched) for k, (v, unmatched) in expected.items()} and len(groups) > 1


def test_distribution_by_person_property(analyst, cdp_frame):
    request = {**SCOPE, "model": "distribution", "event": {"event": "view"}}
    got = run_query({**request, "filters": [{"person_property": "city", "op": "=", "value": "Beijing"}]}, analyst)
    values = ref.distribution(of(cdp_frame, [p for p, c in CITIES.items() if c == "Beijing"]), request, *bounds(request))
    assert got["persons"] == len(values) > 0
    assert [b["count"] for b in got["buckets"]] == ref.histogram(values, [b["from"] for b in got["buckets"]])


def test_lifecycle_and_stickiness_in_audience(analyst, cdp_frame):
    request = {**SCOPE, "date_from": "2026-11-04", "date_to": "2026-11-12", "event": {"event": "view"}}
    got = run_query({**request, "model": "lifecycle", "filters": [AUDIENCE_IN]}, analyst)
    expected = reference_lifecycle(of(cdp_frame, MEMBERS[2]), request)
    actual = {(pd.Timestamp(b["period"]).date(), status): abs(b[status]) for b in got["periods"] for status in ("new", "returning", "resurrecting", "dormant")}
    assert {k: v for k, v in actual.items() if v} == {k: len(v) for k, v in expected.items() if v} != {}
    got = run_query({**request, "model": "stickiness", "filters": [AUDIENCE_IN]}, analyst)
    expected = reference_stickiness(of(cdp_frame, MEMBERS[2]), request)
    actual = {(pd.Timestamp(r["period"]).date(), k + 1): n for r in got["periods"] for k, n in enumerate(r["persons_by_days"]) if n}
    assert actual == {k: len(v) for k, v in expected.items()} != {}


# -- every model: the audience filter selects exactly the events of its persons -----------------------------------
EVERY_MODEL = {
    "event": {"metrics": [{"event": "view"}, {"event": "cart", "math": "unique_persons"}], "group_by": ["platform"]},
    "funnel": {"steps": [{"event": "view"}, {"event": "order"}], "breakdown": "platform"},
    "retention": {"initial": {"event": "view"}, "returning": {"event": "$any"}, "periods": 4},
    "interval": {"start": {"event": "search"}, "end": {"event": "order"}},
    "distribution": {"event": {"event": "$any"}},
    "paths": {"start": {"event": "view"}, "steps": 4},
    "lifecycle": {"event": {"event": "cart"}},
    "stickiness": {"event": {"event": "view"}},
    "page": {"by": "url"},
    "terminal": {"dimensions": ["platform"]},
}


@pytest.mark.parametrize("model", list(EVERY_MODEL))
@pytest.mark.parametrize("op", ["in", "not_in"])
def test_every_model_audience_equals_person_id_filter(analyst, cdp_frame, model, op):
    request = {**SCOPE, "model": model, **EVERY_MODEL[model]}
    got = run_query({**request, "filters": [{"audience": AUDIENCE, "op": op}]}, analyst)
    same = run_query({**request, "filters": [{"property": "person_id", "op": op, "value": sorted(MEMBERS[2])}]}, analyst)
    whole = run_query(request, analyst)
    for response in (got, same, whole):
        for key in ("query_ms", "warnings"):
            response.pop(key)
    assert got == same != whole


# -- tags and person properties: each op against the persons it should select -------------------------------------
@pytest.mark.parametrize(
    "item,persons",
    [
        ({"tag": LEVEL, "op": "=", "value": "gold"}, {p for p, v in LEVELS.items() if v == "gold"}),
        ({"tag": LEVEL, "op": "in", "value": ["gold", "silver"]}, set(LEVELS)),
        ({"tag": LEVEL, "op": "!=", "value": "gold"}, {p for p in PERSONS if LEVELS.get(p) != "gold"}),
        ({"tag": LEVEL, "op": "is_not_set"}, set(PERSONS) - set(LEVELS)),  # the deleted tag is not set
        ({"tag": SCORE, "op": ">", "value": 50}, {p for p, v in SCORES.items() if int(v) > 50}),
        ({"tag": CHINESE, "op": "is_set"}, set(PERSONS[:10])),
        ({"person_property": "city", "op": "not_in", "value": ["Shanghai"]}, {p for p in PERSONS if CITIES.get(p) != "Shanghai"}),
        ({"person_property": "city", "op": "is_set"}, set(CITIES)),
    ],
)
def test_tag_and_person_property_ops(analyst, cdp_frame, item, persons):
    request = {**SCOPE, "model": "event", "metrics": [{"event": "$any", "math": "unique_persons"}], "granularity": "month"}
    got = run_query({**request, "filters": [item]}, analyst)
    assert sum(s["values"][0] for s in got["series"]) == ref.in_range(of(cdp_frame, persons), *bounds(request)).person.nunique() > 0


def test_breakdown_by_tag_and_by_audience(analyst, cdp_frame):
    request = {**SCOPE, "model": "event", "granularity": "month", "metrics": [{"event": "view"}]}
    got = run_query({**request, "group_by": [{"tag": LEVEL}, {"audience": [AUDIENCE]}]}, analyst)
    rows = ref.in_range(cdp_frame, *bounds(request))
    rows = rows[rows.event == "view"].assign(member=lambda f: f.person.isin(MEMBERS[2]).map({True: AUDIENCE, False: ""}))
    expected = rows.groupby(["level", "member"]).size().to_dict()
    actual = {}
    for s in got["series"]:
        actual[tuple(s["groups"])] = actual.get(tuple(s["groups"]), 0) + s["values"][0]
    assert actual == expected and len(actual) == 4  # gold persons are all members, silver ones none
    assert got["columns"][1:3] == [f"tag:{LEVEL}", "audience"]
    funnel = {**SCOPE, "model": "funnel", "steps": [{"event": "view"}, {"event": "cart"}]}
    got = run_query({**funnel, "breakdown": {"tag": LEVEL}}, analyst)
    assert_funnel(got, ref.funnel(cdp_frame, {**funnel, "breakdown": "level"}, *bounds(funnel)), funnel)


# -- unknown names --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "filters,field,named",
    [
        ([{"audience": "c3_nobody"}], "filters.0", "'c3_nobody'"),
        ([{"audience": AUDIENCE, "version": 3}], "filters.0.version", "no version 3"),  # members, never completed
        ([{"tag": "c3_no_such_tag", "op": "is_set"}], "filters.0", "'c3_no_such_tag'"),
        ([{"person_property": "c3_no_such", "op": "is_set"}], "filters.0", "'c3_no_such'"),
    ],
)
def test_unknown_names_are_refused(analyst, cdp_frame, filters, field, named):
    request = {**SCOPE, "model": "event", "metrics": [{"event": "view"}], "filters": filters}
    with pytest.raises(UnknownPersonNames) as caught:
        run_query(request, analyst)
    (error,) = caught.value.errors
    assert error["field"] == field and named in error["message"]


def test_api_answers_422_naming_the_name_and_keys_the_cache_on_the_version(stack_settings, analyst, cdp_frame):
    app = create_app(stack_settings, ApiSettings(tokens="t"), warehouse=analyst, record_heat=False)
    request = {**SCOPE, "model": "funnel", "steps": [{"event": "view"}, {"event": "cart"}]}
    with TestClient(app) as http:
        def post(body):
            return http.post("/v1/query", json=body, headers={"Authorization": "Bearer t"})

        bad = post({**request, "steps": [{"event": "view", "filters": [{"tag": "c3_nope", "op": "is_set"}]}, {"event": "cart"}]})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "steps.0.filters.0" and "c3_nope" in bad.json()["errors"][0]["message"]
        bad = post({**request, "filters": [{"audience": "Not A Name"}]})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "filters.0.audience"
        current, pinned = post({**request, "filters": [AUDIENCE_IN]}), post({**request, "filters": [{**AUDIENCE_IN, "version": 2}]})
        assert current.status_code == 200 and current.json()["request_hash"] == pinned.json()["request_hash"]
        assert pinned.json()["cached"] and current.json()["sql"]["summary"]["parameters"]["audience_version"] == 2


def test_workbench_catalog_lists_what_the_filters_may_name(analyst, cdp_frame):
    from pipelines.workbench.catalog import person_vocabulary

    vocabulary = person_vocabulary(analyst, APP)
    assert {"name": AUDIENCE, "version": 2, "size": len(MEMBERS[2])} in vocabulary["audiences"]
    assert {LEVEL, SCORE, CHINESE} <= set(vocabulary["tags"]) and vocabulary["person_properties"] == ["city"]


# -- any membership: a new version per example, pinned ------------------------------------------------------------
_next_version = iter(range(100, 10_000))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(members=st.sets(st.sampled_from(PERSONS), max_size=60), op=st.sampled_from(["in", "not_in"]), event=st.sampled_from(["view", "pay", "$any"]))
def test_any_audience_version_selects_its_persons(warehouse, analyst, cdp_frame, members, op, event):
    version = next(_next_version)
    warehouse.command(
        "INSERT INTO cdp_audiences SELECT 'c3_random', {v:UInt64}, o, cityHash64(o) FROM (SELECT arrayJoin({ids:Array(String)}) AS o)",
        {"v": version, "ids": sorted(members)},
    )
    warehouse.command("INSERT INTO cdp_audience_versions VALUES ('c3_random', {v:UInt64}, {n:UInt64}, 'saved', 'test', now64(3))", {"v": version, "n": len(members)})
    request = {**SCOPE, "model": "event", "granularity": "month", "metrics": [{"event": event, "math": "unique_persons"}, {"event": event}]}
    got = run_query({**request, "filters": [{"audience": "c3_random", "op": op, "version": version}]}, analyst)
    rows = ref.in_range(of(cdp_frame, members if op == "in" else set(cdp_frame.person) - members), *bounds(request))
    rows = rows if event == "$any" else rows[rows.event == event]
    assert [sum(s["values"][i] for s in got["series"]) for i in (0, 1)] == [rows.person.nunique(), len(rows)]
