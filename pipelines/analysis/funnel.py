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
- A person's result is their best attempt: most steps, then shortest total time, then latest start (then the
  larger gaps, compared in order). Persons whose attempts were all discarded are not counted. With a breakdown,
  the attempt's group is the breakdown value of its first event.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from pipelines.analysis.filters import (
    all_of,
    property_expr,
    quantiles_sql,
    scope_conditions,
    selector_condition,
    uniform_histogram_sql,
)
from pipelines.analysis.request import EventSelector, Name, QueryScope, Strict, Text
from pipelines.analysis.schema import PERSON, PERSON_KEY, TABLE
from pipelines.analysis.shaping import Rows, clean, histogram_view, ratio, table
from pipelines.analysis.sqlparams import BuiltQuery, SqlParams
from pipelines.analysis.timerange import TimeRange, tz_placeholder

MAX_STEPS = 30
MAX_WINDOW_DAYS = 366
MAX_OFFSET = 1_000_000_000  # persons paged past: beyond any real funnel, and no number the UInt64 parameter cannot hold
EXCLUSION_BIT = 32  # exclusion j is bit 32 + j of an event's mask; steps use bits 0..29
GAP_LEVELS = (0.5, 0.9)
TIME_BITS = 39  # ms since the range start (a range spans at most MAX_RANGE_DAYS)
WINDOW_BITS = 35  # ms of the longest conversion window
assert MAX_WINDOW_DAYS * 86_400_000 < 1 << WINDOW_BITS
SEGMENT_BIT = 30  # in a segmented walk (`_segmented`), marks the first event of each held value
HELD_BITS = 128 - TIME_BITS - MAX_STEPS  # the held value's hash above (time, step mask) in a segmented sort key
POSITION_BITS = 22  # an event's position in its group, under its time in a chain key
POSITION_MASK = (1 << POSITION_BITS) - 1
assert MAX_STEPS < 1 << (64 - WINDOW_BITS - POSITION_BITS)  # a walk's score: steps done above (time left, position)


class Exclusion(EventSelector):
    """Discard a conversion attempt if this event happens after step `from_step` and before step `to_step`."""

    from_step: int = Field(ge=1, le=MAX_STEPS)
    to_step: int = Field(ge=2, le=MAX_STEPS)


class PersonsPage(Strict):
    """List the persons who converted at / dropped off at a step, paged."""

    step: int = Field(ge=1, le=MAX_STEPS)
    status: Literal["converted", "dropped"] = "converted"
    breakdown_value: Text | None = None
    limit: int = Field(100, ge=1, le=10_000)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class FunnelQuery(QueryScope):
    model: Literal["funnel"] = "funnel"
    steps: list[EventSelector] = Field(min_length=2, max_length=MAX_STEPS)
    window_seconds: int = Field(86_400, ge=1, le=MAX_WINDOW_DAYS * 86_400)
    order: Literal["ordered", "strict", "any"] = "ordered"
    exclusions: list[Exclusion] = Field(default_factory=list, max_length=10)
    breakdown: Name | None = None
    hold_constant: Name | None = Field(None, description="property that must have the same value at every step")
    min_step_gap_seconds: float | None = Field(None, ge=0, le=MAX_WINDOW_DAYS * 86_400)
    max_step_gap_seconds: float | None = Field(None, gt=0, le=MAX_WINDOW_DAYS * 86_400)
    histogram_bins: int = Field(10, ge=1, le=100)
    persons: PersonsPage | None = None

    @model_validator(mode="after")
    def _steps_refer_to_funnel(self) -> "FunnelQuery":
        for i, exclusion in enumerate(self.exclusions):
            if not exclusion.from_step < exclusion.to_step <= len(self.steps):
                raise ValueError(f"exclusions.{i}: need from_step < to_step <= {len(self.steps)} (the step count)")
        if self.persons and self.persons.step > len(self.steps):
            raise ValueError(f"persons.step: the funnel has {len(self.steps)} steps")
        if self.persons and self.persons.status == "dropped" and self.persons.step < 2:
            raise ValueError("persons.step: nobody drops off at step 1; use 2 or more")
        if (self.min_step_gap_seconds or 0) > (self.max_step_gap_seconds or float("inf")):
            raise ValueError("min_step_gap_seconds: above max_step_gap_seconds")
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


