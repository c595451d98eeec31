-- Query heat (issue 7): the graded rollup per table, column and event; the Dagster tiering and layering jobs
-- read `heat_tiers FINAL`. Thresholds are documented in docs/heat.md and recorded per row (hot_threshold,
-- warm_threshold) so a reader knows what a tier meant when it was graded.
CREATE TABLE IF NOT EXISTS heat_tiers (
    object_kind     LowCardinality(String),
    object          String,
    table_name      String,
    query_count     UInt64,
    distinct_users  UInt64,
    last_used       Nullable(DateTime64(3, 'UTC')),
    score           Float64,                        -- recency-weighted query count (half-life decay)
    tier            LowCardinality(String),         -- hot | warm | cold
    hot_threshold   Float64,
    warm_threshold  Float64,
    half_life_days  Float64,
    graded_at       DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(graded_at)
ORDER BY (object_kind, object);
