"""Page and terminal analysis, and the persons behind interval and distribution buckets, against the pandas
references (tests/analysis/reference_pages.py) on generated events with edge cases: views exactly at the session
gap and 1 ms under it, a view at the same time as its leave event, persons with one event, URLs that cleaning
rules fold together, a timezone day boundary; terminal fields travel the real envelope mapping (detail_row)."""

from __future__ import annotations

import random
import uuid

import pandas as pd
import pytest

from pipelines.analysis import run_query
from pipelines.envelope import DETAIL_COLUMNS, detail_row
from . import reference as ref
from . import reference_pages as refp
from .conftest import APP, T0
from .test_models import bounds

PAGE_APP = "pages-app"
GAP = 1_800_000
PATHS = ["/", "/product/17", "/product/42?ref=x", "/product/42/reviews", "/cart", "/search?q=a#top", "/Product/7"]
TERMINALS = [
    {"platform": "web", "ua": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", "screen": "1920x1080"},
    {"platform": "h5", "ua": "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.6045.163 Mobile Safari/537.36", "screen": "412 x 915"},
    {"platform": "ios", "os": "iOS", "os_version": "17.1", "device_model": "iPhone15,2", "network_type": "wifi", "carrier": "China Mobile", "screen_width": 390, "screen_height": 844},
    {"platform": "android", "os": "Android", "os_version": "14", "device_model": "Pixel 8", "network_type": "5g", "screen": "junk"},
]
CHANNELS = [("", {}), ("?utm_source=google&utm_medium=cpc&utm_campaign=w1", {}), ("", {"utm_source": "newsletter", "utm_medium": "email"})]
REFERRERS = ["", "https://www.Google.com/search?q=x", "https://weixin.qq.com/a"]


def _event(person: str, event: str, ts: int, context: dict, session: str, app: str = PAGE_APP, **props) -> dict:
    return {"event_id": str(uuid.uuid4()), "event": event, "app_id": app, "ts": ts, "ids": {"device_id": person},
            "session_id": session, "context": context, "props": props}  # fmt: skip


def page_events(seed: int = 5, persons: int = 120) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for p in range(persons):
        person, terminal = f"p{p}", dict(rng.choice(TERMINALS))
        t = T0 + rng.randrange(6 * 86_400_000)
        session = f"s{p}-0"
        for n in range(rng.choice([1, 1, 2, 3, 5, 9])):
            step = rng.choice([0, 30_000, 60_000, GAP - 1, GAP, GAP + 1, 3_600_000, 86_400_000])
            t += step if n else 0
            session = f"s{p}-{n}" if step >= GAP else session
            suffix, props = rng.choice(CHANNELS)
            path = rng.choice(PATHS)
            context = {**terminal, "url": f"https://shop.example{path}{suffix if '?' not in path else ''}",
                       "title": path.split("?")[0].strip("/") or "home", "referrer": rng.choice(REFERRERS)}  # fmt: skip
            out.append(_event(person, "page_view", t, context, session, **props))
            if rng.random() < 0.4:
                out.append(_event(person, "scroll_depth", t + rng.choice([0, 5_000]), {"platform": terminal["platform"]}, session, depth=rng.choice([25, 50, 75, 100])))
            if rng.random() < 0.3:
                out.append(_event(person, "page_leave", t + rng.choice([0, 20_000, GAP]), {"platform": terminal["platform"]}, session))
            if rng.random() < 0.3:
                out.append(_event(person, "click", t + 1_000, context, session))
    # one event persons, and a tie: two views of one person at the same ms
    out.append(_event("lonely", "page_view", T0 + 86_400_000, {"platform": "web", "url": "https://shop.example/"}, "x"))
    out.append(_event("twin", "page_view", T0 + 2 * 86_400_000, {"platform": "web", "url": "https://shop.example/b"}, "y"))
    out.append(_event("twin", "page_view", T0 + 2 * 86_400_000, {"platform": "web", "url": "https://shop.example/a"}, "y"))
    # 15:59 and 16:01 UTC: one day in UTC, two days in Asia/Shanghai (UTC+8)
    out.append(_event("tz", "page_view", T0 + 3 * 86_400_000 + 16 * 3_600_000 - 60_000, {"platform": "web", "url": "https://shop.example/"}, "z"))
    out.append(_event("tz", "page_view", T0 + 3 * 86_400_000 + 16 * 3_600_000 + 60_000, {"platform": "web", "url": "https://shop.example/"}, "z"))
    return out


def loaded_frame(warehouse, events: list[dict], app: str) -> pd.DataFrame:
    """`events` inserted (through detail_row, as every writer maps them) and as the references see them: the typed
    columns the warehouse stored, read back, next to the raw inputs the references derive pages from."""
    warehouse.insert("dwd_default", [detail_row(e) for e in events], DETAIL_COLUMNS, settings={"async_insert": 0})
    rows = []
    for e in events:
        c = e["context"]
        rows.append({"person": "device_id:" + e["ids"]["device_id"], "event_id": e["event_id"], "event": e["event"], "t": e["ts"],
                     "session_id": e["session_id"], "url": c.get("url", ""), "title": c.get("title", ""), "platform": c["platform"],
                     **{k: str(v) for k, v in e["props"].items() if not k.startswith("utm_")}})  # fmt: skip
    frame = pd.DataFrame(rows)
    stored = warehouse.query_df(
        "SELECT toString(event_id) AS event_id, os, os_version, browser, browser_version, device_model, device_brand, network_type,"
        " carrier, utm_source, utm_medium, utm_campaign, referrer_domain,"
        " if(screen_width = 0, '', concat(toString(screen_width), 'x', toString(screen_height))) AS screen"
        " FROM dwd_default WHERE app_id = {app:String}",
        {"app": app},
    )
    return frame.merge(stored, on="event_id", how="left", validate="one_to_one")


@pytest.fixture(scope="module")
def page_frame(warehouse) -> pd.DataFrame:
    """The page events (user agents parsed as the collector does) in the warehouse and as the references see them."""
    from pipelines.collect.enrich import describe_user_agent

    events = page_events()
    for e in events:
        if e["context"].get("ua"):
            e["context"] = {**describe_user_agent(e["context"]["ua"]), **e["context"]}
    return loaded_frame(warehouse, events, PAGE_APP)


def test_terminal_columns_parsed_once_at_write(page_frame):
    """What detail_row and the collector's user-agent parse stored, per input kind (the reference reads these)."""
    web = page_frame[(page_frame["platform"] == "web") & (page_frame["event"] == "page_view") & (page_frame["person"].str.startswith("device_id:p"))]
    assert set(web["os"]) == {"Windows"} and set(web["browser_version"]) == {"120.0.0"} and set(web["screen"]) == {"1920x1080"}
    h5 = page_frame[page_frame["platform"] == "h5"].query("event == 'page_view'")
    assert set(h5["device_model"]) == {"SM-S918B"} and set(h5["device_brand"]) == {"Samsung"} and set(h5["screen"]) == {"412x915"}
    ios = page_frame[page_frame["platform"] == "ios"].query("event == 'page_view'")
    assert set(ios["screen"]) == {"390x844"} and set(ios["network_type"]) == {"wifi"} and set(ios["carrier"]) == {"China Mobile"}
    assert set(page_frame.query("platform == 'android'")["screen"]) == {""}  # "junk" is no size
    tagged = page_frame[page_frame["url"].str.contains("utm_source=google")]
    assert len(tagged) and set(zip(tagged["utm_source"], tagged["utm_medium"], tagged["utm_campaign"])) == {("google", "cpc", "w1")}
    from_props = page_frame[page_frame["utm_source"] == "newsletter"]  # sent as props, not in the URL
    assert len(from_props) and set(from_props["utm_medium"]) == {"email"} and not from_props["url"].str.contains("utm_").any()
    assert set(page_frame["referrer_domain"]) == {"", "google.com", "weixin.qq.com"}


SCOPE = {"app_id": PAGE_APP, "date_from": "2026-11-01", "date_to": "2026-11-10"}


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"cleaning": [{"pattern": r"/\d+", "replacement": "/:id"}, {"pattern": "(?i)^/product", "replacement": "/product"}],
         "scroll_event": {"event": "scroll_depth"}, "leave_event": {"event": "page_leave"}},
        {"by": "title", "timezone": "Asia/Shanghai", "session_gap_seconds": 600, "date_from": "2026-11-02", "date_to": "2026-11-04"},
        {"by": "url", "filters": [{"property": "platform", "op": "in", "value": ["web", "ios"]}], "leave_event": {"event": "page_leave"}},
    ],
)  # fmt: skip
def test_pages_against_reference(analyst, page_frame, options):
    request = {**SCOPE, "model": "page", "max_pages": 1000, **options}
    assert_pages(run_query(request, analyst), refp.pages(page_frame, request, *bounds(request)))


