-- CDP (issue 20): tags and audiences keyed by OneID, and the history of the syncs that bring them in. Persons are
-- OneIDs plus `oneid_hash` = cityHash64(oneid), which equals an event's PERSON_KEY (pipelines/analysis/schema.py),
-- so analyses filter with `PERSON_KEY IN (SELECT oneid_hash FROM ...)`. Writers: pipelines/cdp (store.py).

-- Tag history, append only. A person's value of a tag as of time t is the newest row with updated <= t (ties broken
-- by the writing run), absent when that row has deleted = 1. `run` is the sync run that wrote the row (0: written
-- by hand): a full sync marks the tags of its source that its snapshot no longer has as deleted.
CREATE TABLE IF NOT EXISTS cdp_tags (
    oneid       String,
    oneid_hash  UInt64 DEFAULT cityHash64(oneid),
    tag         LowCardinality(String),
    value       String,
    updated     DateTime64(3, 'UTC'),
    source      LowCardinality(String),
    deleted     UInt8 DEFAULT 0,
    run         UInt64 DEFAULT 0
)
ENGINE = MergeTree
ORDER BY (tag, oneid_hash, updated);

-- The latest non-deleted value of every person's tags.
CREATE VIEW IF NOT EXISTS cdp_tags_current AS
SELECT oneid, oneid_hash, tag, latest_value AS value, latest AS updated
FROM (
    SELECT oneid, oneid_hash, tag, argMax(value, (updated, run)) AS latest_value, argMax(deleted, (updated, run)) AS gone,
           max(updated) AS latest
    FROM cdp_tags
    GROUP BY tag, oneid_hash, oneid
)
WHERE gone = 0;

-- Audience members, one row per person per version. A version is visible only once its row in
-- cdp_audience_versions is written (after all its members), so a failed write leaves the previous version current.
CREATE TABLE IF NOT EXISTS cdp_audiences (
    audience    LowCardinality(String),
    version     UInt64,
    oneid       String,
    oneid_hash  UInt64 DEFAULT cityHash64(oneid)
)
ENGINE = MergeTree
ORDER BY (audience, version, oneid_hash);

-- One row per complete version; the current version of an audience is its max(version) here.
-- kind: synced (cdp.yaml source) | rule | saved (a result's persons) | chain (a combined analysis step).
CREATE TABLE IF NOT EXISTS cdp_audience_versions (
    audience    LowCardinality(String),
    version     UInt64,
    size        UInt64,
    kind        LowCardinality(String),
    source      String,
    created     DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (audience, version);

-- Every sync run of a cdp.yaml source (pipelines/cdp/sync.py): what it read, mapped, wrote and why it failed.
-- The watermark of an incremental source is the newest `watermark` of its ok runs; freshness checks and the
-- `cdp_sync_failed` alert read this table.
CREATE TABLE IF NOT EXISTS cdp_sync_runs (
    run               UInt64,
    source            LowCardinality(String),
    mode              LowCardinality(String),
    status            LowCardinality(String),
    started           DateTime64(3, 'UTC'),
    finished          DateTime64(3, 'UTC'),
    rows_read         UInt64,
    persons_mapped    UInt64,
    unmapped          UInt64,
    unmapped_by_type  Map(String, UInt64),
    tags_written      UInt64,
    tags_deleted      UInt64,
    audience_versions Map(String, UInt64),
    watermark         String,
    error             String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(started)
ORDER BY (source, started)
TTL toDate(started) + INTERVAL 400 DAY;

-- A sync run's rows as its source gave them, before they are mapped to OneIDs inside the warehouse (never as a
-- client-side id list). One partition per run, dropped when the run ends; the TTL clears what a killed run left.
CREATE TABLE IF NOT EXISTS cdp_sync_staging (
    run       UInt64,
    id_type   LowCardinality(String),
    id_value  String,
    tag       LowCardinality(String),
    value     String,
    updated   DateTime64(3, 'UTC'),
    deleted   UInt8,
    audience  LowCardinality(String),
    staged    DateTime DEFAULT now()
)
ENGINE = MergeTree
PARTITION BY run
ORDER BY (id_type, id_value)
TTL staged + INTERVAL 2 DAY;
