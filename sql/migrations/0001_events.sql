-- Detail layer: one table per layer (dwd_<layer>) with the `events` Merge table over all of them.
-- Partition by day; ORDER BY serves per-person time scans within an app and event (funnels, retention and
-- intervals read one app, a few events and a date range, then group by person). ReplacingMergeTree keyed on the
-- sort key collapses re-delivered copies of an event_id (same app/event/day/person => same key); insert
-- deduplication tokens (non_replicated_deduplication_window) make a retried batch a no-op before any merge.
-- Storage: the `tiered` policy (hot volume, then cold) is configured for the embedded warehouse by
-- pipelines/warehouse/storage.py; on a cluster define the same policy name in the server config (docs/analysis.md).
CREATE TABLE IF NOT EXISTS dwd_default (
    event_id      UUID,
    event         LowCardinality(String),
    app_id        LowCardinality(String),
    ts            DateTime64(3, 'UTC'),
    received_at   DateTime64(3, 'UTC'),
    person_id     String,
    person_hash   UInt64 MATERIALIZED cityHash64(person_id),
    oneid         String DEFAULT '',
    ids           Map(LowCardinality(String), String),
    session_id    String,
    platform      LowCardinality(String),
    url           String,
    referrer      String,
    title         String,
    os            LowCardinality(String),
    browser       LowCardinality(String),
    device_type   LowCardinality(String),
    app_version   LowCardinality(String),
    lib           LowCardinality(String),
    lib_version   LowCardinality(String),
    screen        String,
    viewport      String,
    ip            String,
    collector_id  LowCardinality(String),
    layer         LowCardinality(String) DEFAULT 'default',
    props         Map(String, String),
    -- The hottest properties, materialized so filters and hold-constant funnels read one narrow column instead
    -- of the whole props map (pipelines/analysis/schema.py maps property names onto them).
    p_product_id  String MATERIALIZED props['product_id'],
    p_category    LowCardinality(String) MATERIALIZED props['category'],
    inserted_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toDate(ts)
ORDER BY (app_id, event, toDate(ts), person_hash, event_id)
TTL toDate(ts) + INTERVAL 30 DAY TO VOLUME 'cold'
SETTINGS non_replicated_deduplication_window = 1000, storage_policy = 'tiered';

CREATE TABLE IF NOT EXISTS events AS dwd_default
ENGINE = Merge(currentDatabase(), '^dwd_');