def _step_bits(request: FunnelQuery) -> int:
    return (1 << len(request.steps)) - 1


def _walks_by_chains(request: FunnelQuery) -> bool:
    """Ordered and strict funnels without exclusions or a minimum gap: an attempt waiting for step k + 1 takes the
    next event that can be it (or, strict, stops), so attempts at the same step only differ by start and the latest
    start dominates. One pass per step over a group's events carries that latest chain: O(steps x events)."""
    return request.order != "any" and not request.exclusions and not request.min_step_gap_seconds


def _can_start(request: FunnelQuery, mask: str) -> str:
    if request.order == "any":
        return f"bitAnd({mask}, {_step_bits(request)}) != 0"
    return f"bitTest({mask}, 0)"


def _starts_here(request: FunnelQuery, mask: str, value: str) -> str:
    """An event starts an attempt of the breakdown value being walked (with a breakdown, each value's
    attempts are walked on their own: the attempt's group is its first event's value)."""
    return _can_start(request, mask) + (f" AND {value} = breakdown" if request.breakdown else "")


def _position(key: str) -> str:
    """The event position in the low bits of an event key, a chain (its latest step) or a score (its end)."""
    return f"toUInt32(bitAnd({key}, {POSITION_MASK}))"


def _shifted(array: str) -> str:
    """The array's value at the previous event (0 before the first)."""
    return f"arrayShiftRight({array}, 1)"


class _Chains:
    """How an attempt is held in one integer. Without a maximum gap: start time << 22 | position of its latest step
    (Int64). With one, the latest step's time is needed too: (start time << 22 | start position) << 64 | (latest
    step time << 22 | its position) (Int128). Times are milliseconds since the range start (TIME_BITS)."""

    def __init__(self, with_step_time: bool):
        self.wide = with_step_time

    def first(self, e: str) -> str:
        """The attempt that starts at event key `e` (time << 22 | position)."""
        return f"bitShiftLeft(toInt128({e}), 64) + {e}" if self.wide else e

    def advanced(self, c: str, e: str) -> str:
        """Attempt `c` after taking a step at event key `e`."""
        if self.wide:
            return f"bitShiftLeft(bitShiftRight({c}, 64), 64) + {e}"
        return f"bitAnd({c}, {-(1 << POSITION_BITS)}) + bitAnd({e}, {POSITION_MASK})"

    def earliest(self, ms: str, window: str) -> str:
        """The smallest attempt that can still take a step at time `ms`: one that started at most `window` ms
        before (attempts compare by start time first). At least 1: no mark that is not an attempt."""
        if self.wide:
            return f"greatest(bitShiftLeft(toInt128({ms} - {window}), {64 + POSITION_BITS}), 1)"
        return f"greatest(bitShiftLeft({ms} - {window}, {POSITION_BITS}), 1)"

    def never(self) -> str:
        """Above every attempt."""
        return f"toInt128('{(1 << 127) - 1}')" if self.wide else str((1 << 63) - 1)

    def start_time(self, c: str) -> str:
        return f"toInt64(bitShiftRight({c}, {64 + POSITION_BITS if self.wide else POSITION_BITS}))"

    def step_time(self, c: str) -> str:
        return f"toInt64(bitShiftRight(bitAnd({c}, {(1 << 64) - 1}), {POSITION_BITS}))"


def _segmented(request: FunnelQuery) -> bool:
    """A chains walk holding a property constant takes one row per person, their events sorted by (held value,
    time), instead of one row per (person, held value): the first event of each held value carries SEGMENT_BIT
    and no attempt crosses it. Fewer, longer rows and no second grouping per person."""
    return bool(request.hold_constant) and _walks_by_chains(request)


