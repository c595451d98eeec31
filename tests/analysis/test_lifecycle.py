"""Lifecycle and stickiness against independent pandas references (from the semantics in
pipelines/analysis/lifecycle.py and stickiness.py) on the generated event set, in several timezones and periods;
the persons behind each bar and each figure are exactly the persons it counts."""

from __future__ import annotations

from collections import defaultdict

import pandas as pd
import pytest
from pydantic import ValidationError

from pipelines.analysis import parse_request, run_query

from . import reference as ref
from .conftest import APP
from .test_models import bounds

SCOPE = {"app_id": APP, "date_from": "2026-11-04", "date_to": "2026-11-12"}


def local_days(ms: pd.Series, tz: str) -> pd.Series:
    return pd.to_datetime(ms, unit="ms", utc=True).dt.tz_convert(tz).dt.tz_localize(None).dt.normalize().dt.date


def reported_periods(request: dict, period: str) -> list:
    """The first days of the periods the range touches, worked out with pandas."""
    start, end = bounds(request)
    tz = request.get("timezone", "UTC")
    first, last = ref.period_start(pd.Series([start, end - 1]), tz, period)
    out = [first]
    while out[-1] < last:
        out.append(ref.add_periods(out[-1], 1, period))
    return out


def reference_lifecycle(frame: pd.DataFrame, request: dict) -> dict:
    """{(period, status): set of persons} over every reported period and status."""
    _, end = bounds(request)
    period, tz = request.get("period", "day"), request.get("timezone", "UTC")
    rows = ref.in_range(frame, 0, end, request.get("filters", []))
    rows = rows[ref.matches(rows, request["event"])]
    active = rows.assign(p=ref.period_start(rows["t"], tz, period)).groupby("person")["p"].agg(set).to_dict()
    out = defaultdict(set)
    for p in reported_periods(request, period):
        before = ref.add_periods(p, -1, period)
        for person, periods in active.items():
            if p in periods:
                status = "new" if p == min(periods) else "returning" if before in periods else "resurrecting"
                out[(p, status)].add(person)
            elif before in periods:
                out[(p, "dormant")].add(person)
    return out


def reference_stickiness(frame: pd.DataFrame, request: dict) -> dict:
    """{(period, days active): set of persons}."""
    start, end = bounds(request)
    period, tz = request.get("period", "week"), request.get("timezone", "UTC")
    rows = ref.in_range(frame, start, end, request.get("filters", []))
    rows = rows[ref.matches(rows, request["event"])]
    rows = rows.assign(p=ref.period_start(rows["t"], tz, period), day=local_days(rows["t"], tz))
    out = defaultdict(set)
    for (person, p), part in rows.groupby(["person", "p"]):
        out[(p, part["day"].nunique())].add(person)
    return out


LIFECYCLES = [
    {"event": {"event": "view"}},
    {"event": {"event": "$any"}, "timezone": "Asia/Shanghai"},
    {"event": {"event": "search", "filters": [{"property": "channel", "op": "=", "value": "ads"}]}, "period": "week", "date_from": "2026-11-02", "date_to": "2026-11-22"},
    {"event": {"event": "view"}, "period": "month", "timezone": "America/New_York", "filters": [{"property": "platform", "op": "=", "value": "web"}]},
]  # fmt: skip


@pytest.mark.parametrize("options", LIFECYCLES)
def test_lifecycle_matches_the_reference(analyst, loaded, frame, options):
    request = {"model": "lifecycle", **SCOPE, **options}
    got = run_query(request, analyst)
    expected = reference_lifecycle(frame, request)
    periods = reported_periods(request, request.get("period", "day"))
    assert [p["period"] for p in got["periods"]] == [p.isoformat() for p in periods]
    for bar in got["periods"]:
        day = pd.Timestamp(bar["period"]).date()
        for status in ("new", "returning", "resurrecting", "dormant"):
            assert bar[status] == len(expected.get((day, status), ())), (bar["period"], status)
        assert bar["active"] == bar["new"] + bar["returning"] + bar["resurrecting"]
    assert sum(len(v) for v in expected.values()) > 0 and got["warnings"] == []


