"""Property-based: funnel order modes and the conversion window against the pandas reference."""

from __future__ import annotations

import uuid

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.analysis import run_query
from pipelines.envelope import DETAIL_COLUMNS, detail_row

from . import reference as ref
from .conftest import T0, envelope

MINUTE = 60_000
person_events = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from([0, 0, 1, 2, 5, 30])), min_size=1, max_size=8
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    persons=st.lists(person_events, min_size=1, max_size=5),
    order=st.sampled_from(["ordered", "strict", "any"]),
    window_minutes=st.integers(1, 40),
    steps=st.lists(st.sampled_from(["a", "b", "c"]), min_size=2, max_size=4),
)
def test_funnel_matches_reference(analyst, warehouse, persons, order, window_minutes, steps):
    app = f"hyp-{uuid.uuid4().hex[:8]}"
    events = []
    for p, sequence in enumerate(persons):
        t = T0
        for name, minutes in sequence:
            t += minutes * MINUTE
            events.append(envelope(f"h{p}", name, t, app=app))
    warehouse.insert("dwd_default", [detail_row(e) for e in events], DETAIL_COLUMNS, settings={"async_insert": 0})
    request = {
        "model": "funnel", "app_id": app, "date_from": "2026-11-01", "date_to": "2026-11-02",
        "steps": [{"event": s} for s in steps], "order": order, "window_seconds": window_minutes * 60,
    }  # fmt: skip
    got = run_query(request, analyst)
    frame = pd.DataFrame({"person": ["device_id:" + e["ids"]["device_id"] for e in events], "event": [e["event"] for e in events], "t": [e["ts"] for e in events], "event_id": [e["event_id"] for e in events]})
    expected = ref.funnel(frame, request, T0, T0 + 2 * 86_400_000).get("", {})
    levels = [best[0] for best in expected.values()]
    counts = [sum(level >= k for level in levels) for k in range(1, len(steps) + 1)]
    actual = [s["persons"] for s in got["groups"][0]["steps"]] if got["groups"] else [0] * len(steps)
    assert actual == counts
