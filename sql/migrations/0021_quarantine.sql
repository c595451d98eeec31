-- Events that failed the tracking plan, loaded from the events.quarantine topic (single partition; topic_offset
-- is where the loader resumes). A replay writes a newer row version with status 'replayed': read with FINAL.
CREATE TABLE IF NOT EXISTS quarantine (
    event_id        UUID,
    app_id          LowCardinality(String),
    event           String,
    quarantined_at  DateTime64(3, 'UTC'),
    plan_version    UInt32,
    reasons         String,                  -- JSON array of {field, rule, detail}
    reason_keys     Array(String),           -- 'props.amount:type', for grouping in the health report
    envelope        String,                  -- the enriched envelope as the collector held it
    topic_offset    Int64,
    status          LowCardinality(String),  -- quarantined | replayed
    replayed_at     Nullable(DateTime64(3, 'UTC')),
    updated_at      DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
PARTITION BY toYYYYMM(quarantined_at)
ORDER BY (app_id, event_id, topic_offset)
SETTINGS non_replicated_deduplication_window = 1000;