def _chains_walks_sql(request: FunnelQuery, params: SqlParams, keys: str) -> str:
    """CTEs down to `walks`, as described in `_walks_by_chains`. `marks_k` holds, at each event, the attempt that
    takes step k there (> 0; `_Chains`), or -1 where the event can be step k + 1 (it ends the wait of the attempts
    that did k steps before it: they take it or, out of window or gap, never advance again) or starts a held
    value, else 0. Ordered: `waiting_k` is, at each event, the latest attempt that has done k steps and still waits
    for step k + 1 (marks_k filled forward, shifted by one event). Strict: only an attempt that took step k at the
    event just before can take step k + 1. The best attempt of the furthest step reached is walked back through
    `waiting_k`.

    Each step reads the previous step's arrays once: the planner inlines these CTEs into one expression, whose
    size would otherwise multiply with every step."""
    n, strict, segmented = len(request.steps), request.order == "strict", _segmented(request)
    chains = _Chains(with_step_time=bool(request.max_step_gap_seconds))
    window = params.add("window_ms", request.window_seconds * 1000, "Int64")
    gap_limit = params.add("max_gap_ms", int(request.max_step_gap_seconds * 1000), "Int64") if request.max_step_gap_seconds else None
    time_of_e = f"bitShiftRight(e, {POSITION_BITS})"

    def duration(c: str) -> str:
        """Of attempt `c` at event key e."""
        return f"{time_of_e} - {chains.start_time(c)}"

    # Each event's lowest attempt it can advance (`lo`: in window; none across a held value's start), computed
    # once instead of at every step.
    earliest = chains.earliest("ms", window)
    if segmented:
        earliest = f"if(bitTest(mask, {SEGMENT_BIT}), {chains.never()}, {earliest})"

    def takes_step(k: int) -> str:
        """Event e (key) with step mask `mask` is step k + 1 of attempt c, which has done k steps."""
        condition = f"bitTest(mask, {k}) AND c >= lo"
        return condition + (f" AND {time_of_e} - {chains.step_time('c')} <= {gap_limit}" if gap_limit else "")

    def otherwise(k: int) -> str:
        """marks_k where no attempt takes step k (nothing reads marks_n's wait)."""
        ends_wait = ((1 << k) | (1 << SEGMENT_BIT if segmented else 0)) if k < n else 0
        return f"if(bitAnd(mask, {ends_wait}) != 0, -1, 0)" if ends_wait else "0"

    value, values = (", v", ", value") if request.breakdown else ("", "")
    carried = [keys, "breakdown", "t", "m", "event_key", "earliest"]
    first = [
        f"{keys}, breakdown, t, m",
        f"arrayMap((ms, i) -> bitShiftLeft(ms, {POSITION_BITS}) + i, t, arrayEnumerate(t)) AS event_key",
        f"arrayMap((ms, mask) -> {earliest}, t, m) AS earliest",
        f"arrayMap((mask, e{value}) -> if({_starts_here(request, 'mask', 'v')}, {chains.first('e')}, {otherwise(1)}), m, event_key{values}) AS marks_1",
    ]
    ctes = [("step_1_chains", first, "per_group")]
    for k in range(1, n):
        kept = carried + [f"waiting_{j}" for j in range(1, k)] + [f"marks_{j}" for j in range(1, k + 1)]
        filled = f"marks_{k}" if strict else f"arrayFill(c -> c != 0, marks_{k})"
        ctes.append((f"step_{k + 1}_chains", [
            ", ".join(kept),
            f"{_shifted(filled)} AS waiting_{k}",
            f"arrayMap((mask, e, c, lo) -> if({takes_step(k)}, {chains.advanced('c', 'e')}, {otherwise(k + 1)}), m, event_key, waiting_{k}, earliest) AS marks_{k + 1}",
        ], f"step_{k}_chains"))  # fmt: skip

    walk = [f"{keys}, breakdown"]
    walked_from = f"step_{n}_chains"
    if not segmented:
        # (steps done, time left of the longest window, end position) in one UInt64, scored at each event for the
        # furthest step taken there, in one pass: the maximum is the furthest step, then the shortest time, then
        # the latest end, which for equal times is the latest start. Walked back one step per alias, in a CTE of
        # its own: each alias repeats the expressions it names, so with the score inline the walk-back's size
        # grew with the cube of the steps ("Query tree is too big" from 20 steps).
        marks = [f"c{k}" for k in range(1, n + 1)]
        level = "multiIf(" + ", ".join(f"c{k} > 0, {k}" for k in range(n, 0, -1)) + ", 0)"
        furthest = "multiIf(" + ", ".join(f"c{k} > 0, c{k}" for k in range(n, 1, -1)) + ", c1)"
        score = (
            f"bitShiftLeft(toUInt64({level}), {WINDOW_BITS + POSITION_BITS}) + "
            f"bitShiftLeft(toUInt64({(1 << WINDOW_BITS) - 1} - ({duration(furthest)})), {POSITION_BITS}) + bitAnd(e, {POSITION_MASK})"
        )
        ctes.append(("scored", [
            ", ".join([keys, "breakdown", "t"] + [f"waiting_{k}" for k in range(1, n)]),
            f"arrayMax(arrayMap(({', '.join(marks)}, e) -> if({level} > 0, {score}, 0), "
            f"{', '.join(f'marks_{k}' for k in range(1, n + 1))}, event_key)) AS top",
            f"toInt64(bitShiftRight(top, {WINDOW_BITS + POSITION_BITS})) AS steps",
            f"{_position('top')} AS end_at",
        ], walked_from))  # fmt: skip
        walked_from = "scored"
        walk += ["steps", f"if(steps = {n}, end_at, 0) AS step_{n}_at"]
        for k in range(n - 1, 0, -1):
            walk.append(f"if(steps > {k}, {_position(f'waiting_{k}[step_{k + 1}_at]')}, if(steps = {k}, end_at, 0)) AS step_{k}_at")
        gaps = ", ".join(f"t[step_{k + 1}_at] - t[step_{k}_at]" for k in range(1, n))
        walk.append(f"(steps, t[step_1_at] - t[end_at], t[step_1_at], arraySlice([{gaps}], 1, steps - 1)) AS best")
    else:
        walk.append(" + ".join(f"toInt64(arrayMax(marks_{k}) > 0)" for k in range(1, n + 1)) + " AS steps")
        # Positions are in time order within a held value only: (time left, start time, end position) in a
        # UInt128. The shortest attempts of the furthest step that start last may then be several, in different
        # held values, and the larger gaps win: the later step times compared in order. So the attempts tied on the
        # top score are walked back side by side (`walk_k`: (positions of steps k..n, steps, end position); a
        # step's position is where the attempt waited for the next, or the end at step `steps`, 0 past it) and
        # the latest step times win. Only rows (persons) that did 2 steps or more are scored (most hold values
        # never go on): a 1-step best is the latest start, the largest of marks_1.
        score = (
            f"bitShiftLeft(toUInt128({(1 << WINDOW_BITS) - 1} - ({duration('c')})), {TIME_BITS + POSITION_BITS})"
            f" + bitShiftLeft(toUInt128({chains.start_time('c')}), {POSITION_BITS}) + bitAnd(e, {POSITION_MASK})"
        )
        furthest = f"[[], {', '.join(f'marks_{k}' for k in range(2, n + 1))}][steps]"
        walk += [
            f"{furthest} AS furthest",
            f"arrayMap((c, e) -> if(c > 0, {score}, 0), furthest, arraySlice(event_key, 1, length(furthest))) AS scores",
            "arrayMax(scores) AS top",
            f"arrayMap(s -> {_position('s')}, arrayFilter(s -> s > 0 "
            f"AND bitShiftRight(s, {POSITION_BITS}) = bitShiftRight(top, {POSITION_BITS}), scores)) AS ends",
            f"arrayMap(p -> ([p * (steps = {n})], steps, p), ends) AS walk_{n}",
        ]
        for k in range(n - 1, 0, -1):
            back = f"{_position(f'waiting_{k}[x.1[1]]')} + x.3 * (x.2 = {k})"
            walk.append(f"arrayMap(x -> (arrayPushFront(x.1, {back}), x.2, x.3), walk_{k + 1}) AS walk_{k}")
        walk += [
            "arrayReverseSort(arrayMap(x -> arrayMap(q -> t[q], x.1), walk_1))[1] AS step_times",
            f"if(steps >= 2, step_times[1], {chains.start_time('arrayMax(marks_1)')}) AS start",
            "(steps, step_times[1] - step_times[steps], start, arraySlice(arrayDifference(step_times), 2, steps - 1)) AS best",
        ]
    ctes.append(("walks", walk, walked_from))
    return ",\n".join(
        f"{name} AS (\n    SELECT " + ",\n           ".join(lines) + f"\n    FROM {source}\n)" for name, lines, source in ctes
    )


