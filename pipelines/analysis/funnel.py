"""Funnel analysis.

Semantics (the pandas reference in tests/analysis implements the same rules independently):
- Events of one person (and, with `hold_constant`, one value of that property) are taken in (time, step mask)
  order. Every event that can be a first step starts an *attempt*; the attempt walks forward greedily:
  `ordered`: the next event matching the next step advances it; other events are ignored.
  `strict`: like ordered, but any other funnel-step event in between ends the attempt where it is.
  `any`: an event matching any step not yet done advances it (the lowest such step).
- An attempt only uses events within `window_seconds` of its start (inclusive) and, if given, with
  `min_step_gap_seconds <= gap <= max_step_gap_seconds` from the previous step (others are skipped).
- An exclusion event seen while the attempt has done `from_step` but not `to_step` steps discards the attempt.
- A person's result is their best attempt: most steps, then shortest total time. Persons whose attempts were all
  discarded are not counted. With a breakdown, the attempt's group is the breakdown value of its first event.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipelines.analysis.filters import (
    all_of,
    histogram_sql,
    property_expr,
    quantiles_sql,
    scope_conditions,
    selector_condition,
)
from pipelines.analysis.request import EventSelector, Name, QueryScope, Strict
from pipelines.analysis.schema import PERSON, TABLE
from pipelines.analysis.shaping import Rows, clean, histogram_view, ratio, table
from pipelines.analysis.sqlparams import BuiltQuery, SqlParams
from pipelines.analysis.timerange import tz_placeholder

MAX_STEPS = 30
EXCLUSION_BIT = 32  # exclusion j is bit 32 + j of an event's mask; steps use bits 0..29
GAP_LEVELS = (0.5, 0.9)
FOREVER_MS = 100 * 365 * 86_400_000


class Exclusion(EventSelector):
    """Discard a conversion attempt if this event happens after step `from_step` and before step `to_step`."""

    from_step: int = Field(ge=1, le=MAX_STEPS)
    to_step: int = Field(ge=2, le=MAX_STEPS)


class PersonsPage(Strict):
    """List the persons who converted at / dropped off at a step, paged."""

    step: int = Field(ge=1, le=MAX_STEPS)
    status: Literal["converted", "dropped"] = "converted"
    breakdown_value: str | None = None
    limit: int = Field(100, ge=1, le=10_000)
    offset: int = Field(0, ge=0)


class FunnelQuery(QueryScope):
    model: Literal["funnel"] = "funnel"
    steps: list[EventSelector] = Field(min_length=2, max_length=MAX_STEPS)
    window_seconds: int = Field(86_400, ge=1, le=366 * 86_400)
    order: Literal["ordered", "strict", "any"] = "ordered"
    exclusions: list[Exclusion] = Field(default_factory=list, max_length=10)
    breakdown: Name | None = None
    hold_constant: Name | None = Field(None, description="property that must have the same value at every step")
    min_step_gap_seconds: float | None = Field(None, ge=0)
    max_step_gap_seconds: float | None = Field(None, gt=0)
    histogram_bins: int = Field(10, ge=1, le=100)
    persons: PersonsPage | None = None

    @model_validator(mode="after")
    def _steps_refer_to_funnel(self) -> "FunnelQuery":
        for i, exclusion in enumerate(self.exclusions):
            if not exclusion.from_step < exclusion.to_step <= len(self.steps):
                raise ValueError(f"exclusions[{i}]: need from_step < to_step <= {len(self.steps)} (the step count)")
        if self.persons and self.persons.step > len(self.steps):
            raise ValueError(f"persons.step: the funnel has {len(self.steps)} steps")
        if self.persons and self.persons.status == "dropped" and self.persons.step < 2:
            raise ValueError("persons.step: nobody drops off at step 1; use 2 or more")
        if (self.min_step_gap_seconds or 0) > (self.max_step_gap_seconds or float("inf")):
            raise ValueError("min_step_gap_seconds is above max_step_gap_seconds")
        return self


def _mask_sql(request: FunnelQuery, params: SqlParams) -> str:
    """Which steps (bits 0..) and exclusions (bits 32..) an event matches: one event may be several steps."""
    bits = [
        f"if({selector_condition(step, params, f'step_{i + 1}_event')}, {1 << i}, 0)" for i, step in enumerate(request.steps)
    ]
    bits += [
        f"if({selector_condition(ex, params, f'exclusion_{j + 1}_event')}, {1 << (EXCLUSION_BIT + j)}, 0)"
        for j, ex in enumerate(request.exclusions)
    ]
    return "toInt64(" + " + ".join(bits) + ")"


def _fold_sql(request: FunnelQuery, params: SqlParams) -> str:
    """The attempt walk as an arrayFold over the events from the attempt's start. State:
    (steps done, time of last step, gaps between steps in ms, 0 active | 1 ended | 2 discarded, steps done mask)."""
    n = len(request.steps)
    window = params.add("window_ms", request.window_seconds * 1000, "Int64")
    min_gap = params.add("min_gap_ms", int((request.min_step_gap_seconds or 0) * 1000), "Int64")
    max_gap = params.add("max_gap_ms", int((request.max_step_gap_seconds or 0) * 1000) or FOREVER_MS, "Int64")
    step_bits = (1 << n) - 1
    gap_ok = f"(acc.1 = 0 OR (x.1 - acc.2 >= {min_gap} AND x.1 - acc.2 <= {max_gap}))"
    if request.order == "any":
        open_steps = f"bitAnd(x.2, bitAnd(bitNot(acc.5), {step_bits}))"
        advances = f"{open_steps} != 0 AND {gap_ok}"
        new_mask = f"bitOr(acc.5, bitAnd({open_steps}, -{open_steps}))"  # the lowest open step the event matches
    else:
        advances = f"bitTest(x.2, acc.1) AND {gap_ok}"
        new_mask = "bitOr(acc.5, bitShiftLeft(toInt64(1), acc.1))"
    advance = f"(acc.1 + 1, x.1, if(acc.1 = 0, acc.3, arrayPushBack(acc.3, x.1 - acc.2)), toInt64(0), {new_mask})"
    branches = [f"acc.4 != 0 OR acc.1 = {n} OR x.1 - evs[i].1 > {window}", "acc", advances, advance]
    excluded = [
        f"(acc.1 >= {ex.from_step} AND acc.1 < {ex.to_step} AND bitTest(x.2, {EXCLUSION_BIT + j}))"
        for j, ex in enumerate(request.exclusions)
    ]
    if excluded:
        branches += [" OR ".join(excluded), "(acc.1, acc.2, acc.3, toInt64(2), acc.5)"]
    if request.order == "strict":
        branches += [f"acc.1 >= 1 AND bitAnd(x.2, {step_bits}) != 0", "(acc.1, acc.2, acc.3, toInt64(1), acc.5)"]
    body = ",\n                    ".join(branches + ["acc"])
    return f"""arrayFold((acc, x) -> multiIf(
                    {body}),
                arraySlice(evs, i), (toInt64(0), evs[i].1, CAST([], 'Array(Int64)'), toInt64(0), toInt64(0)))"""


def _start_condition(request: FunnelQuery) -> str:
    """Which events start an attempt. In ordered/strict mode a first-step event immediately followed by another
    first-step event (same breakdown value) that cannot be step 2 is skipped: the later start sees the same
    events from then on with a later window end, shorter gaps and an earlier-or-equal break, so it does at least
    as well (most steps, then shortest time). Not with a minimum gap, where the earlier start's longer gap could
    pass a step the later one must skip. This keeps long runs of repeated first steps from costing quadratic time."""
    if request.order == "any":
        return f"bitAnd(evs[i].2, {(1 << len(request.steps)) - 1}) != 0"
    if request.min_step_gap_seconds:
        return "bitTest(evs[i].2, 0)"
    return (
        "bitTest(evs[i].2, 0) AND NOT (i < length(evs) AND bitTest(evs[i + 1].2, 0) "
        "AND NOT bitTest(evs[i + 1].2, 1) AND evs[i + 1].3 = evs[i].3)"
    )


def _per_person_cte(request: FunnelQuery, params: SqlParams) -> str:
    """CTEs down to `per_person`: one row per (person, breakdown value) with the best attempt
    best = (steps done, -total ms, start ms, [gap ms between consecutive steps])."""
    events = [step.event for step in request.steps] + [ex.event for ex in request.exclusions]
    where = all_of(scope_conditions(request, params, events))
    hold = property_expr(request.hold_constant, params) if request.hold_constant else "''"
    breakdown = property_expr(request.breakdown, params) if request.breakdown else "''"
    starts = _start_condition(request)
    return f"""
