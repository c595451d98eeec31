"""The funnel's queries: the summary (persons by steps done, gaps, times to convert, histogram, trend per
breakdown value) and the persons page, both over `per_person` (each person's best attempt)."""

from __future__ import annotations

from pipelines.analysis.expr import all_of
from pipelines.analysis.filters import breakdown_expr, property_expr, quantiles_sql, scope_conditions, selector_condition, uniform_histogram_sql
from pipelines.analysis.funnel.grouping import bypass_per_person_sql, bypasses, groups_cte
from pipelines.analysis.funnel.request import FunnelQuery
from pipelines.analysis.funnel.walks import EXCLUSION_BIT, chains_walks_sql, fold_best_sql, is_segmented, walks_by_chains
from pipelines.analysis.persons import latest_persons_sql, page_clause
from pipelines.analysis.schema import PERSON_KEY, TABLE
from pipelines.analysis.sqlparams import BuiltQuery, SqlParams
from pipelines.analysis.timerange import TimeRange, tz_placeholder

GAP_LEVELS = (0.5, 0.9)


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


def _range_start(request: FunnelQuery, params: SqlParams) -> str:
    """Event times in the walk are milliseconds since the range start: small enough to share a sort key with the
    step mask and a chain key with the event's position."""
    if "range_start_ms" not in params.values:
        params.add("range_start_ms", TimeRange.of(request).start_ms, "Int64")
    return "{range_start_ms:Int64}"


def _per_person_cte(request: FunnelQuery, params: SqlParams, with_key: bool = False, touchpoint: bool = False, over: str | None = None) -> str:
    """CTEs down to `per_person`: one row per (person, breakdown value) with the best attempt
    best = (steps done, -total ms, start ms since the range start, [gap ms between consecutive steps]).
    Persons are grouped by a 64-bit hash of their id (cheaper than the string): `with_key` keeps it on every row,
    also of the persons who bypass the walk (the persons page; ids are looked up for its page only). `touchpoint`
    keeps each person's persons.TOUCHPOINT per row too (the rows a chain materialises, `per_person_tables`); `over`
    reads the rows from that table instead."""
    if over is not None:
        return f"\nWITH\nper_person AS (\n    SELECT * FROM {over}\n)"
    events = [step.event for step in request.steps] + [ex.event for ex in request.exclusions]
    where = all_of(scope_conditions(request, params, events))
    hold = property_expr(request.hold_constant, params) if request.hold_constant else "''"
    breakdown = breakdown_expr(request.breakdown, params) if request.breakdown else "''"
    keys = "person_key, touchpoint" if touchpoint else "person_key"
    if walks_by_chains(request):
        walks = chains_walks_sql(request, params, keys + (", bypassed" if bypasses(request) else ""))
    else:
        walks = f"walks AS (\n    SELECT {keys}, breakdown,\n           {fold_best_sql(request, params)} AS best\n    FROM per_group\n)"
    if bypasses(request):
        per_person = bypass_per_person_sql(with_key)
    elif request.hold_constant and not is_segmented(request):
        # A fold that holds a property constant walks one group per (person, held value): the person's best group
        # is the first of their groups' results sorted descending (the order of max(), compared column by column
        # instead of as generic values). Every other walked group is one person and breakdown value.
        per_person = (
            f"SELECT person_key, breakdown, arrayReverseSort(groupArray(best))[1] AS best{', any(touchpoint) AS touchpoint' if touchpoint else ''}\n"
            "    FROM walks\n    GROUP BY person_key, breakdown\n    HAVING best.1 > 0"
        )
    else:
        per_person = f"SELECT {keys}, breakdown, best\n    FROM walks\n    WHERE best.1 > 0"
    return f"""
WITH
step_events AS (
    SELECT {PERSON_KEY} AS person_key, {hold} AS hold, {breakdown} AS breakdown,{" person_hash," if touchpoint else ""}
           toUnixTimestamp64Milli(ts) - {_range_start(request, params)} AS ms, {_mask_sql(request, params)} AS mask
    FROM {TABLE}
    WHERE {where}
),
{groups_cte(request, with_key, touchpoint)},
{walks},
per_person AS (
    {per_person}
)"""


# Every branch a funnel's if()s choose from is an array or scalar the walk computes for each row anyway; lazy
# (short-circuit) evaluation only adds filtering and gathering around them (~10% of a funnel's time).
EAGER = "SETTINGS short_circuit_function_evaluation = 'disable'"


def histogram_bin_ms(request: FunnelQuery) -> int:
    return -(-request.window_seconds * 1000 // request.histogram_bins)


def _summary_query(request: FunnelQuery, over: str | None) -> BuiltQuery:
    params = SqlParams()
    n = len(request.steps)
    cte = _per_person_cte(request, params, over=over)
    tz = tz_placeholder(params, request.timezone)
    bin_ms = params.add("histogram_bin_ms", histogram_bin_ms(request), "Int64")
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


def persons_query(request: FunnelQuery, over: str | None = None) -> BuiltQuery:
    """The page of persons `request.persons` asks for: those who reached its step, or dropped off just before it
    (over the per-person rows in table `over`, `per_person_tables`, when given)."""
    page = request.persons
    params = SqlParams()
    cte = _per_person_cte(request, params, with_key=True, over=over)
    step = params.add("step", page.step, "Int64")
    reached = f"max(best.1) >= {step}" if page.status == "converted" else f"max(best.1) = {step} - 1"
    where = f"WHERE breakdown = {params.add('breakdown_value', page.breakdown_value, 'String')}" if page.breakdown_value is not None else ""
    # Paged by person key (no id string is looked up per event); the shared persons piece reads the page's ids and
    # their latest properties.
    keys = f"""{cte}
SELECT person_key
FROM per_person
{where}
GROUP BY person_key
HAVING {reached}
{page_clause(page, params, "person_key")}
{EAGER}"""
    events = [step.event for step in request.steps] + [ex.event for ex in request.exclusions]
    return params.query(latest_persons_sql(request, params, events, keys, over=over))


def build(request: FunnelQuery, over: str | None = None) -> dict[str, BuiltQuery]:
    return {"summary": _summary_query(request, over)}


def per_person_tables(request: FunnelQuery, table: str) -> list[tuple[str, BuiltQuery]] | None:
    """Each person's best attempts with their key and `touchpoint` (persons.TOUCHPOINT), as table `table` (what
    `build` and `persons_query` read `over` it); none for a walk that bypasses persons (their rows carry no key of
    their own in the walk)."""
    if bypasses(request):
        return None
    params = SqlParams()
    cte = _per_person_cte(request, params, with_key=True, touchpoint=True)
    return [(table, params.query(f"{cte}\nSELECT person_key, breakdown, best, touchpoint\nFROM per_person\n{EAGER}"))]
