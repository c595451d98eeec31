-- Append-only log of identity decisions with the rule that made each (new | join | merge | refuse | split | block).
CREATE TABLE IF NOT EXISTS oneid_merge_log (
    ts          DateTime64(3, 'UTC'),
    action      LowCardinality(String),
    rule        LowCardinality(String),
    oneid       String,
    other       String,
    strong      String,
    weak        String,
    source      LowCardinality(String),
    rules       LowCardinality(String),
    logged_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (oneid, ts);

-- Manual unmerges (`trackflow oneid split`): a link that must not count, or an id value that must never be one.
CREATE TABLE IF NOT EXISTS oneid_blocks (
    kind        LowCardinality(String),
    strong      String,
    weak        String,
    reason      String,
    created_by  String,
    created_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (kind, strong, weak);

-- Each daily reconciliation: every id whose real-time OneID differed from the offline one, with a reason code.
CREATE TABLE IF NOT EXISTS oneid_reconcile (
    day            Date,
    run_at         DateTime64(3, 'UTC'),
    node           String,
    reason         LowCardinality(String),
    realtime_oneid String,
    offline_oneid  String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, reason, node);
