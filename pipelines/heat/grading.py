"""Heat grading: roll `query_heat` up per table, column and event, score by recency, and write tiers.

score = sum over the object's uses of 0.5 ** (age_days / half_life_days): a use today counts 1, a use one
half-life ago counts 0.5. With the default half-life of 7 days, an object used about once a day scores ~10.
Tiers (defaults, documented in docs/heat.md and stored on every row):
    hot   score >= 10   used most days (or many times recently): keep on fast storage, keep in layering rules
    warm  score >= 1    used in the last weeks
    cold  otherwise     including tables in the warehouse that no recorded query used
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone


@dataclass(frozen=True)
class GradingPolicy:
    half_life_days: float = 7.0
    hot_threshold: float = 10.0
    warm_threshold: float = 1.0
    window_days: int = 90  # uses older than this no longer count at all


# Rollup of query_heat into scored objects. `FINAL` collapses re-recorded rows of the same query.
ROLLUP_SQL = """
SELECT object_kind, object, any(table_name) AS table_name, uniqExact(query_id) AS query_count,
       uniqExact(user) AS distinct_users, max(started_at) AS last_used,
       sum(pow(0.5, dateDiff('second', started_at, {now:DateTime64(3, 'UTC')}) / (86400 * {half_life:Float64}))) AS score
FROM query_heat FINAL
WHERE started_at >= {now:DateTime64(3, 'UTC')} - toIntervalDay({window:UInt32})
GROUP BY object_kind, object
"""

# Tables of the warehouse database no recorded query touched: graded cold with zero use.
UNUSED_TABLES_SQL = """
SELECT concat(database, '.', name) FROM system.tables
WHERE database = {database:String} AND NOT is_temporary
  AND name NOT IN ('query_log', 'query_heat', 'heat_tiers', 'schema_migrations')
"""


@dataclass(frozen=True)
class GradedObject:
    object_kind: str
    object: str
    table_name: str
    query_count: int
    distinct_users: int
    last_used: datetime | None
    score: float
    tier: str


def tier_of(score: float, policy: GradingPolicy) -> str:
    if score >= policy.hot_threshold:
        return "hot"
    if score >= policy.warm_threshold:
        return "warm"
    return "cold"


def grade(warehouse, policy: GradingPolicy = GradingPolicy(), now: datetime | None = None) -> list[GradedObject]:
    """Compute the graded objects (not written); ordered hottest first."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)
    rows = warehouse.client().query(
        ROLLUP_SQL, parameters={"now": now, "half_life": policy.half_life_days, "window": policy.window_days}
    ).result_rows
    graded = [
        GradedObject(kind, obj, table, int(count), int(users), last, float(score), tier_of(float(score), policy))
        for kind, obj, table, count, users, last, score in rows
    ]
    used_tables = {g.object for g in graded if g.object_kind == "table"}
    for (table,) in warehouse.client().query(UNUSED_TABLES_SQL, parameters={"database": warehouse.database}).result_rows:
        if table not in used_tables:
            graded.append(GradedObject("table", table, "", 0, 0, None, 0.0, "cold"))
    return sorted(graded, key=lambda g: (-g.score, g.object_kind, g.object))


def write_tiers(writer, graded: list[GradedObject], policy: GradingPolicy = GradingPolicy()) -> int:
    graded_at = datetime.now(timezone.utc)
    rows = [
        [g.object_kind, g.object, g.table_name, g.query_count, g.distinct_users, g.last_used, g.score, g.tier,
         policy.hot_threshold, policy.warm_threshold, policy.half_life_days, graded_at]
        for g in graded
    ]
    if rows:
        writer.insert(
            "heat_tiers",
            rows,
            ("object_kind", "object", "table_name", "query_count", "distinct_users", "last_used", "score", "tier",
             "hot_threshold", "warm_threshold", "half_life_days", "graded_at"),
        )
    return len(rows)


def refresh_tiers(writer, policy: GradingPolicy = GradingPolicy()) -> list[GradedObject]:
    """Grade and store in one call: what a scheduled job (the Dagster tiering asset) runs."""
    graded = grade(writer, policy)
    write_tiers(writer, graded, policy)
    return graded