def assert_pages(got: dict, expected: dict) -> None:
    """Every page and figure of a page analysis as the reference has them, the trend adding up, most viewed first."""
    assert not got["truncated"]
    assert {p["page"] for p in got["pages"]} == set(expected)
    for page in got["pages"]:
        want = expected[page["page"]]
        for name in ("views", "persons", "entries", "exits", "bounces", "bounce_rate"):
            assert page[name] == want[name], (page["page"], name)
        for name in ("avg_seconds", "median_seconds", "median_scroll_depth"):
            assert page[name] == (pytest.approx(want[name]) if want[name] is not None else None), (page["page"], name)
        assert sum(d["views"] for d in page["trend"]) == page["views"]
    views = [p["views"] for p in got["pages"]]
    assert views == sorted(views, reverse=True)


# a fixed UTC offset, and a range over New York's switch from daylight saving time (2026-11-01 02:00)
@pytest.mark.parametrize("timezone, date_from, date_to", [("Asia/Shanghai", "2026-11-04", "2026-11-06"), ("America/New_York", "2026-10-31", "2026-11-02")])
def test_pages_trend_days_and_previous_period(analyst, page_frame, timezone, date_from, date_to):
    request = {**SCOPE, "model": "page", "timezone": timezone, "date_from": date_from, "date_to": date_to,
               "compare_previous": True, "max_pages": 1000}  # fmt: skip
    got = run_query(request, analyst)
    start, end = bounds(request)
    views = pd.DataFrame(refp.page_views(page_frame, request, start, end))
    views["day"] = pd.to_datetime(views["t"], unit="ms", utc=True).dt.tz_convert(timezone).dt.date.astype(str)
    for page in got["pages"]:
        mine = views[views["page"] == page["page"]]
        expected = {day: len(part) for day, part in mine.groupby("day")}
        assert {d["day"]: d["views"] for d in page["trend"]} == expected
    previous = refp.pages(page_frame, request, start - (end - start), start)
    for page in got["pages"]:
        want = previous.get(page["page"])
        assert (page["previous"] or {}).get("views") == (want["views"] if want else None)