def test_lifecycle_persons_behind_each_bar(analyst, loaded, frame):
    request = {"model": "lifecycle", **SCOPE, "event": {"event": "view"}, "timezone": "Asia/Shanghai"}
    expected = reference_lifecycle(frame, request)
    checked = 0
    for (period, status), persons in sorted(expected.items()):
        page = {"period": period.isoformat(), "status": status, "limit": 10_000}
        listed = run_query({**request, "persons": page}, analyst)["persons"]
        assert listed["persons"] == sorted(persons), (period, status)
        assert set(listed["latest_properties"]) == persons  # dormant persons too (their events are before the period)
        checked += 1
    assert checked >= 20


def test_lifecycle_persons_are_paged(analyst, loaded, frame):
    request = {"model": "lifecycle", **SCOPE, "event": {"event": "$any"}}
    (period, status), persons = max(reference_lifecycle(frame, request).items(), key=lambda kv: len(kv[1]))
    pages = [
        run_query({**request, "persons": {"period": period.isoformat(), "status": status, "limit": 4, "offset": o}}, analyst)["persons"]["persons"]
        for o in range(0, len(persons) + 4, 4)
    ]
    listed = [p for page in pages for p in page]
    assert sorted(listed) == sorted(persons) and len(listed) == len(set(listed)) and pages[-1] == []


STICKINESS = [
    {"event": {"event": "view"}},
    {"event": {"event": "$any"}, "timezone": "Asia/Shanghai", "date_from": "2026-11-01", "date_to": "2026-11-30"},
    {"event": {"event": "search"}, "period": "month", "date_from": "2026-10-20", "date_to": "2026-11-10"},
]


@pytest.mark.parametrize("options", STICKINESS)
def test_stickiness_matches_the_reference(analyst, loaded, frame, options):
    request = {"model": "stickiness", **SCOPE, **options}
    got = run_query(request, analyst)
    expected = reference_stickiness(frame, request)
    start, end = bounds(request)
    first = local_days(pd.Series([start]), request.get("timezone", "UTC"))[0]
    last = local_days(pd.Series([end - 1]), request.get("timezone", "UTC"))[0]
    for row in got["periods"]:
        period = pd.Timestamp(row["period"]).date()
        period_end = ref.add_periods(period, 1, request.get("period", "week"))
        assert row["days_in_range"] == (min(period_end, last + pd.Timedelta(days=1)) - max(period, first)).days
        assert row["persons_by_days"] == [len(expected.get((period, k), ())) for k in range(1, row["days_in_range"] + 1)]
    assert sum(sum(r["persons_by_days"]) for r in got["periods"]) == sum(len(v) for v in expected.values()) > 0


def test_stickiness_persons_behind_each_figure(analyst, loaded, frame):
    request = {"model": "stickiness", **SCOPE, "event": {"event": "view"}}
    for (period, days), persons in reference_stickiness(frame, request).items():
        page = {"period": period.isoformat(), "days": days, "limit": 10_000}
        assert run_query({**request, "persons": page}, analyst)["persons"]["persons"] == sorted(persons), (period, days)


@pytest.mark.parametrize(
    "request_,field,message",
    [
        ({"model": "lifecycle", "date_from": "2024-01-01", "date_to": "2026-01-01"}, "request", "at most 400"),
        ({"model": "lifecycle", "persons": {"period": "2026-11-03", "status": "new"}}, "request", "persons.period"),
        ({"model": "lifecycle", "persons": {"period": "2026-11-05", "status": "gone"}}, "persons.status", "Input should be"),
        ({"model": "lifecycle", "period": "year"}, "period", "Input should be"),
        ({"model": "stickiness", "period": "day"}, "period", "Input should be"),
        ({"model": "stickiness", "persons": {"period": "2026-11-09", "days": 5}, "date_to": "2026-11-11"}, "request", "has 3 days in the range"),
        ({"model": "stickiness", "persons": {"period": "2026-11-09", "days": 32}}, "persons.days", "less than or equal to 31"),
    ],
)
def test_limits_are_enforced_with_clear_errors(request_, field, message):
    from pipelines.analysis.api import validation_errors

    with pytest.raises(ValidationError) as caught:
        parse_request({**SCOPE, "event": {"event": "view"}, **request_})
    errors = validation_errors(caught.value)
    assert any(message in f"{e['field']}: {e['message']}" for e in errors), errors
