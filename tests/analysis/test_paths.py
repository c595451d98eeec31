"""Path analysis against an independent pandas/Python reference (written from the semantics in
pipelines/analysis/paths.py's docstring) on generated page views and events with edge cases: sessions split exactly
at the gap and 1 ms before it, consecutive duplicates, URL cleaning, persons with one event, timestamp ties, events
around the range's local midnights; and the persons behind every listed edge are the persons it counts."""

from __future__ import annotations

import random
import re
from collections import defaultdict

import pandas as pd
import pytest
from pydantic import ValidationError

from pipelines.analysis import parse_request, run_query
from pipelines.analysis.paths import MAX_EDGES_PER_STEP, MAX_STEPS
from pipelines.envelope import DETAIL_COLUMNS, detail_row

from . import reference as ref
from .conftest import DAY_MS, T0, envelope
from .test_models import bounds

APP = "paths-app"
GAP_MS = 1_800_000
PAGES = ["home", "list", "product", "cart", "pay"]
OTHER_EVENTS = ["click", "search"]


def event(person: str, name: str, ts: int, url: str = "", title: str = "", **props) -> dict:
    return envelope(person, name, ts, app=APP, **props) | {"context": {"platform": "web", "url": url, "title": title}}


def page(person: str, kind: str, ts: int, **props) -> dict:
    sku = abs(hash((person, ts))) % 1000
    url = {"product": f"https://s.example/product/{sku}?ref=feed", "list": f"https://s.example/list?page={sku % 3}"}.get(kind, f"https://s.example/{kind}")
    return event(person, "page_view", ts, url=url, title=kind.title(), **props)


def generated(seed: int = 7, persons: int = 160) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for p in range(persons):
        person = f"p{p}"
        t = T0 + rng.randrange(9 * DAY_MS)
        for _ in range(rng.choice([1, 2, 4, 6, 9, 14])):
            # whole minutes, the exact gap and 1 ms short of it: ties, splits at the edge and long sessions all happen
            t += rng.choice([0, 60_000, 60_000, 300_000, GAP_MS - 1, GAP_MS, 4 * 3_600_000])
            if rng.random() < 0.7:
                out.append(page(person, rng.choice(PAGES), t, channel=rng.choice(["ads", "seo"])))
            else:
                out.append(event(person, rng.choice(OTHER_EVENTS), t, channel=rng.choice(["ads", "seo"])))
    return out


def edge_cases() -> list[dict]:
    e = []
    base = T0 + 2 * DAY_MS
    # one millisecond short of the gap: one session; exactly the gap apart: two
    e += [page("gap-under", "home", base), page("gap-under", "list", base + GAP_MS - 1), page("gap-under", "cart", base + 2 * GAP_MS - 2)]
    e += [page("gap-exact", "home", base), page("gap-exact", "list", base + GAP_MS), page("gap-exact", "cart", base + GAP_MS + 60_000)]
    # consecutive duplicates collapse, non-consecutive ones stay
    e += [page("dup", k, base + i * 60_000) for i, k in enumerate(["home", "home", "list", "list", "list", "home", "cart"])]
    e += [event("dup", n, base + 10 * 60_000 + i * 60_000) for i, n in enumerate(["click", "click", "search", "click"])]
    # funnel windows of 10 minutes from a search: the event exactly at the window's end is in it, one 1 ms later is
    # not (nor in the next window, which only a later search opens)
    w = base + 5 * DAY_MS
    e += [event("window", "click", w - 60_000), event("window", "search", w), event("window", "click", w + 600_000)]
    e += [event("window", "search", w + 600_001), event("window", "click", w + 1_200_002), event("window", "search", w + 1_200_003)]
    # one event only
    e += [page("single", "home", base + 3 * DAY_MS)]
    # a tie: two page views at the same millisecond (ordered by label)
    e += [page("tie", "list", base + DAY_MS), page("tie", "home", base + DAY_MS), page("tie", "cart", base + DAY_MS + 60_000)]
    # around 2026-11-03 00:00 in Asia/Shanghai (16:00 UTC the day before): the range's first local midnight
    midnight_cn = T0 + 2 * DAY_MS - 8 * 3_600_000
    e += [page("tz", "home", midnight_cn - 60_000), page("tz", "list", midnight_cn), page("tz", "cart", midnight_cn + 60_000)]
    return e


