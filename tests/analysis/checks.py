"""Comparing a model's response with the pandas reference's per-person results (shared by the fixed-data and
the property-based tests)."""

from __future__ import annotations

import pandas as pd
import pytest

from . import reference as ref


def approx(value, expected):
    if expected is None or pd.isna(expected):  # no value to aggregate: the API answers null
        return value is None
    return value == pytest.approx(expected, rel=1e-9, abs=1e-9)


def assert_funnel(got: dict, expected: dict, request: dict) -> None:
    """`expected` is ref.funnel's {breakdown value: {person: (steps, -total ms, start ms, gaps ms)}}: every
    figure of the response (step counts, gaps per step, times to convert, histogram, trend) must follow."""
    n = len(request["steps"])
    groups = {g["breakdown_value"] or "": g for g in got["groups"]}
    assert set(groups) == {b for b, persons in expected.items() if persons}
    for value, persons in expected.items():
        if not persons:
            continue
        group, bests = groups[value], list(persons.values())
        assert [s["persons"] for s in group["steps"]] == [sum(best[0] >= k for best in bests) for k in range(1, n + 1)]
        for k in range(1, n):
            gaps = [best[3][k - 1] / 1000 for best in bests if best[0] > k]
            step = group["steps"][k]
            assert step["avg_seconds_from_previous"] == (pytest.approx(sum(gaps) / len(gaps), abs=1e-3) if gaps else None), (k, step)
            median = ref.quantiles(gaps, (0.5,))[0] if gaps else None
            assert approx(step["median_seconds_from_previous"], median), (k, step)
        totals = [-best[1] / 1000 for best in bests if best[0] == n]
        assert approx(group["median_seconds_to_convert"], ref.quantiles(totals, (0.5,))[0] if totals else None)
        assert approx(group["p90_seconds_to_convert"], ref.quantiles(totals, (0.9,))[0] if totals else None)
        bins = request.get("histogram_bins", 10)
        bin_s = -(-request.get("window_seconds", 86_400) // bins)
        assert [h["count"] for h in group["time_to_convert_histogram"]] == ref.histogram(totals, [i * bin_s for i in range(bins)])
        days = pd.to_datetime(pd.Series([best[2] for best in bests]), unit="ms", utc=True)
        local_days = days.dt.tz_convert(request.get("timezone", "UTC")).dt.date.map(lambda d: d.isoformat())
        converted = pd.Series([best[0] == n for best in bests])
        trend = {t["day"]: (t["entered"], t["converted"]) for t in group["trend"]}
        assert trend == {d: (int(part.size), int(converted[part.index].sum())) for d, part in local_days.groupby(local_days)}
