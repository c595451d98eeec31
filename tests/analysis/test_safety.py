"""Injection attempts are rejected or passed safely; the generated SQL reads well (snapshots)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from pipelines.analysis import build_queries, parse_request, run_query

from .conftest import APP

SNAPSHOTS = Path(__file__).parent / "snapshots"
SCOPE = {"app_id": APP, "date_from": "2026-11-01", "date_to": "2026-11-15"}
HOSTILE = ["x' OR 1=1 --", "a`; DROP TABLE events; --", "}{p:String}", "\\'", "props['x']", "1) UNION ALL SELECT 1 --"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_rejected(name):
    for request in (
        {"model": "event", **SCOPE, "metrics": [{"event": name}]},
        {"model": "event", **SCOPE, "metrics": [{"event": "view"}], "group_by": [name]},
        {"model": "funnel", **SCOPE, "steps": [{"event": "view"}, {"event": "cart"}], "breakdown": name},
        {"model": "distribution", **SCOPE, "event": {"event": "view", "filters": [{"property": name, "op": "is_set"}]}},
    ):
        with pytest.raises(ValidationError):
            parse_request(request)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_bound_not_spliced(analyst, loaded, value):
    request = {"model": "event", **SCOPE, "metrics": [{"event": "view", "filters": [{"property": "channel", "op": "=", "value": value}]}]}
    for query in build_queries(parse_request(request)).values():
        assert value not in query.sql
    response = run_query(request, analyst)
    assert sum(s["values"][0] for s in response["series"]) == 0  # no event has that channel; nothing broke out


def test_quoted_value_matches_exactly(analyst, loaded, frame):
    value = "o'brien\\'"  # stored in the generated data
    request = {"model": "event", **SCOPE, "metrics": [{"event": "view", "filters": [{"property": "channel", "op": "in", "value": [value]}]}]}
    response = run_query(request, analyst)
    expected = frame[(frame.event == "view") & (frame.channel == value) & (frame.t < 1_794_787_200_000)]  # date_to 11-15 inclusive
    assert sum(s["values"][0] for s in response["series"]) == len(expected)


SNAPSHOT_REQUESTS = {
    "event_grouped": {"model": "event", **SCOPE, "metrics": [{"event": "pay", "math": "sum", "property": "price"}], "group_by": ["platform"]},
    "funnel_hold_exclusion": {
        "model": "funnel", **SCOPE, "steps": [{"event": "view"}, {"event": "cart"}, {"event": "pay"}],
        "hold_constant": "product_id", "exclusions": [{"event": "search", "from_step": 1, "to_step": 2}], "order": "strict",
    },
    "funnel_hold_persons": {
        "model": "funnel", **SCOPE, "steps": [{"event": "view"}, {"event": "view"}, {"event": "cart"}], "hold_constant": "product_id",
        "persons": {"step": 2, "status": "dropped"},
    },
    "funnel_breakdown": {
        "model": "funnel", **SCOPE, "steps": [{"event": "view"}, {"event": "cart"}, {"event": "pay"}], "breakdown": "platform",
        "max_step_gap_seconds": 3600,
    },
    "retention_first_time": {"model": "retention", **SCOPE, "initial": {"event": "sign_up"}, "returning": {"event": "pay"}, "mode": "first_time"},
    "interval": {"model": "interval", **SCOPE, "start": {"event": "view"}, "end": {"event": "pay"}, "group_by": "platform"},
    "distribution_sampled": {"model": "distribution", **SCOPE, "event": {"event": "view"}, "sample": 0.1},
    "distribution_bucket_persons": {"model": "distribution", **SCOPE, "event": {"event": "view"}, "persons": {"bucket": 1}},
    "interval_unmatched_persons": {
        "model": "interval", **SCOPE, "start": {"event": "view"}, "end": {"event": "pay"}, "group_by": "platform",
        "persons": {"unmatched": True, "group": "web"},
    },
    "retention_cell_persons": {
        "model": "retention", **SCOPE, "initial": {"event": "view"}, "returning": {"event": "pay"},
        "persons": {"cohort": "2026-11-02", "period": 1},
    },
    "page_cleaned_scroll_persons": {
        "model": "page", **SCOPE, "cleaning": [{"pattern": "/[0-9]+", "replacement": "/:id"}], "compare_previous": True,
        "scroll_event": {"event": "scroll_depth"}, "leave_event": {"event": "page_leave"}, "persons": {"page": "/p/:id"},
    },
    "terminal_all_events_persons": {
        "model": "terminal", **SCOPE, "dimensions": ["os", "os_version", "screen"], "persons": {"values": ["iOS", "17.1", ""]},
    },
    "terminal_events": {"model": "terminal", **SCOPE, "dimensions": ["utm_source"], "events": [{"event": "view"}, {"event": "pay"}]},
    "paths_from_event": {"model": "paths", **SCOPE, "start": {"event": "view"}, "events": ["view", "cart", "pay"], "steps": 4},
    "paths_url_to_end_other_persons": {
        "model": "paths", **SCOPE, "item": "url", "end": {"event": "page_view", "filters": [{"property": "url", "op": "contains", "value": "/cart"}]},
        "cleaning": [{"pattern": "/[0-9]+", "replacement": "/:id"}], "persons": {"step": 3, "other": True},
    },
    "lifecycle_week_persons": {"model": "lifecycle", **SCOPE, "event": {"event": "$any"}, "period": "week", "persons": {"period": "2026-11-09", "status": "dormant"}},
    "stickiness_persons": {"model": "stickiness", **SCOPE, "event": {"event": "view"}, "persons": {"period": "2026-11-02", "days": 2}},
}  # fmt: skip


@pytest.mark.parametrize("name", list(SNAPSHOT_REQUESTS))
def test_sql_snapshot(name):
    """The SQL a model builds, compared with tests/analysis/snapshots/<name>.sql (UPDATE_SNAPSHOTS=1 rewrites)."""
    queries = build_queries(parse_request(SNAPSHOT_REQUESTS[name]))
    text = "".join(f"-- {key}\n{query.sql}" for key, query in queries.items())
    assert not re.search(r"'(?:view|cart|pay|search|sign_up|ref-app)'", text)  # values only as placeholders
    path = SNAPSHOTS / f"{name}.sql"
    if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text()
