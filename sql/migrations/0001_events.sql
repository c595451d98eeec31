-- Detail layer: one table per layer (dwd_<layer>) with the `events` Merge table over all of them.
-- Partition by day; ORDER BY serves per-person time scans within an app and event; ReplacingMergeTree keyed
-- on the sort key collapses re-delivered copies of an event_id (same app/event/day/person => same key).
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
    inserted_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toDate(ts)
ORDER BY (app_id, event, toDate(ts), person_hash, event_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS events AS dwd_default
ENGINE = Merge(currentDatabase(), '^dwd_');