def test_pages_sessions_split_exactly_at_the_gap(analyst, warehouse):
    """Views 30 min apart are two sessions (two entries, two bounces); 30 min less 1 ms, one session."""
    app = f"gap-{uuid.uuid4().hex[:6]}"
    times = [T0, T0 + GAP, T0 + 2 * GAP - 1]
    rows = [detail_row({**_event("g", "page_view", t, {"platform": "web", "url": f"https://a.example/{i}"}, "s"), "app_id": app}) for i, t in enumerate(times)]
    warehouse.insert("dwd_default", rows, DETAIL_COLUMNS, settings={"async_insert": 0})
    got = run_query({"model": "page", "app_id": app, "date_from": "2026-11-01", "date_to": "2026-11-01"}, analyst)
    pages = {p["page"]: p for p in got["pages"]}
    assert [(pages[f"/{i}"]["entries"], pages[f"/{i}"]["exits"], pages[f"/{i}"]["bounces"]) for i in range(3)] == [(1, 1, 1), (1, 0, 0), (0, 1, 0)]
    assert pages["/1"]["avg_seconds"] == pytest.approx((GAP - 1) / 1000) and pages["/0"]["avg_seconds"] is None


def test_page_persons_are_the_page_viewers(analyst, page_frame):
    options = {"cleaning": [{"pattern": r"/\d+", "replacement": "/:id"}]}
    request = {**SCOPE, "model": "page", **options}
    expected = refp.pages(page_frame, request, *bounds(request))
    page = "/product/:id"
    listed = []
    for offset in range(0, 200, 7):
        got = run_query({**request, "persons": {"page": page, "limit": 7, "offset": offset}}, analyst)["persons"]
        listed += got["persons"]
        if len(got["persons"]) < 7:
            break
    assert sorted(listed) == sorted(expected[page]["person_set"]) and len(set(listed)) == len(listed)
    latest = got["latest_properties"]
    assert all(set(v) >= {"last_seen", "platform"} for v in latest.values())