CHAIN = "Tuple(Int64, Int64, Int64, Array(Int64), Int64)"  # (steps done mask, start ms, last step ms, gaps ms, status)
ACTIVE, FINISHED, DISCARDED = 0, 1, 2


def _result(chain: str) -> str:
    """What a chain hands to the best so far: (steps, -total ms, start ms, gaps ms), compared as a tuple."""
    return f"(toInt64(bitCount({chain}.1)), {chain}.2 - {chain}.3, {chain}.2, {chain}.4)"


def _fold_best_sql(request: FunnelQuery, params: SqlParams) -> str:
    """Best attempt of one group in one pass over its events, for every option. The fold carries the chains
    (attempts) still running. Two chains with the same steps done (and, with gap bounds, the same last step
    time) react alike to every later event, except that the later start's window ends later and its times are
    shorter: the earlier chain is dominated and dropped after its current result is kept (without exclusions;
    an exclusion could discard the later chain after the earlier one's window closed). Finished, expired and
    dominated chains hand their result to the best so far; discarded ones do not."""
    n, bits = len(request.steps), _step_bits(request)
    window = params.add("window_ms", request.window_seconds * 1000, "Int64")
    gap_ok = ""
    if request.min_step_gap_seconds:
        gap_ok += f" AND at - c.3 >= {params.add('min_gap_ms', int(request.min_step_gap_seconds * 1000), 'Int64')}"
    if request.max_step_gap_seconds:
        gap_ok += f" AND at - c.3 <= {params.add('max_gap_ms', int(request.max_step_gap_seconds * 1000), 'Int64')}"
    if request.order == "any":
        open_steps = f"bitAnd(mask, bitAnd(bitNot(c.1), {bits}))"
        advances, taken = f"{open_steps} != 0", f"bitAnd({open_steps}, -{open_steps})"  # the lowest open step
        first = f"bitAnd(bitAnd(mask, {bits}), -bitAnd(mask, {bits}))"
    else:
        advances, taken, first = "bitTest(mask, bitCount(c.1))", "bitShiftLeft(toInt64(1), bitCount(c.1))", "toInt64(1)"
    branches = [
        f"{advances}{gap_ok}",
        f"(bitOr(c.1, {taken}) AS done, c.2, at, arrayPushBack(c.4, at - c.3), if(bitCount(done) = {n}, {FINISHED}, {ACTIVE}))",
    ]
    excluded = [
        f"(bitCount(c.1) >= {ex.from_step} AND bitCount(c.1) < {ex.to_step} AND bitTest(mask, {EXCLUSION_BIT + j}))"
        for j, ex in enumerate(request.exclusions)
    ]
    if excluded:
        branches += [" OR ".join(excluded), f"(c.1, c.2, c.3, c.4, {DISCARDED})"]
    if request.order == "strict":
        branches += [f"bitAnd(mask, {bits}) != 0", f"(c.1, c.2, c.3, c.4, {FINISHED})"]
    step = ",\n                           ".join(branches + ["c"])
    same_state = "d.1 = c.1" + (" AND d.3 = c.3" if gap_ok else "")
    dominated = "" if excluded else f" AND NOT arrayExists(d -> d.5 = {ACTIVE} AND {same_state} AND (d.2, d.4) > (c.2, c.4), acc.1)"
    arrays, value = ("t, m, value", ", value") if request.breakdown else ("t, m", "")
    return f"""arrayFold((acc, at, mask{value}) -> (
                   arrayDistinct(arrayConcat(
                       arrayMap(c -> multiIf(
                           {step}),
                           arrayMap(r -> r.1, arrayFilter(r -> r.2, arrayMap(c -> (c, c.5 = {ACTIVE} AND at - c.2 <= {window}{dominated}), acc.1) AS marked))),
                       if({_starts_here(request, 'mask', 'value')},
                          [({first}, at, at, CAST([], 'Array(Int64)'), {ACTIVE})], CAST([], 'Array({CHAIN})')))),
                   arrayReduce('max', arrayPushBack(arrayMap(c -> {_result('c')}, arrayFilter(c -> c.5 != {DISCARDED}, arrayMap(r -> r.1, arrayFilter(r -> NOT r.2, marked)))), acc.2))),
               {arrays}, (CAST([], 'Array({CHAIN})'), (toInt64(0), toInt64(0), toInt64(0), CAST([], 'Array(Int64)')))) AS folded,
           arrayReduce('max', arrayPushBack(arrayMap(c -> {_result('c')}, arrayFilter(c -> c.5 != {DISCARDED}, folded.1)), folded.2))"""


