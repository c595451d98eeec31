-- Cluster variant of sql/migrations/0070_cdp.sql (same columns and keys; the view is migration 0070's). What differs:
-- the CDP tables are small next to the events (one row per person and tag or audience version), and the analyses
-- filter the Distributed detail tables with `PERSON_KEY IN (SELECT oneid_hash FROM cdp_audiences ...)`, a subquery
-- each shard runs on its own node. So every node holds every row: each table is a ReplicatedMergeTree whose Keeper
-- path is the same on all shards (`/all/`), with a replica name unique across the cluster ('{shard}-{replica}').
-- Writes go to any node and reach the others by replication. The two tables of an audience replicate independently,
-- so pipelines/cdp/store.py's order (members, then the version row) holds on every node only if an INSERT returns
-- once every replica has it: give the writer's profile `insert_quorum` = the number of nodes (and
-- `insert_quorum_parallel = 0`), or a node may briefly show a version before all its members.
-- cdp_sync_runs and cdp_sync_staging are the sync's own bookkeeping, read and written through its one connection:
-- migration 0070 creates them as on the embedded warehouse.
-- Apply with `clickhouse-client --multiquery --queries-file sql/cluster/0070_cdp.sql`; `trackflow warehouse
-- migrate` then finds the tables present (IF NOT EXISTS) and creates migration 0070's view over them.
CREATE TABLE IF NOT EXISTS cdp_tags ON CLUSTER '{cluster}' (
    oneid       String,
    oneid_hash  UInt64 DEFAULT cityHash64(oneid),
    tag         LowCardinality(String),
    value       String,
    updated     DateTime64(3, 'UTC'),
    source      LowCardinality(String),
    deleted     UInt8 DEFAULT 0,
    run         UInt64 DEFAULT 0
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/cdp_tags', '{shard}-{replica}')
ORDER BY (tag, oneid_hash, updated);

CREATE TABLE IF NOT EXISTS cdp_audiences ON CLUSTER '{cluster}' (
    audience    LowCardinality(String),
    version     UInt64,
    oneid       String,
    oneid_hash  UInt64 DEFAULT cityHash64(oneid)
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/cdp_audiences', '{shard}-{replica}')
ORDER BY (audience, version, oneid_hash);

CREATE TABLE IF NOT EXISTS cdp_audience_versions ON CLUSTER '{cluster}' (
    audience    LowCardinality(String),
    version     UInt64,
    size        UInt64,
    kind        LowCardinality(String),
    source      String,
    created     DateTime64(3, 'UTC')
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/cdp_audience_versions', '{shard}-{replica}')
ORDER BY (audience, version);