@pytest.mark.parametrize(
    "dimensions, extra",
    [
        (["platform"], {}),
        (["os", "os_version"], {"events": [{"event": "page_view"}]}),
        (["browser", "browser_version", "screen"], {"timezone": "Asia/Shanghai", "date_from": "2026-11-03", "date_to": "2026-11-04"}),
        (["device_brand", "device_model"], {"filters": [{"property": "platform", "op": "!=", "value": "web"}]}),
        (["network_type", "carrier"], {}),
        (["utm_source", "utm_medium", "utm_campaign"], {"events": [{"event": "page_view"}, {"event": "click"}]}),
        (["referrer_domain"], {"events": [{"event": "page_view", "filters": [{"property": "referrer_domain", "op": "!=", "value": ""}]}]}),
    ],
)
def test_terminals_against_reference(analyst, page_frame, dimensions, extra):
    request = {**SCOPE, "model": "terminal", "dimensions": dimensions, "max_rows": 1000, **extra}
    got = run_query(request, analyst)
    expected = refp.terminals(page_frame, request, *bounds(request), dimensions)
    assert_terminals(got, expected)
    top = got["rows_by_value"][0]
    listed = run_query({**request, "persons": {"values": top["values"], "limit": 10_000}}, analyst)["persons"]
    assert set(listed["persons"]) == expected[tuple(top["values"])][3]


def assert_terminals(got: dict, expected: dict) -> None:
    """The rows and the total of a terminal analysis as the reference has them, most persons first."""
    expected = dict(expected)
    total = expected.pop(None)
    assert got["total"] == dict(zip(("persons", "sessions", "events"), total[:3]))
    assert {tuple(r["values"]): (r["persons"], r["sessions"], r["events"]) for r in got["rows_by_value"]} == {k: v[:3] for k, v in expected.items()}
    persons = [r["persons"] for r in got["rows_by_value"]]
    assert persons == sorted(persons, reverse=True) and not got["truncated"]


def test_terminal_rows_cut_at_max_rows(analyst, page_frame):
    got = run_query({**SCOPE, "model": "terminal", "dimensions": ["platform"], "max_rows": 2}, analyst)
    assert len(got["rows_by_value"]) == 2 and got["truncated"] and len(got["rows"]) == 2