def _range_start(request: FunnelQuery, params: SqlParams) -> str:
    """Event times in the walk are milliseconds since the range start: small enough to share a sort key with the
    step mask and a chain key with the event's position."""
    if "range_start_ms" not in params.values:
        params.add("range_start_ms", TimeRange.of(request).start_ms, "Int64")
    return "{range_start_ms:Int64}"


def _groups_cte(request: FunnelQuery, with_person: bool) -> str:
    """One row per person (and hold-constant value, unless `_segmented`) with its step events in (time, mask
    [, breakdown]) order as arrays t, m[, value]; with a breakdown, one row per breakdown value its attempts can
    start with. Sorting one integer key (time, mask) is much cheaper than sorting tuples, and 64 bits cheaper
    than 128; segmented, the held value's hash leads the key and m carries SEGMENT_BIT where it changes."""
    mask_bits = EXCLUSION_BIT + len(request.exclusions) if request.exclusions else len(request.steps)
    segmented = _segmented(request)
    wide = "toUInt128" if segmented or TIME_BITS + mask_bits > 64 else "toUInt64"
    key = f"bitShiftLeft({wide}(ms), {mask_bits}) + mask"
    time_of = f"bitShiftRight(x, {mask_bits})"
    mask_of = f"toInt64(bitAnd(x, {(1 << mask_bits) - 1}))"
    if segmented:
        held_hash = f"bitShiftRight(cityHash64(hold), {64 - HELD_BITS})"
        key = f"bitShiftLeft(toUInt128({held_hash}), {TIME_BITS + mask_bits}) + {key}"
        time_of = f"bitAnd({time_of}, {(1 << TIME_BITS) - 1})"
        mask_of = f"{mask_of} + if(a != b, {1 << SEGMENT_BIT}, 0)"
    unpack = f"arrayMap(x -> toInt64({time_of}), {{0}}) AS t, "
    if segmented:
        unpack += (
            f"arrayMap(x -> toUInt64(bitShiftRight(x, {TIME_BITS + mask_bits})), {{0}}) AS held, "
            f"arrayMap((x, a, b) -> {mask_of}, {{0}}, held, arrayShiftRight(held, 1)) AS m"
        )
    else:
        unpack += f"arrayMap(x -> {mask_of}, {{0}}) AS m"
    person = " any(person) AS person," if with_person else ""
    # only a fold that holds a property groups by it (a constant second key would cost ~10%)
    group_by = "person_key, hold" if request.hold_constant and not segmented else "person_key"
    too_many = ""
    if _walks_by_chains(request):  # positions must fit their bits in a chain key
        limit = POSITION_MASK
        too_many = f"\n{'    ' if request.breakdown else ''}    HAVING throwIf(count() > {limit}, 'a person has more than {limit:,} step events in the range: filter them') = 0"
    if not request.breakdown:
        name, extra = ("person_events", _BYPASS_COLUMNS) if _bypasses(request) else ("per_group", "")
        groups = f"""{name} AS (
    SELECT person_key,{person} arraySort(groupArray({key})) AS sorted, {unpack.format('sorted')}, '' AS breakdown{extra}
    FROM step_events
    WHERE mask != 0
    GROUP BY {group_by}{too_many}
)"""
        return groups + (",\n" + _bypass_groups_cte(with_person) if _bypasses(request) else "")
    return f"""per_group AS (
    SELECT person_key,{' person,' if with_person else ''} t, m, value, breakdown
    FROM (
        SELECT person_key,{person} arraySort(groupArray(({key}, breakdown))) AS sorted, {unpack.format('sorted.1')}, sorted.2 AS value
        FROM step_events
        WHERE mask != 0
        GROUP BY {group_by}{too_many}
    )
    ARRAY JOIN arrayDistinct(arrayFilter((v, mask) -> {_can_start(request, 'mask')}, value, m)) AS breakdown
)"""


