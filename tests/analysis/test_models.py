"""Each model against the pandas references (tests/analysis/reference.py) on the generated event set."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.analysis import parse_request, run_query
from pipelines.analysis.funnel import MAX_STEPS
from pipelines.analysis.timerange import TimeRange
from . import reference as ref
from .checks import approx, assert_funnel
from .conftest import APP

SCOPE = {"app_id": APP, "date_from": "2026-11-01", "date_to": "2026-11-15"}


def scoped(**request) -> dict:
    return {**SCOPE, **request}


def bounds(request: dict) -> tuple[int, int]:
    """The range as documented, worked out here rather than by the code under test: "YYYY-MM-DD" is that whole day
    in the request's timezone (so date_to is inclusive), a datetime is an instant (date_to exclusive)."""
    tz = request.get("timezone", "UTC")

    def instant(text: str, end: bool) -> int:
        if len(text) == 10:
            at = (pd.Timestamp(text) + pd.Timedelta(days=int(end))).tz_localize(tz)
        else:
            at = pd.Timestamp(text)
            at = at if at.tzinfo else at.tz_localize(tz)
        return int(at.timestamp() * 1000)

    return instant(request["date_from"], False), instant(request["date_to"], True)


@pytest.mark.parametrize("timezone", ["UTC", "Asia/Shanghai"])
def test_dates_are_whole_days_and_datetimes_instants(analyst, loaded, frame, timezone):
    one_day = scoped(model="event", timezone=timezone, date_from="2026-11-03", date_to="2026-11-03", metrics=[{"event": "view"}])
    up_to_midnight = {**one_day, "date_to": "2026-11-04T00:00:00"}
    half_day = {**one_day, "date_from": "2026-11-03T06:00:00", "date_to": "2026-11-03T18:00:00"}
    for request in (one_day, up_to_midnight, half_day):
        start, end = bounds(request)
        rows = ref.in_range(frame, start, end)
        got = run_query(request, analyst)
        assert sum(s["values"][0] for s in got["series"]) == int((rows.event == "view").sum()) > 0, request
    assert bounds(one_day) == bounds(up_to_midnight)
    assert TimeRange.of(parse_request(one_day)).end_ms - TimeRange.of(parse_request(one_day)).start_ms == 86_400_000


# -- event analysis --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("timezone,granularity", [("UTC", "day"), ("Asia/Shanghai", "day"), ("America/New_York", "week"), ("UTC", "hour")])
def test_event_analysis(analyst, loaded, frame, timezone, granularity):
    request = scoped(
        model="event",
        timezone=timezone,
        granularity=granularity,
        group_by=["platform"],
        metrics=[
            {"event": "view"},
            {"event": "view", "math": "unique_persons"},
            {"event": "pay", "math": "per_person_avg"},
            {"event": "pay", "math": "sum", "property": "price", "filters": [{"property": "channel", "op": "!=", "value": "seo"}]},
            {"event": "cart", "math": "max", "property": "price"},
        ],
    )
    got = run_query(request, analyst)
    start, end = bounds(request)
    rows = ref.in_range(frame, start, end)
    rows = rows[rows.event.isin(["view", "pay", "cart"])]  # buckets only exist where a metric's event happened
    local = pd.to_datetime(rows["t"], unit="ms", utc=True).dt.tz_convert(timezone).dt.tz_localize(None)
    bucket = local.dt.floor("h") if granularity == "hour" else local.dt.normalize()
    if granularity == "week":
        bucket = bucket - pd.to_timedelta(bucket.dt.weekday, unit="D")
    rows = rows.assign(bucket=bucket.dt.strftime("%Y-%m-%d %H:%M:%S"))
    expected = {}
    for (b, platform), part in rows.groupby(["bucket", "platform"]):
        views, pays, carts = part[part.event == "view"], part[part.event == "pay"], part[part.event == "cart"]
        paid = pays[pays["channel"] != "seo"]
        expected[(b, platform)] = [
            len(views),
            views.person.nunique(),
            len(pays) / pays.person.nunique() if len(pays) else None,
            pd.to_numeric(paid.price).sum(),
            pd.to_numeric(carts.price).max() if len(carts) else None,
        ]
    actual = {(s["bucket"], s["groups"][0]): s["values"] for s in got["series"]}
    assert set(actual) == set(expected)
    for key, values in expected.items():
        assert all(approx(a, e) for a, e in zip(actual[key], values)), (key, actual[key], values)