@pytest.mark.parametrize(
    "request_, field",
    [
        ({"model": "page", "cleaning": [{"pattern": "(unclosed"}]}, "cleaning"),
        # Python's re takes lookarounds; RE2 (the warehouse's) does not: refused before any query
        ({"model": "page", "cleaning": [{"pattern": "/p/(?=[0-9])"}]}, "not an RE2 regular expression"),
        ({"model": "page", "cleaning": [{"pattern": "/(x)", "replacement": "\\2"}]}, "\\2 is not a group"),
        ({"model": "page", "scroll_property": "depth"}, "scroll_property: only with a scroll_event"),
        ({"model": "page", "cleaning": [{"pattern": "x"}] * 21}, "cleaning"),
        ({"model": "page", "max_pages": 1001}, "max_pages"),
        ({"model": "page", "date_from": "2025-01-01", "date_to": "2026-11-01"}, "trend"),
        ({"model": "page", "session_gap_seconds": 0}, "session_gap_seconds"),
        ({"model": "terminal", "dimensions": ["user_agent"]}, "dimensions"),
        ({"model": "terminal", "dimensions": ["os", "os"]}, "dimensions"),
        ({"model": "terminal", "dimensions": ["os", "os_version", "browser", "screen"]}, "dimensions"),
        ({"model": "terminal", "dimensions": ["os"], "persons": {"values": ["iOS", "17"]}}, "persons.values"),
        ({"model": "interval", "start": {"event": "view"}, "end": {"event": "pay"}, "persons": {"bucket": 10}}, "persons.bucket"),
        ({"model": "interval", "start": {"event": "view"}, "end": {"event": "pay"}, "persons": {}}, "either bucket"),
        ({"model": "interval", "start": {"event": "view"}, "end": {"event": "pay"}, "persons": {"bucket": 1, "group": "web"}}, "group_by"),
        ({"model": "distribution", "event": {"event": "view"}, "bucket_edges": [1, 2], "persons": {"bucket": 2}}, "persons.bucket"),
        ({"model": "distribution", "event": {"event": "view"}, "persons": {"bucket": 0, "limit": 10_001}}, "limit"),
    ],
)
def test_requests_refused_with_the_field_named(request_, field):
    from pydantic import ValidationError

    from pipelines.analysis import parse_request

    with pytest.raises(ValidationError) as caught:
        parse_request({**SCOPE, **request_})
    assert field in str(caught.value)


def test_scroll_property_is_named_only_with_a_scroll_event():
    """Its default (the web SDK's `depth`) applies with a scroll event; without one the request names no property,
    so the unknown-name check has nothing to report."""
    from pipelines.analysis import parse_request
    from pipelines.analysis.names import request_names

    plain = parse_request({**SCOPE, "model": "page"})
    assert plain.scroll_property is None and [n for _, n, _ in request_names(plain)] == ["page_view"]
    scrolled = parse_request({**SCOPE, "model": "page", "scroll_event": {"event": "scroll_depth"}})
    assert scrolled.scroll_property == "depth" and ("depth", "scroll_property") in [(n, at) for _, n, at in request_names(scrolled)]
    named = parse_request({**SCOPE, "model": "page", "scroll_event": {"event": "scroll_depth"}, "scroll_property": "pct"})
    assert named.scroll_property == "pct"


# -- persons behind interval and distribution buckets ----------------------------------------------------------
REF_SCOPE = {"app_id": APP, "date_from": "2026-11-01", "date_to": "2026-11-15"}
EDGES = [0, 60, 3600, 86_400]


def _all_pages(request: dict, analyst, page: dict) -> list[str]:
    listed = []
    for offset in range(0, 100_000, 50):
        got = run_query({**request, "persons": {**page, "limit": 50, "offset": offset}}, analyst)["persons"]
        listed += got["persons"]
        if len(got["persons"]) < 50:
            return listed
    raise AssertionError("more pages than expected")