@pytest.fixture(scope="module")
def path_events(warehouse) -> list[dict]:
    events = generated() + edge_cases()
    warehouse.insert("dwd_default", [detail_row(e) for e in events], DETAIL_COLUMNS, settings={"async_insert": 0})
    return events


@pytest.fixture(scope="module")
def path_frame(path_events) -> pd.DataFrame:
    return path_frame_of(path_events)


def path_frame_of(path_events: list[dict]) -> pd.DataFrame:
    rows = [
        {"person": "device_id:" + e["ids"]["device_id"], "event": e["event"], "t": e["ts"], "url": e["context"].get("url", ""),
         "title": e["context"].get("title", ""), **e["props"]}
        for e in path_events
    ]  # fmt: skip
    return pd.DataFrame(rows)


# -- the reference -----------------------------------------------------------------------------------------------
def _python_replacement(replacement: str):
    """ClickHouse's replacement (\\0-\\9 the match and groups, \\\\ a backslash) as a function for re.sub."""
    parts = re.split(r"(\\.)", replacement)

    def replace(match: re.Match) -> str:
        out = []
        for part in parts:
            if len(part) == 2 and part[0] == "\\":
                out.append(match.group(int(part[1])) or "" if part[1].isdigit() else part[1])
            else:
                out.append(part)
        return "".join(out)

    return replace


def label_of(row: dict, request: dict) -> str:
    label = row["event"] if request.get("item", "event") == "event" else row[request["item"]]
    for rule in request.get("cleaning", []):
        label = re.sub(rule["pattern"], _python_replacement(rule.get("replacement", "")), label)
    return label


def reference_paths(frame: pd.DataFrame, request: dict) -> list[tuple[str, list[tuple[int, str]]]]:
    """(person, [(ms, label), ...]) for every path, in the order the semantics describe."""
    start, end = bounds(request)
    rows = ref.in_range(frame, start, end, request.get("filters", []))
    item = request.get("item", "event")
    if item == "event":
        if request.get("events"):
            rows = rows[rows.event.isin(request["events"])]
    else:
        rows = rows[rows.event == request.get("page_event", "page_view")]
    anchor_selector = request.get("start") or request.get("end")
    anchors = ref.matches(rows, anchor_selector).tolist()
    per_person = defaultdict(list)
    for (_, row), anchor in zip(rows.iterrows(), anchors):
        per_person[row["person"]].append((int(row["t"]), label_of(row, request), bool(anchor)))
    steps, gap = request.get("steps", 5), request.get("session_gap_seconds", 1800) * 1000
    window = request.get("funnel_window_seconds")
    paths = []
    for person, events in per_person.items():
        events.sort()
        sessions, current = [], []
        if window is not None:  # a window opens at a start match past the open one's end and runs `window` on
            window_end = None
            for e in events:
                if e[2] and (window_end is None or e[0] > window_end):
                    current = [e]
                    sessions.append(current)
                    window_end = e[0] + window * 1000
                elif window_end is not None and e[0] <= window_end:
                    current.append(e)
        else:
            for e in events:
                if current and e[0] - current[-1][0] >= gap:
                    sessions.append(current)
                    current = []
                current.append(e)
            sessions.append(current)
        for session in sessions:
            hits = [i for i, e in enumerate(session) if e[2]]
            if not hits:
                continue
            cut = session[hits[0]:] if request.get("start") else session[: hits[0] + 1]
            collapsed = [e for i, e in enumerate(cut) if i == 0 or e[1] != cut[i - 1][1]]
            path = collapsed[:steps] if request.get("start") else collapsed[-steps:]
            paths.append((person, [(t, label) for t, label, _ in path]))
    return paths


