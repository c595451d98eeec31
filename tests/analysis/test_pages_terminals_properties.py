"""Property-based: page and terminal analysis against the pandas references (reference_pages.py) on random events —
views at the same millisecond on different pages (the (time, kind, page) order decides entries, exits and times),
views exactly at the session gap and 1 ms around it, leave and scroll events at a view's own time or at the gap,
pages that cleaning folds together or that share a long prefix; sessions shared by two persons, unreported values."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.analysis import run_query

from . import reference_pages as refp
from .conftest import T0
from .test_models import bounds
from .test_pages_terminals import GAP, _event, assert_pages, assert_terminals, loaded_frame

SCOPE = {"date_from": "2026-11-01", "date_to": "2026-11-02"}
# prefixes shared beyond 8 bytes, ids that cleaning folds, and one page that sorts before the others
PAGES = ["/", "/product/17", "/product/42", "/product/42/reviews", "/productx", "/cart", "/Product/7"]
views = st.lists(
    st.tuples(
        st.sampled_from([0, 0, 1, 30_000, GAP - 1, GAP, GAP + 1]),  # ms after the previous view
        st.sampled_from(PAGES),
        st.sampled_from([None, None, 0, 1, 20_000, GAP - 1, GAP]),  # a page-leave this long after the view
        st.sampled_from([None, None, (0, 25), (5_000, 100), (1, 50)]),  # a scroll (ms after the view, depth)
    ),
    min_size=1, max_size=8,
)  # fmt: skip
page_options = st.fixed_dictionaries(
    {
        "by": st.sampled_from(["url_path", "url", "title"]),
        "cleaning": st.sampled_from([[], [{"pattern": "/[0-9]+", "replacement": "/:id"}], [{"pattern": "(?i)^/product.*", "replacement": "/p"}]]),
        "leave_event": st.sampled_from([None, {"event": "page_leave"}]),
        "scroll_event": st.sampled_from([None, {"event": "scroll_depth"}]),
    }
)  # fmt: skip


def _page_events(app: str, person: str, sequence: list[tuple]) -> list[dict]:
    """One person's views (each `step` ms after the previous one), with their leave and scroll events."""
    out, t = [], T0
    for step, page, leave, scroll in sequence:
        t += step
        context = {"platform": "web", "url": f"https://shop.example{page}?q=1", "title": page.strip("/") or "home"}
        out.append(_event(person, "page_view", t, context, "s", app=app))
        if leave is not None:
            out.append(_event(person, "page_leave", t + leave, {"platform": "web"}, "s", app=app))
        if scroll is not None:
            out.append(_event(person, "scroll_depth", t + scroll[0], {"platform": "web"}, "s", app=app, depth=scroll[1]))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(persons=st.lists(views, min_size=1, max_size=4), options=page_options)
def test_pages_match_reference(analyst, warehouse, persons, options):
    app = f"hyp-pages-{uuid.uuid4().hex[:8]}"
    frame = loaded_frame(warehouse, [e for p, sequence in enumerate(persons) for e in _page_events(app, f"p{p}", sequence)], app)
    request = {**SCOPE, "app_id": app, "model": "page", "max_pages": 1000, **{k: v for k, v in options.items() if v is not None}}
    assert_pages(run_query(request, analyst), refp.pages(frame, request, *bounds(request)))


terminal_events = st.lists(
    st.tuples(
        st.sampled_from(["p0", "p1", "p2"]),
        st.sampled_from(["", "s0", "s1", "s2"]),  # a session id two persons share counts once
        st.sampled_from(["page_view", "click"]),
        st.sampled_from(["web", "ios"]),
        # rows are grouped by a hash of their values: values that run together alike ("iOS1" + "7", "iOS" + "17") or
        # swap dimensions ("17" + "", "" + "17") stay apart
        st.sampled_from(["", "iOS", "Android", "iOS1", "17"]),
        st.sampled_from(["", "17", "14", "7"]),
        st.integers(0, 2 * 86_400_000 - 1),
    ),
    min_size=1, max_size=25,
)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=terminal_events,
    dimensions=st.lists(st.sampled_from(["platform", "os", "os_version"]), min_size=1, max_size=3, unique=True),
    events=st.sampled_from([[], [{"event": "click"}]]),
)
def test_terminals_match_reference(analyst, warehouse, rows, dimensions, events):
    app = f"hyp-terms-{uuid.uuid4().hex[:8]}"
    sent = [
        _event(person, event, T0 + at, {"platform": platform, "os": os, "os_version": version}, session, app=app)
        for person, session, event, platform, os, version, at in rows
    ]
    frame = loaded_frame(warehouse, sent, app)
    request = {**SCOPE, "app_id": app, "model": "terminal", "dimensions": dimensions, "max_rows": 1000, "events": events}
    expected = refp.terminals(frame, request, *bounds(request), dimensions)
    got = run_query(request, analyst)
    if len(expected) == 1:  # nothing counted: no rows, zero totals
        assert got["rows_by_value"] == [] and got["total"] == {"persons": 0, "sessions": 0, "events": 0}
    else:
        assert_terminals(got, expected)
