"""The funnel's response: per breakdown value, each step's persons, conversion and gaps, times to convert, their
histogram and the daily trend; and the persons page."""

from __future__ import annotations

import datetime as dt

from pipelines.analysis.funnel.queries import histogram_bin_ms
from pipelines.analysis.funnel.request import FunnelQuery
from pipelines.analysis.persons import persons_view
from pipelines.analysis.shaping import Rows, clean, histogram_view, ratio, table
from pipelines.analysis.timerange import TimeRange


def _seconds(values) -> list:
    return [None if v is None else round(v / 1000, 3) for v in clean(list(values))]


def _group(request: FunnelQuery, record: dict) -> dict:
    n = len(request.steps)
    done = [int(c) for c in record["persons_by_steps_done"]]
    counts = [sum(done[i:]) for i in range(n)]  # a person who did k steps counts at steps 1..k
    gaps_avg, gaps_q = list(record["gap_avg_ms"]), list(record["gap_quantiles_ms"])
    steps = []
    for i, step in enumerate(request.steps):
        entry = {"step": i + 1, "event": step.event, "persons": counts[i], "conversion_from_start": ratio(counts[i], counts[0])}
        if i:
            has_gap = i - 1 < len(gaps_q)
            entry["conversion_from_previous"] = ratio(counts[i], counts[i - 1])
            entry["dropped"] = counts[i - 1] - counts[i]
            entry["avg_seconds_from_previous"] = _seconds([gaps_avg[i - 1]])[0] if has_gap else None
            median, p90 = _seconds(gaps_q[i - 1]) if has_gap else (None, None)
            entry["median_seconds_from_previous"], entry["p90_seconds_from_previous"] = median, p90
        steps.append(entry)
    median, p90 = _seconds(record["total_quantiles_ms"])
    bin_s = histogram_bin_ms(request) / 1000
    first_day = TimeRange.of(request).days()[0]
    return {
        "breakdown_value": record["breakdown"] if request.breakdown else None,
        "steps": steps,
        "conversion_rate": ratio(counts[-1], counts[0]),
        "median_seconds_to_convert": median,
        "p90_seconds_to_convert": p90,
        "time_to_convert_histogram": histogram_view([i * bin_s for i in range(request.histogram_bins)], record["histogram"]),
        "trend": [
            {"day": clean(first_day + dt.timedelta(days=i)), "entered": int(entered), "converted": int(converted),
             "conversion_rate": ratio(converted, entered)}
            for i, (entered, converted) in enumerate(zip(record["entered_by_day"], record["converted_by_day"]))
            if entered
        ],  # fmt: skip
    }


def shape(request: FunnelQuery, results: dict[str, Rows]) -> dict:
    groups = [_group(request, record) for record in results["summary"].dicts()]
    rows = [
        [g["breakdown_value"], s["step"], s["event"], s["persons"], s["conversion_from_start"]] for g in groups for s in g["steps"]
    ]
    response = {"groups": groups, **table(["breakdown", "step", "event", "persons", "conversion_from_start"], rows)}
    if "persons" in results:
        page = request.persons
        response["persons"] = persons_view(results["persons"], step=page.step, status=page.status, offset=page.offset)
    return response