WITH
step_events AS (
    SELECT {PERSON} AS person, {hold} AS hold, {breakdown} AS breakdown,
           toUnixTimestamp64Milli(ts) AS t, {_mask_sql(request, params)} AS mask
    FROM {TABLE}
    WHERE {where}
),
per_group AS (
    SELECT person, arraySort(groupArray((t, mask, breakdown))) AS evs
    FROM step_events
    WHERE mask != 0
    GROUP BY person, hold
),
attempts AS (
    SELECT person, attempt.1 AS breakdown, attempt.2 AS start_ms, attempt.3 AS run
    FROM per_group
    ARRAY JOIN arrayMap(i -> (evs[i].3, evs[i].1, {_fold_sql(request, params)}),
                        arrayFilter(i -> {starts}, arrayEnumerate(evs))) AS attempt
),
per_person AS (
    SELECT person, breakdown, max((if(run.4 = 2, 0, run.1), -arraySum(run.3), start_ms, run.3)) AS best
    FROM attempts
    GROUP BY person, breakdown
    HAVING best.1 > 0
)"""


def _summary_query(request: FunnelQuery) -> BuiltQuery:
    params = SqlParams()
    n = len(request.steps)
    cte = _per_person_cte(request, params)
    tz = tz_placeholder(params, request.timezone)
    bin_ms = -(-request.window_seconds * 1000 // request.histogram_bins)
    edges = params.add("histogram_edges_ms", [i * bin_ms for i in range(request.histogram_bins)], "Array(Int64)")
    total = "-best.2"
    day = f"toDate(fromUnixTimestamp64Milli(best.3), {tz})"
    return params.query(
        f"""{cte}