@pytest.mark.parametrize(
    "options",
    [
        {"start": {"event": "view"}, "end": {"event": "pay"}, "group_by": "platform"},
        {"start": {"event": "view"}, "end": {"event": "view"}, "timezone": "Asia/Shanghai"},
    ],
)
def test_interval_bucket_persons(analyst, loaded, frame, options):
    request = {**REF_SCOPE, "model": "interval", "bucket_edges_seconds": EDGES, **options}
    cells = refp.interval_cells(frame, request, *bounds(request), EDGES)
    got = run_query(request, analyst)
    assert cells
    for (group, bucket), persons in cells.items():
        page = {"unmatched": True} if bucket == "unmatched" else {"bucket": bucket}
        if "group_by" in options:
            page["group"] = group
        listed = _all_pages(request, analyst, page)
        assert sorted(listed) == sorted(persons), (group, bucket)
    # an empty cell lists nobody, and a listed count never exceeds the bucket's interval count
    for g in got["groups"]:
        for i, h in enumerate(g["histogram"]):
            assert len(cells.get((g["group"] or "", i), ())) <= h["count"]


@pytest.mark.parametrize(
    "options",
    [
        {"event": {"event": "view"}, "bucket_edges": [1, 2, 3, 5]},
        {"event": {"event": "pay"}, "measure": "sum", "property": "price", "bucket_edges": [0, 10, 100, 1000], "timezone": "Asia/Shanghai"},
    ],
)
def test_distribution_bucket_persons(analyst, loaded, frame, options):
    request = {**REF_SCOPE, "model": "distribution", **options}
    values = ref.distribution(frame, request, *bounds(request))
    got = run_query(request, analyst)
    expected = refp.bucket_persons(values, options["bucket_edges"])
    for i, persons in enumerate(expected):
        assert got["buckets"][i]["count"] == len(persons)
        assert sorted(_all_pages(request, analyst, {"bucket": i})) == sorted(persons)
    one = run_query({**request, "persons": {"bucket": 0, "limit": 3}}, analyst)["persons"]
    last = frame[frame["person"].isin(one["persons"]) & (frame["event"] == options["event"]["event"])].sort_values("t").groupby("person").last()
    for person, props in one["latest_properties"].items():
        assert props["platform"] == last.loc[person, "platform"]


@pytest.mark.parametrize(
    "options",
    [
        {"initial": {"event": "view"}, "returning": {"event": "pay"}, "periods": 3},
        {"initial": {"event": "view"}, "returning": {"event": "view"}, "period": "week", "periods": 2, "mode": "first_time", "timezone": "Asia/Shanghai"},
    ],
)
def test_retention_cell_persons(analyst, loaded, frame, options):
    request = {**REF_SCOPE, "model": "retention", **options}
    cells = ref.retention_cells(frame, request, *bounds(request))
    got = run_query(request, analyst)
    assert {c["cohort"] for c in got["cohorts"]} == {day.isoformat() for day in cells}
    checked = 0
    for cohort, cell in sorted(cells.items())[:4]:
        for period, persons in enumerate(cell):
            listed = _all_pages(request, analyst, {"cohort": cohort.isoformat(), "period": period})
            assert sorted(listed) == sorted(persons), (cohort, period)
            checked += bool(persons)
    assert checked


def test_funnel_persons_carry_latest_properties(analyst, loaded, frame):
    request = {**REF_SCOPE, "model": "funnel", "steps": [{"event": "view"}, {"event": "cart"}], "persons": {"step": 2, "limit": 5}}
    page = run_query(request, analyst)["persons"]
    assert page["persons"] == sorted(page["persons"]) and set(page["latest_properties"]) == set(page["persons"])
    start, end = bounds(request)
    mine = frame[frame["person"].isin(page["persons"]) & frame["event"].isin(["view", "cart"]) & (frame["t"] >= start) & (frame["t"] < end)]
    latest = mine.sort_values("t").groupby("person").last()
    for person, props in page["latest_properties"].items():
        assert props["platform"] == latest.loc[person, "platform"]
        assert props["last_seen"].startswith(pd.Timestamp(latest.loc[person, "t"], unit="ms").strftime("%Y-%m-%dT%H:%M:%S"))
