-- Per-minute counts of each pipeline stage, written by jobs/metrics. A row is a delta from one flush: readers
-- sum `events` and `sumMap` the latency histograms (both add up exactly across flushes, instances and replays of
-- the same minute), which is what the two views below do.
--   stage: raw | ods.<layer> | dwd.<layer> | quarantined
--   minute: the collector's received_at minute, so stages of the same events line up for reconciliation
--   latency_ms_hist: received_at -> written to the warehouse, bucket upper bound (ms) -> events (dwd stages)
CREATE TABLE IF NOT EXISTS pipeline_metrics (
    minute           DateTime('UTC'),
    stage            LowCardinality(String),
    app_id           LowCardinality(String),
    event            LowCardinality(String),
    events           UInt64,
    latency_ms_hist  Map(UInt32, UInt64),
    job              LowCardinality(String),
    flushed_at       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toDate(minute)
ORDER BY (stage, app_id, event, minute)
TTL toDate(minute) + INTERVAL 90 DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE VIEW IF NOT EXISTS pipeline_metrics_minute AS
SELECT minute, stage, app_id, event, sum(events) AS events
FROM pipeline_metrics
GROUP BY minute, stage, app_id, event;

CREATE VIEW IF NOT EXISTS pipeline_latency_minute AS
SELECT
    minute,
    stage,
    app_id,
    sum(n) AS events,
    quantileExactWeighted(0.5)(bucket_ms, n) AS latency_p50_ms,
    quantileExactWeighted(0.95)(bucket_ms, n) AS latency_p95_ms,
    quantileExactWeighted(0.99)(bucket_ms, n) AS latency_p99_ms
FROM pipeline_metrics
ARRAY JOIN mapKeys(latency_ms_hist) AS bucket_ms, mapValues(latency_ms_hist) AS n
GROUP BY minute, stage, app_id;