def _bypasses(request: FunnelQuery) -> bool:
    """A segmented walk (no breakdown) walks only the persons who may reach step 2; the others (most, in a hold
    funnel: a product seen once) are one row between them, carrying each one's latest start: the per-row cost of
    the walk's array functions, not its events, is what they would have added."""
    return _segmented(request) and not request.breakdown


# A person may reach step 2 only with an event that can be step 2 and is not the first of its held value. Times are
# ms since the range start (>= 0): -1 is no first-step event.
_BYPASS_COLUMNS = f""",
           arrayExists(x -> bitAnd(x, {(1 << SEGMENT_BIT) | 2}) = 2, m) AS walked,
           max(if(bitTest(mask, 0), ms, -1)) AS latest_start, latest_start >= 0 AS started"""


def _bypass_groups_cte(with_person: bool) -> str:
    """`per_group` from `person_events`: the walked persons as they are, the others in one row of person_key 0
    (a hash that is 0 is as likely as a collision) whose `bypassed` lists their latest starts (with the persons
    query, as (person_key, person, latest start))."""
    person, bypassed = (" any(person) AS group_person,", "(person_key, person, latest_start)") if with_person else ("", "latest_start")
    return f"""per_group AS (
    SELECT group_key AS person_key,{' group_person AS person,' if with_person else ''} t, m, breakdown, bypassed
    FROM (
        SELECT if(walked, person_key, 0) AS group_key,{person} if(group_key = 0, [], any(t)) AS t, if(group_key = 0, [], any(m)) AS m,
               '' AS breakdown, groupArrayIf({bypassed}, started AND NOT walked) AS bypassed
        FROM person_events
        GROUP BY group_key
    )
)"""