def reference_edges(request: dict, paths) -> dict:
    """{(step, source, target): (count, persons, total ms)} with the top edges per step and the rest folded into
    (step, None, None); step 0 is where paths begin (source None)."""
    steps = request.get("steps", 5)
    raw = defaultdict(lambda: [0, set(), 0])
    for person, path in paths:
        offset = 0 if request.get("start") else steps - len(path)
        raw[(0, "", path[0][1])][0] += 1
        raw[(0, "", path[0][1])][1].add(person)
        for k in range(1, len(path)):
            edge = raw[(offset + k, path[k - 1][1], path[k][1])]
            edge[0] += 1
            edge[1].add(person)
            edge[2] += path[k][0] - path[k - 1][0]
    out = {}
    by_step = defaultdict(list)
    for key, value in raw.items():
        by_step[key[0]].append((key, value))
    for step, items in by_step.items():
        items.sort(key=lambda kv: (-kv[1][0], kv[0][1], kv[0][2]))
        for key, value in items[: request.get("edges_per_step", 10)]:
            out[(step, key[1] or None, key[2])] = (value[0], value[1], value[2])
        folded = items[request.get("edges_per_step", 10):]
        if folded:
            out[(step, None, None)] = (
                sum(v[0] for _, v in folded), set().union(*(v[1] for _, v in folded)), sum(v[2] for _, v in folded)
            )
    return out


def response_edges(response: dict) -> dict:
    return {(e["step"], e["source"], e["target"]): e for e in response["edges"]}


