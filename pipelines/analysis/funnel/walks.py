"""The two walks that find each person's best attempt, as SQL over the grouped step events (`grouping.py`): the
chains (ordered and strict funnels without exclusions or a minimum gap) and the fold (every other option); and the
integer layouts of event keys and attempts they share."""

from __future__ import annotations

from pipelines.analysis.expr import all_of, any_of
from pipelines.analysis.funnel.request import MAX_STEPS, MAX_WINDOW_DAYS, FunnelQuery
from pipelines.analysis.sqlparams import SqlParams

EXCLUSION_BIT = 32  # exclusion j is bit 32 + j of an event's mask; steps use bits 0..29
TIME_BITS = 39  # ms since the range start (a range spans at most MAX_RANGE_DAYS)
WINDOW_BITS = 35  # ms of the longest conversion window
assert MAX_WINDOW_DAYS * 86_400_000 < 1 << WINDOW_BITS
SEGMENT_BIT = 30  # in a segmented walk (`is_segmented`), marks the first event of each held value
HELD_BITS = 128 - TIME_BITS - MAX_STEPS  # the held value's hash above (time, step mask) in a segmented sort key
POSITION_BITS = 22  # an event's position in its group, under its time in a chain key
POSITION_MASK = (1 << POSITION_BITS) - 1
assert MAX_STEPS < 1 << (64 - WINDOW_BITS - POSITION_BITS)  # a walk's score: steps done above (time left, position)


def _step_bits(request: FunnelQuery) -> int:
    return (1 << len(request.steps)) - 1


def walks_by_chains(request: FunnelQuery) -> bool:
    """Ordered and strict funnels without exclusions or a minimum gap: an attempt waiting for step k + 1 takes the
    next event that can be it (or, strict, stops), so attempts at the same step only differ by start and the latest
    start dominates. One pass per step over a group's events carries that latest chain: O(steps x events)."""
    return request.order != "any" and not request.exclusions and not request.min_step_gap_seconds


def can_start(request: FunnelQuery, mask: str) -> str:
    if request.order == "any":
        return f"bitAnd({mask}, {_step_bits(request)}) != 0"
    return f"bitTest({mask}, 0)"


def _starts_here(request: FunnelQuery, mask: str, value: str) -> str:
    """An event starts an attempt of the breakdown value being walked (with a breakdown, each value's
    attempts are walked on their own: the attempt's group is its first event's value)."""
    return all_of([can_start(request, mask), f"{value} = breakdown" if request.breakdown else ""])


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


def is_segmented(request: FunnelQuery) -> bool:
    """A chains walk holding a property constant takes one row per person, their events sorted by (held value,
    time), instead of one row per (person, held value): the first event of each held value carries SEGMENT_BIT
    and no attempt crosses it. Fewer, longer rows and no second grouping per person."""
    return bool(request.hold_constant) and walks_by_chains(request)


def chains_walks_sql(request: FunnelQuery, params: SqlParams, keys: str) -> str:
    """CTEs down to `walks`, as described in `walks_by_chains`. `marks_k` holds, at each event, the attempt that
    takes step k there (> 0; `_Chains`), or -1 where the event can be step k + 1 (it ends the wait of the attempts
    that did k steps before it: they take it or, out of window or gap, never advance again) or starts a held
    value, else 0. Ordered: `waiting_k` is, at each event, the latest attempt that has done k steps and still waits
    for step k + 1 (marks_k filled forward, shifted by one event). Strict: only an attempt that took step k at the
    event just before can take step k + 1. The best attempt of the furthest step reached is walked back through
    `waiting_k`.

    Each step reads the previous step's arrays once: the planner inlines these CTEs into one expression, whose
    size would otherwise multiply with every step."""
    n, strict, segmented = len(request.steps), request.order == "strict", is_segmented(request)
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
        within_gap = f"{time_of_e} - {chains.step_time('c')} <= {gap_limit}" if gap_limit else ""
        return all_of([f"bitTest(mask, {k})", "c >= lo", within_gap])

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


