-- Query heat (issue 7): one row per query seen, from the warehouse client's listener or imported from a
-- ClickHouse `system.query_log`. ReplacingMergeTree on query_id: importing the same log twice, or a query seen
-- by both paths, collapses to one row (read with FINAL or GROUP BY query_id when exact counts matter).
CREATE TABLE IF NOT EXISTS query_log (
    query_id        String,
    source          LowCardinality(String),         -- 'platform' (warehouse client) | 'system.query_log'
    started_at      DateTime64(3, 'UTC'),
    user            LowCardinality(String),
    query           String,
    query_hash      UInt64,                         -- cityHash64 of the normalized text: groups repeated queries
    parameters      String,                         -- JSON of the {name:Type} parameter values
    duration_ms     Float64,
    read_rows       UInt64,
    result_rows     UInt64,
    error           String,                         -- the query's own error, if it failed
    parse_error     String,                         -- 'line L:C message' if heat could not parse it
    statement       LowCardinality(String),
    tables          Array(String),
    columns         Array(String),
    events          Array(String),
    unresolved      Array(String),
    recorded_at     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(recorded_at)
PARTITION BY toYYYYMM(started_at)
ORDER BY query_id
TTL toDateTime(started_at) + INTERVAL 400 DAY;