def _bypass_per_person_sql(with_person: bool) -> str:
    """`per_person` from the walks of `_bypasses`: a bypassed person's best is one step at their latest start."""
    def one_step(start: str) -> str:
        return f"(toInt64(1), toInt64(0), {start}, CAST([], 'Array(Int64)'))"

    if not with_person:
        return f"""SELECT breakdown, best
    FROM walks
    ARRAY JOIN if(walks.person_key = 0, arrayMap(start -> {one_step('start')}, bypassed), [walks.best]) AS best
    WHERE best.1 > 0"""
    return f"""SELECT each.1 AS person_key, each.2 AS person, breakdown, each.3 AS best
    FROM walks
    ARRAY JOIN if(walks.person_key = 0, arrayMap(b -> (b.1, b.2, {one_step('b.3')}), bypassed),
                  [(walks.person_key, walks.person, walks.best)]) AS each
    WHERE best.1 > 0"""


def _per_person_cte(request: FunnelQuery, params: SqlParams, with_person: bool = False) -> str:
    """CTEs down to `per_person`: one row per (person, breakdown value) with the best attempt
    best = (steps done, -total ms, start ms since the range start, [gap ms between consecutive steps]).
    Persons are grouped by a 64-bit hash of their id (cheaper than the string); `with_person` carries the id."""
    events = [step.event for step in request.steps] + [ex.event for ex in request.exclusions]
    where = all_of(scope_conditions(request, params, events))
    hold = property_expr(request.hold_constant, params) if request.hold_constant else "''"
    breakdown = property_expr(request.breakdown, params) if request.breakdown else "''"
    keys = "person_key, person" if with_person else "person_key"
    if _walks_by_chains(request):
        walks = _chains_walks_sql(request, params, keys + (", bypassed" if _bypasses(request) else ""))
    else:
        walks = f"walks AS (\n    SELECT {keys}, breakdown,\n           {_fold_best_sql(request, params)} AS best\n    FROM per_group\n)"
    if _bypasses(request):
        per_person = _bypass_per_person_sql(with_person)
    elif request.hold_constant and not _segmented(request):
        # A fold that holds a property constant walks one group per (person, held value): the person's best group
        # is the first of their groups' results sorted descending (the order of max(), compared column by column
        # instead of as generic values). Every other walked group is one person and breakdown value.
        per_person = (
            f"SELECT person_key,{' any(person) AS person,' if with_person else ''} breakdown, arrayReverseSort(groupArray(best))[1] AS best\n"
            "    FROM walks\n    GROUP BY person_key, breakdown\n    HAVING best.1 > 0"
        )
    else:
        per_person = f"SELECT {keys}, breakdown, best\n    FROM walks\n    WHERE best.1 > 0"
    return f"""
WITH
step_events AS (
    SELECT {PERSON_KEY} AS person_key,{f" {PERSON} AS person," if with_person else ""} {hold} AS hold, {breakdown} AS breakdown,
           toUnixTimestamp64Milli(ts) - {_range_start(request, params)} AS ms, {_mask_sql(request, params)} AS mask
    FROM {TABLE}
    WHERE {where}
),
{_groups_cte(request, with_person)},
{walks},
per_person AS (
    {per_person}
)"""