def fold_best_sql(request: FunnelQuery, params: SqlParams) -> str:
    """Best attempt of one group in one pass over its events, for every option. The fold carries the chains
    (attempts) still running. Two chains with the same steps done (and, with gap bounds, the same last step
    time) react alike to every later event, except that the later start's window ends later and its times are
    shorter: the earlier chain is dominated and dropped after its current result is kept (without exclusions;
    an exclusion could discard the later chain after the earlier one's window closed). Finished, expired and
    dominated chains hand their result to the best so far; discarded ones do not."""
    n, bits = len(request.steps), _step_bits(request)
    window = params.add("window_ms", request.window_seconds * 1000, "Int64")
    gap_bounds = []
    if request.min_step_gap_seconds:
        gap_bounds.append(f"at - c.3 >= {params.add('min_gap_ms', int(request.min_step_gap_seconds * 1000), 'Int64')}")
    if request.max_step_gap_seconds:
        gap_bounds.append(f"at - c.3 <= {params.add('max_gap_ms', int(request.max_step_gap_seconds * 1000), 'Int64')}")
    if request.order == "any":
        open_steps = f"bitAnd(mask, bitAnd(bitNot(c.1), {bits}))"
        advances, taken = f"{open_steps} != 0", f"bitAnd({open_steps}, -{open_steps})"  # the lowest open step
        first = f"bitAnd(bitAnd(mask, {bits}), -bitAnd(mask, {bits}))"
    else:
        advances, taken, first = "bitTest(mask, bitCount(c.1))", "bitShiftLeft(toInt64(1), bitCount(c.1))", "toInt64(1)"
    branches = [
        all_of([advances, *gap_bounds]),
        f"(bitOr(c.1, {taken}) AS done, c.2, at, arrayPushBack(c.4, at - c.3), if(bitCount(done) = {n}, {FINISHED}, {ACTIVE}))",
    ]
    excluded = [
        f"(bitCount(c.1) >= {ex.from_step} AND bitCount(c.1) < {ex.to_step} AND bitTest(mask, {EXCLUSION_BIT + j}))"
        for j, ex in enumerate(request.exclusions)
    ]
    if excluded:
        branches += [any_of(excluded), f"(c.1, c.2, c.3, c.4, {DISCARDED})"]
    if request.order == "strict":
        branches += [f"bitAnd(mask, {bits}) != 0", f"(c.1, c.2, c.3, c.4, {FINISHED})"]
    step = ",\n                           ".join(branches + ["c"])
    same_state = all_of(["d.1 = c.1", "d.3 = c.3" if gap_bounds else ""])
    dominates = all_of([f"d.5 = {ACTIVE}", same_state, "(d.2, d.4) > (c.2, c.4)"])  # d: alike, started later
    dominated = "" if excluded else f"NOT arrayExists(d -> {dominates}, acc.1)"
    running = all_of([f"c.5 = {ACTIVE}", f"at - c.2 <= {window}", dominated])
    arrays, value = ("t, m, value", ", value") if request.breakdown else ("t, m", "")
    return f"""arrayFold((acc, at, mask{value}) -> (
                   arrayDistinct(arrayConcat(
                       arrayMap(c -> multiIf(
                           {step}),
                           arrayMap(r -> r.1, arrayFilter(r -> r.2, arrayMap(c -> (c, {running}), acc.1) AS marked))),
                       if({_starts_here(request, 'mask', 'value')},
                          [({first}, at, at, CAST([], 'Array(Int64)'), {ACTIVE})], CAST([], 'Array({CHAIN})')))),
                   arrayReduce('max', arrayPushBack(arrayMap(c -> {_result('c')}, arrayFilter(c -> c.5 != {DISCARDED}, arrayMap(r -> r.1, arrayFilter(r -> NOT r.2, marked)))), acc.2))),
               {arrays}, (CAST([], 'Array({CHAIN})'), (toInt64(0), toInt64(0), toInt64(0), CAST([], 'Array(Int64)')))) AS folded,
           arrayReduce('max', arrayPushBack(arrayMap(c -> {_result('c')}, arrayFilter(c -> c.5 != {DISCARDED}, folded.1)), folded.2))"""