def test_event_compare_previous_and_sampling(analyst, loaded, frame):
    request = scoped(model="event", metrics=[{"event": "view"}], date_from="2026-11-08", compare_previous=True)
    got = run_query(request, analyst)
    start, end = bounds(request)
    previous = ref.in_range(frame, 2 * start - end, start)
    assert sum(s["values"][0] for s in got["previous"]) == int((previous.event == "view").sum())
    sampled = run_query({**request, "sample": 0.5}, analyst)
    total, part = (sum(s["values"][0] for s in r["series"]) for r in (got, sampled))
    assert 0 < part < total  # a consistent half of the persons, not of the events


def test_event_rows_past_max_rows_are_flagged(analyst, loaded):
    request = scoped(model="event", metrics=[{"event": "view"}], group_by=["platform"], compare_previous=True)
    whole = run_query(request, analyst)
    assert whole["truncated"] is False and whole["previous_truncated"] is False and len(whole["rows"]) > 5
    cut = run_query({**request, "max_rows": 5}, analyst)
    assert cut["truncated"] is True and cut["rows"] == whole["rows"][:5]
    assert cut["previous_truncated"] is (len(whole["previous"]) > 5)


# -- funnel ----------------------------------------------------------------------------------------------------
FUNNELS = {
    "ordered": {"steps": [{"event": "view"}, {"event": "cart"}, {"event": "pay"}]},
    "strict": {"steps": [{"event": "view"}, {"event": "cart"}, {"event": "pay"}], "order": "strict"},
    "any": {"steps": [{"event": "view"}, {"event": "cart"}, {"event": "pay"}], "order": "any"},
    "repeated_steps": {"steps": [{"event": "view"}, {"event": "view"}, {"event": "view"}], "window_seconds": 3 * 86_400},
    "window_edge": {"steps": [{"event": "view"}, {"event": "cart"}], "window_seconds": 86_400},
    "hold": {  # the persons who cannot reach step 2 bypass the walk
        "steps": [{"event": "view"}, {"event": "view"}, {"event": "cart"}],
        "hold_constant": "product_id",
        "window_seconds": 7 * 86_400,
    },
    "hold_and_breakdown": {
        "steps": [{"event": "view"}, {"event": "cart"}, {"event": "order"}],
        "hold_constant": "product_id",
        "breakdown": "platform",
        "window_seconds": 7 * 86_400,
    },
    "exclusion_gaps_filters": {
        "steps": [{"event": "view"}, {"event": "cart", "filters": [{"property": "price", "op": ">", "value": 9}]}, {"event": "pay"}],
        "exclusions": [{"event": "search", "from_step": 1, "to_step": 2}],
        "min_step_gap_seconds": 60,
        "max_step_gap_seconds": 2 * 86_400,
        "filters": [{"property": "channel", "op": "in", "value": ["ads", "o'brien\\'"]}],
        "window_seconds": 5 * 86_400,
    },
    "timezone": {"steps": [{"event": "view"}, {"event": "search"}], "timezone": "Asia/Shanghai"},
}
# As many steps as a request may have, through each walk (chains, with the step time, segmented, fold): the SQL
# must stay within ClickHouse's query size limits.
MOST_STEPS = {"steps": [{"event": e} for e in ["view", "cart"] * (MAX_STEPS // 2)], "window_seconds": 14 * 86_400}
FUNNELS |= {
    "most_steps": MOST_STEPS,
    "most_steps_max_gap_breakdown": {**MOST_STEPS, "max_step_gap_seconds": 2 * 86_400, "breakdown": "platform"},
    "most_steps_hold": {**MOST_STEPS, "hold_constant": "product_id"},
    "most_steps_any": {**MOST_STEPS, "order": "any"},
    # every step at the most filters a selector takes: its parameters no longer fit a URL (sent as a form)
    "most_steps_most_filters": {
        **MOST_STEPS,
        "steps": [
            {**step, "filters": [{"property": "channel", "op": "in", "value": ["ads", "seo", "o'brien\\'", f"other {i}"]}] * 19
             + [{"property": "price", "op": ">", "value": 6}]}
            for i, step in enumerate(MOST_STEPS["steps"])
        ],
    },
}


@pytest.mark.parametrize("name", list(FUNNELS))
def test_funnel(analyst, loaded, frame, name):
    request = scoped(model="funnel", **FUNNELS[name])
    start, end = bounds(request)
    assert_funnel(run_query(request, analyst), ref.funnel(frame, request, start, end), request)


@pytest.mark.parametrize("name", ["ordered", "hold"])
def test_funnel_persons_pages(analyst, loaded, frame, name):
    base = scoped(model="funnel", **FUNNELS[name])
    start, end = bounds(base)
    persons = ref.funnel(frame, base, start, end)[""]
    dropped = sorted(p for p, best in persons.items() if best[0] == 1)
    converted = sorted(p for p, best in persons.items() if best[0] >= 2)
    pages = [
        run_query({**base, "persons": {"step": 2, "status": "dropped", "limit": 7, "offset": offset}}, analyst)["persons"]["persons"]
        for offset in range(0, len(dropped) + 7, 7)
    ]
    # pages never overlap and together list everyone (paged by person key; each page sorted by id)
    assert sorted(p for page in pages for p in page) == dropped and all(page == sorted(page) for page in pages)
    got = run_query({**base, "persons": {"step": 2, "status": "converted", "limit": 10_000}}, analyst)
    assert got["persons"]["persons"] == converted


# -- retention -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "options",
    [
        {"period": "day", "periods": 7, "mode": "recurring"},
        {"period": "day", "periods": 5, "mode": "first_time", "timezone": "Asia/Shanghai"},
        {"period": "week", "periods": 3, "mode": "recurring", "date_from": "2026-11-04"},
        {"period": "month", "periods": 1, "mode": "first_time", "date_from": "2026-11-03"},
    ],
)
def test_retention(analyst, loaded, frame, options):
    request = scoped(model="retention", initial={"event": "view"}, returning={"event": "search"}, **options)
    got = run_query(request, analyst)
    start, end = bounds(request)
    expected = ref.retention(frame, request, start, end)
    actual = {c["cohort"]: (c["persons"], c["returned"]) for c in got["cohorts"]}
    assert actual == {day.isoformat(): value for day, value in expected.items()}


# -- interval --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "options",
    [
        {"start": {"event": "view"}, "end": {"event": "pay"}, "group_by": "platform"},
        {"start": {"event": "view"}, "end": {"event": "view"}},  # the next occurrence of the same event
        {"start": {"event": "view"}, "end": {"event": "cart"}, "same_property": "product_id"},
    ],
)
def test_interval(analyst, loaded, frame, options):
    request = scoped(model="interval", **options)
    got = run_query(request, analyst)
    start, end = bounds(request)
    expected = ref.intervals(frame, request, start, end)
    groups = {g["group"] or "": g for g in got["groups"]}
    assert set(groups) == set(expected)
    edges = got["groups"][0]["histogram"]
    for key, (values, unmatched) in expected.items():
        group = groups[key]
        assert (group["intervals"], group["unmatched"]) == (len(values), unmatched)
        if values:
            q = ref.quantiles(values)
            assert [group[f"p{p}_seconds"] for p in (10, 25, 50, 75, 90)] == pytest.approx(q)
            assert group["mean_seconds"] == pytest.approx(sum(values) / len(values))
            assert [h["count"] for h in group["histogram"]] == ref.histogram(values, [h["from"] for h in edges])


# -- distribution ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "options",
    [
        {"event": {"event": "view"}},
        {"event": {"event": "pay"}, "measure": "sum", "property": "price", "bucket_edges": [0, 10, 100, 1000]},
        {"event": {"event": "view", "filters": [{"property": "product_id", "op": "=", "value": "sku1"}]}, "timezone": "Asia/Shanghai"},
    ],
)
def test_distribution(analyst, loaded, frame, options):
    request = scoped(model="distribution", **options)
    got = run_query(request, analyst)
    start, end = bounds(request)
    values = ref.distribution(frame, request, start, end)
    assert got["persons"] == len(values)
    assert got["p50"] == pytest.approx(ref.quantiles(values, (0.5,))[0])
    assert [b["count"] for b in got["buckets"]] == ref.histogram(values, [b["from"] for b in got["buckets"]])
