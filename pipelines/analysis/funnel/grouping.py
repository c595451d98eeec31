"""From the step events to the groups the walks read: one row per person (per held value, or segmented by it)
with its events as sorted arrays, and the bypass that keeps persons who cannot reach step 2 out of the walk."""

from __future__ import annotations

from pipelines.analysis.funnel.request import FunnelQuery
from pipelines.analysis.funnel.walks import (
    EXCLUSION_BIT,
    HELD_BITS,
    POSITION_MASK,
    SEGMENT_BIT,
    TIME_BITS,
    can_start,
    is_segmented,
    walks_by_chains,
)
from pipelines.analysis.persons import TOUCHPOINT


def groups_cte(request: FunnelQuery, with_key: bool, touchpoint: bool = False) -> str:
    """One row per person (and hold-constant value, unless `is_segmented`) with its step events in (time, mask
    [, breakdown]) order as arrays t, m[, value]; with a breakdown, one row per breakdown value its attempts can
    start with; `touchpoint`: with its persons.TOUCHPOINT (the walk carries it along, queries.per_person_tables).
    Sorting one integer key (time, mask) is much cheaper than sorting tuples, and 64 bits cheaper than 128;
    segmented, the held value's hash leads the key and m carries SEGMENT_BIT where it changes."""
    mask_bits = EXCLUSION_BIT + len(request.exclusions) if request.exclusions else len(request.steps)
    segmented = is_segmented(request)
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
    # only a fold that holds a property groups by it (a constant second key would cost ~10%)
    group_by = "person_key, hold" if request.hold_constant and not segmented else "person_key"
    too_many = ""
    if walks_by_chains(request):  # positions must fit their bits in a chain key
        limit = POSITION_MASK
        too_many = f"\n{'    ' if request.breakdown else ''}    HAVING throwIf(count() > {limit}, 'a person has more than {limit:,} step events in the range: filter them') = 0"
    any_touchpoint = f", {TOUCHPOINT} AS touchpoint" if touchpoint else ""
    if not request.breakdown:
        name, extra = ("person_events", _BYPASS_COLUMNS) if bypasses(request) else ("per_group", "")
        groups = f"""{name} AS (
    SELECT person_key, arraySort(groupArray({key})) AS sorted, {unpack.format('sorted')}, '' AS breakdown{extra}{any_touchpoint}
    FROM step_events
    WHERE mask != 0
    GROUP BY {group_by}{too_many}
)"""
        return groups + (",\n" + bypass_groups_cte(with_key) if bypasses(request) else "")
    return f"""per_group AS (
    SELECT person_key, t, m, value, breakdown{", touchpoint" if touchpoint else ""}
    FROM (
        SELECT person_key, arraySort(groupArray(({key}, breakdown))) AS sorted, {unpack.format('sorted.1')}, sorted.2 AS value{any_touchpoint}
        FROM step_events
        WHERE mask != 0
        GROUP BY {group_by}{too_many}
    )
    ARRAY JOIN arrayDistinct(arrayFilter((v, mask) -> {can_start(request, 'mask')}, value, m)) AS breakdown
)"""


def bypasses(request: FunnelQuery) -> bool:
    """A segmented walk (no breakdown) walks only the persons who may reach step 2; the others (most, in a hold
    funnel: a product seen once) are one row between them, carrying each one's latest start: the per-row cost of
    the walk's array functions, not its events, is what they would have added."""
    return is_segmented(request) and not request.breakdown


# A person may reach step 2 only with an event that can be step 2 and is not the first of its held value. Times are
# ms since the range start (>= 0): -1 is no first-step event.
_BYPASS_COLUMNS = f""",
           arrayExists(x -> bitAnd(x, {(1 << SEGMENT_BIT) | 2}) = 2, m) AS walked,
           max(if(bitTest(mask, 0), ms, -1)) AS latest_start, latest_start >= 0 AS started"""


def bypass_groups_cte(with_key: bool) -> str:
    """`per_group` from `person_events`: the walked persons as they are, the others in one row of person_key 0
    (a hash that is 0 is as likely as a collision) whose `bypassed` lists their latest starts (for the persons
    page, `with_key`, as (person_key, latest start): the summary does not need to know whose they are)."""
    bypassed = "(person_key, latest_start)" if with_key else "latest_start"
    return f"""per_group AS (
    SELECT group_key AS person_key, t, m, breakdown, bypassed
    FROM (
        SELECT if(walked, person_key, 0) AS group_key, if(group_key = 0, [], any(t)) AS t, if(group_key = 0, [], any(m)) AS m,
               '' AS breakdown, groupArrayIf({bypassed}, started AND NOT walked) AS bypassed
        FROM person_events
        GROUP BY group_key
    )
)"""


def bypass_per_person_sql(with_key: bool) -> str:
    """`per_person` from the walks of `bypasses`: a bypassed person's best is one step at their latest start."""
    def one_step(start: str) -> str:
        return f"(toInt64(1), toInt64(0), {start}, CAST([], 'Array(Int64)'))"

    if not with_key:
        return f"""SELECT breakdown, best
    FROM walks
    ARRAY JOIN if(walks.person_key = 0, arrayMap(start -> {one_step('start')}, bypassed), [walks.best]) AS best
    WHERE best.1 > 0"""
    return f"""SELECT each.1 AS person_key, breakdown, each.2 AS best
    FROM walks
    ARRAY JOIN if(walks.person_key = 0, arrayMap(b -> (b.1, {one_step('b.2')}), bypassed), [(walks.person_key, walks.best)]) AS each
    WHERE best.1 > 0"""