SELECT
    breakdown,
    sumForEach(arrayMap(k -> toUInt64(best.1 >= k), range(1, {n + 1}))) AS step_persons,
    avgForEach(best.4) AS gap_avg_ms,
    {quantiles_sql('best.4', GAP_LEVELS, 'ForEach')} AS gap_quantiles_ms,
    {quantiles_sql(f'{total}, best.1 = {n}', GAP_LEVELS, 'If')} AS total_quantiles_ms,
    {histogram_sql(total, edges, only_if=f'best.1 = {n}')} AS histogram,
    sumMap([{day}], [toUInt64(1)]) AS entered_by_day,
    sumMap([{day}], [toUInt64(best.1 = {n})]) AS converted_by_day
FROM per_person
GROUP BY breakdown
ORDER BY step_persons[1] DESC, breakdown"""
    )


def _persons_query(request: FunnelQuery) -> BuiltQuery:
    page = request.persons
    params = SqlParams()
    cte = _per_person_cte(request, params)
    step = params.add("step", page.step, "Int64")
    reached = f"steps_done >= {step}" if page.status == "converted" else f"steps_done = {step} - 1"
    where = f"WHERE breakdown = {params.add('breakdown_value', page.breakdown_value, 'String')}" if page.breakdown_value is not None else ""
    limit, offset = params.add("limit", page.limit, "UInt64"), params.add("offset", page.offset, "UInt64")
    return params.query(
        f"""{cte}
SELECT person, max(best.1) AS steps_done
FROM per_person
{where}
GROUP BY person
HAVING {reached}
ORDER BY person
LIMIT {limit} OFFSET {offset}"""
    )


def build(request: FunnelQuery) -> dict[str, BuiltQuery]:
    queries = {"summary": _summary_query(request)}
    if request.persons:
        queries["persons"] = _persons_query(request)
    return queries


def _seconds(values) -> list:
    return [None if v is None else round(v / 1000, 3) for v in clean(list(values))]


def _group(request: FunnelQuery, record: dict) -> dict:
    n = len(request.steps)
    counts = [int(c) for c in record["step_persons"]] + [0] * (n - len(record["step_persons"]))
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
    bin_s = -(-request.window_seconds // request.histogram_bins)
    entered = dict(zip(*record["entered_by_day"]))
    converted = dict(zip(*record["converted_by_day"]))
    return {
        "breakdown_value": record["breakdown"] if request.breakdown else None,
        "steps": steps,
        "conversion_rate": ratio(counts[-1], counts[0]),
        "median_seconds_to_convert": median,
        "p90_seconds_to_convert": p90,
        "time_to_convert_histogram": histogram_view([i * bin_s for i in range(request.histogram_bins)], record["histogram"]),
        "trend": [
            {"day": clean(day), "entered": int(entered[day]), "converted": int(converted.get(day, 0)),
             "conversion_rate": ratio(converted.get(day, 0), entered[day])}
            for day in sorted(entered)
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
        response["persons"] = {
            "step": page.step,
            "status": page.status,
            "offset": page.offset,
            "persons": [row[0] for row in results["persons"].rows],
        }
    return response
