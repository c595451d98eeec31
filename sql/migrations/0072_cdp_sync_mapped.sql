-- A CDP sync run's tag rows mapped to OneIDs (per person and tag, the newest row of the person's ids), computed once
-- per run from cdp_sync_staging and read by each write step (changed values, deletions) instead of joining the
-- staged rows to the identity mapping again for each. One partition per run, dropped when the run ends; the TTL
-- clears what a killed run left.
CREATE TABLE IF NOT EXISTS cdp_sync_mapped (
    run      UInt64,
    oneid    String,
    tag      LowCardinality(String),
    value    String,
    updated  DateTime64(3, 'UTC'),
    deleted  UInt8,
    staged   DateTime DEFAULT now()
)
ENGINE = MergeTree
PARTITION BY run
ORDER BY (tag, oneid)
TTL staged + INTERVAL 2 DAY;