# Every branch a funnel's if()s choose from is an array or scalar the walk computes for each row anyway; lazy
# (short-circuit) evaluation only adds filtering and gathering around them (~10% of a funnel's time).
EAGER = "SETTINGS short_circuit_function_evaluation = 'disable'"


def _histogram_bin_ms(request: FunnelQuery) -> int:
    return -(-request.window_seconds * 1000 // request.histogram_bins)


def _summary_query(request: FunnelQuery) -> BuiltQuery:
    params = SqlParams()
    n = len(request.steps)
    cte = _per_person_cte(request, params)
    tz = tz_placeholder(params, request.timezone)
    bin_ms = params.add("histogram_bin_ms", _histogram_bin_ms(request), "Int64")
    total = "-best.2"
    first_day, days = TimeRange.of(request).days()  # the trend's days
    day = (
        f"toRelativeDayNum(toDate(fromUnixTimestamp64Milli(best.3 + {_range_start(request, params)}), {tz}))"
        f" - toRelativeDayNum({params.add('first_day', first_day, 'Date')})"
    )
    return params.query(
        f"""{cte}
SELECT
    breakdown,
    countResample(1, {n + 1}, 1)(best.1) AS persons_by_steps_done,
    avgForEach(best.4) AS gap_avg_ms,
    {quantiles_sql('best.4', GAP_LEVELS, 'ForEach')} AS gap_quantiles_ms,
    {quantiles_sql(f'{total}, best.1 = {n}', GAP_LEVELS, 'If')} AS total_quantiles_ms,
    {uniform_histogram_sql(total, bin_ms, request.histogram_bins, only_if=f'best.1 = {n}')} AS histogram,
    countResample(0, {days}, 1)({day}) AS entered_by_day,
    sumResample(0, {days}, 1)(toUInt64(best.1 = {n}), {day}) AS converted_by_day
FROM per_person
GROUP BY breakdown
ORDER BY count() DESC, breakdown
{EAGER}"""
    )


def _persons_query(request: FunnelQuery) -> BuiltQuery:
    page = request.persons
    params = SqlParams()
    cte = _per_person_cte(request, params, with_person=True)
    step = params.add("step", page.step, "Int64")
    reached = f"steps_done >= {step}" if page.status == "converted" else f"steps_done = {step} - 1"
    where = f"WHERE breakdown = {params.add('breakdown_value', page.breakdown_value, 'String')}" if page.breakdown_value is not None else ""
    limit, offset = params.add("limit", page.limit, "UInt64"), params.add("offset", page.offset, "UInt64")
    return params.query(
        f"""{cte}
SELECT any(person) AS person, max(best.1) AS steps_done
FROM per_person
{where}
GROUP BY person_key
HAVING {reached}
ORDER BY person
LIMIT {limit} OFFSET {offset}
{EAGER}"""
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
    bin_s = _histogram_bin_ms(request) / 1000
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
        response["persons"] = {
            "step": page.step,
            "status": page.status,
            "offset": page.offset,
            "persons": [row[0] for row in results["persons"].rows],
        }
    return response