# -- tests -------------------------------------------------------------------------------------------------------
SCOPE = {"model": "paths", "app_id": APP, "date_from": "2026-11-01", "date_to": "2026-11-14"}
URL_RULES = [{"pattern": r"/product/\d+", "replacement": "/product/:id"}, {"pattern": r"\?.*$", "replacement": ""}]
CASES = {
    "events from any start": {"start": {"event": "$any"}},
    "events from page views, 3 steps": {"start": {"event": "page_view"}, "steps": 3, "edges_per_step": 4},
    "events to search, 10 steps": {"end": {"event": "search"}, "steps": MAX_STEPS},
    "only some events": {"start": {"event": "click"}, "events": ["click", "search"], "edges_per_step": 2},
    "urls cleaned from a filtered start": {
        "item": "url", "cleaning": URL_RULES, "edges_per_step": 3,
        "start": {"event": "page_view", "filters": [{"property": "url", "op": "contains", "value": "/list"}]},
    },
    "urls with groups in the replacement to cart": {
        "item": "url", "end": {"event": "page_view", "filters": [{"property": "title", "op": "=", "value": "Cart"}]},
        "cleaning": [{"pattern": r"https://([a-z.]+)/product/\d+.*", "replacement": r"\1/product"}, {"pattern": r"https://", "replacement": ""}],
    },
    "titles, short gap, Shanghai days": {
        "item": "title", "start": {"event": "$any"}, "session_gap_seconds": 120, "timezone": "Asia/Shanghai",
        "date_from": "2026-11-03", "date_to": "2026-11-08", "filters": [{"property": "channel", "op": "!=", "value": "ads"}],
    },
    "events in a funnel's window from search": {"start": {"event": "search"}, "funnel_window_seconds": 600, "steps": 4},
    "urls in a funnel's window from page views": {
        "item": "url", "cleaning": URL_RULES, "start": {"event": "page_view"}, "funnel_window_seconds": GAP_MS // 1000, "steps": 6,
    },
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_paths_match_the_reference(analyst, path_events, path_frame, name):
    request = {**SCOPE, **CASES[name]}
    got = run_query(request, analyst)
    paths = reference_paths(path_frame, request)
    expected = reference_edges(request, paths)
    edges = response_edges(got)
    assert set(edges) == set(expected), name
    for key, (count, persons, total_ms) in expected.items():
        edge = edges[key]
        assert (edge["count"], edge["persons"]) == (count, len(persons)), key
        if key[0] > 0:
            assert edge["avg_seconds"] == pytest.approx(total_ms / count / 1000, abs=1e-3), key
    assert got["paths"] == len(paths) and got["persons"] == len({p for p, _ in paths})
    per_step = defaultdict(set)
    for person, path in paths:
        offset = 0 if request.get("start") else request.get("steps", 5) - len(path)
        per_step[0].add(person)
        for k in range(1, len(path)):
            per_step[offset + k].add(person)
    assert {s["step"]: s["persons"] for s in got["steps"]} == {k: len(v) for k, v in per_step.items()}
    assert all(len([e for e in got["edges"] if e["step"] == k and not e["other"]]) <= request.get("edges_per_step", 10) for k in per_step)
    assert got["warnings"] == []


def test_edge_cases_are_where_the_semantics_put_them(analyst, path_events):
    request = {**SCOPE, "item": "title", "start": {"event": "page_view"}, "steps": 10, "edges_per_step": MAX_EDGES_PER_STEP}

    def persons_of(step, source, target):
        page = {"step": step, "source": source, "target": target, "limit": 10_000}
        return run_query({**request, "persons": page}, analyst)["persons"]["persons"]

    # gap-under stays one session: Home -> List -> Cart; gap-exact splits after Home, so it never goes Home -> List
    assert "device_id:gap-under" in persons_of(2, "List", "Cart")
    assert "device_id:gap-exact" not in persons_of(1, "Home", "List")
    assert "device_id:gap-exact" in persons_of(0, None, "List")
    # dup: Home Home List List List Home Cart -> Home List Home Cart
    assert "device_id:dup" in persons_of(2, "List", "Home") and "device_id:dup" in persons_of(3, "Home", "Cart")
    # the tie at one millisecond is ordered by label: Home, List, then Cart
    assert "device_id:tie" in persons_of(1, "Home", "List") and "device_id:tie" in persons_of(2, "List", "Cart")
    # one event: a path of one element (counted where paths begin), no edge
    assert "device_id:single" in persons_of(0, None, "Home")


def test_funnel_window_holds_its_end_and_opens_at_a_start(analyst, path_events):
    request = {**SCOPE, "start": {"event": "search"}, "funnel_window_seconds": 600, "edges_per_step": MAX_EDGES_PER_STEP}
    got = run_query({**request, "persons": {"step": 1, "source": "search", "target": "click", "limit": 10_000}}, analyst)
    assert "device_id:window" in got["persons"]["persons"]  # the click at exactly 10 minutes is in the first window
    # windows: [search, click] and [search, (click 10 min + 1 ms later: out)], then [search]: three paths of the
    # person begin at search, and only the first goes on
    expected = [p for p in reference_paths(path_frame_of(path_events), request) if p[0] == "device_id:window"]
    assert [[label for _, label in path] for _, path in expected] == [["search", "click"], ["search"], ["search"]]


@pytest.mark.parametrize(
    "name", ["events from page views, 3 steps", "urls cleaned from a filtered start", "events to search, 10 steps", "events in a funnel's window from search"]
)
def test_persons_behind_every_edge_are_the_persons_it_counts(analyst, path_events, path_frame, name):
    request = {**SCOPE, **CASES[name]}
    expected = reference_edges(request, reference_paths(path_frame, request))
    got = run_query(request, analyst)
    for edge in got["edges"]:
        key = (edge["step"], edge["source"], edge["target"])
        page = {"step": edge["step"], "limit": 10_000} | ({"other": True} if edge["other"] else {"source": edge["source"], "target": edge["target"]})
        persons = run_query({**request, "persons": page}, analyst)["persons"]["persons"]
        assert persons == sorted(expected[key][1]) and len(persons) == edge["persons"], key


def test_persons_are_paged(analyst, path_events, path_frame):
    request = {**SCOPE, "start": {"event": "$any"}}
    expected = sorted(reference_edges(request, reference_paths(path_frame, request))[(0, None, "page_view")][1])
    pages = [
        run_query({**request, "persons": {"step": 0, "target": "page_view", "limit": 9, "offset": offset}}, analyst)["persons"]
        for offset in range(0, len(expected) + 9, 9)
    ]
    listed = [p for page in pages for p in page["persons"]]
    assert sorted(listed) == expected and len(set(listed)) == len(listed) and pages[-1]["persons"] == []
    assert all(page["persons"] == sorted(page["persons"]) and set(page["latest_properties"]) == set(page["persons"]) for page in pages)
    assert pages[0]["latest_properties"][pages[0]["persons"][0]]["platform"] == "web"


@pytest.mark.parametrize(
    "change,field,message",
    [
        ({"steps": MAX_STEPS + 1}, "steps", "less than or equal to 10"),
        ({"steps": 1}, "steps", "greater than or equal to 2"),
        ({"edges_per_step": MAX_EDGES_PER_STEP + 1}, "edges_per_step", "less than or equal to 100"),
        ({"date_from": "2026-01-01"}, "date_to", "at most 92 days"),
        ({"session_gap_seconds": 0}, "session_gap_seconds", "greater than or equal to 1"),
        ({"start": None}, "start", "one of them"),
        ({"end": {"event": "pay"}}, "start", "one of them"),
        ({"cleaning": [{"pattern": "(?=lookahead)"}]}, "cleaning.0", "not an RE2 regular expression"),
        ({"cleaning": [{"pattern": "a" * 501}]}, "cleaning.0.pattern", "at most 500 characters"),
        ({"cleaning": [{"pattern": "((((a{1,100}){1,10}){1,10}){1,10})"}]}, "cleaning.0", "RE2"),
        ({"cleaning": [{"pattern": "(x)", "replacement": "\\2"}]}, "cleaning.0", "\\2 is not a group"),
        ({"cleaning": [{"pattern": "x"}] * 21}, "cleaning", "at most 20 items"),
        ({"item": "url", "start": {"event": "click"}}, "start.event", "page_view"),
        ({"events": ["pay"]}, "start.event", "not one of `events`"),
        ({"page_event": "page_view"}, "page_event", "only for item url or title"),
        ({"persons": {"step": 5, "source": "a", "target": "x"}}, "persons.step", "edges at steps 0 to 4"),
        ({"persons": {"step": 1, "target": "x"}}, "persons", "its source"),
        ({"persons": {"step": 1, "other": True, "source": "x"}}, "persons", "takes no source"),
        ({"funnel_window_seconds": 0}, "funnel_window_seconds", "greater than or equal to 1"),
        ({"funnel_window_seconds": 366 * 86_400 + 1}, "funnel_window_seconds", "less than or equal to"),
        ({"funnel_window_seconds": 600, "start": None, "end": {"event": "pay"}}, "funnel_window_seconds", "only with a start event"),
        ({"funnel_window_seconds": 600, "session_gap_seconds": 600}, "session_gap_seconds", "not with funnel_window_seconds"),
    ],
)
def test_limits_are_enforced_with_clear_errors(change, field, message):
    from pipelines.analysis.api import validation_errors

    request = {**SCOPE, "start": {"event": "page_view"}, **change}
    with pytest.raises(ValidationError) as caught:
        parse_request(request)
    errors = validation_errors(caught.value)
    assert any(e["field"].startswith(field) and message in e["message"] for e in errors), errors


def test_url_mode_defaults_to_page_views():
    assert parse_request({**SCOPE, "item": "url", "start": {"event": "$any"}}).page_event == "page_view"
