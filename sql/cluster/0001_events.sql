-- Cluster variant of the event model: what sql/migrations/0001_events.sql (with 0064's oneid default) creates on
-- the embedded warehouse, for a ClickHouse cluster with Keeper. Same columns, partitioning, sort key and TTL
-- (tests/analysis/test_cluster_ddl.py checks them against the migrated embedded table); what differs:
-- - `local_dwd_default` on every node is a ReplicatedReplacingMergeTree. Replicated tables deduplicate retried
--   insert blocks by their deduplication token themselves, so non_replicated_deduplication_window is not set.
-- - `dwd_default` is the Distributed table over it, sharded by person so a person's events stay on one shard.
--   Writers and readers use it (and `events`) exactly as on the embedded warehouse; the local name does not match
--   `^dwd_`, so `events` reads every event once, through the Distributed tables.
-- - Each server declares the `tiered` storage policy (volumes hot, cold) and the macros {cluster}, {shard},
--   {replica} in its config (docs/analysis.md shows an example); the oneid_dict dictionary (migration 0063) must
--   exist on every node for the oneid default, and oneid_hash_dict (0065) for the analyses that shards evaluate.
-- - A further layer needs the same pair (local_dwd_<layer> + Distributed dwd_<layer>): `CREATE TABLE dwd_x AS
--   dwd_default`, as the dwd job does on the embedded warehouse, would copy the Distributed engine pointing here.
-- Apply with `clickhouse-client --multiquery --queries-file sql/cluster/0001_events.sql`, then run
-- `trackflow warehouse migrate`: migration 0001 then finds the tables present (IF NOT EXISTS).
CREATE TABLE IF NOT EXISTS local_dwd_default ON CLUSTER '{cluster}' (
    event_id      UUID,
    event         LowCardinality(String),
    app_id        LowCardinality(String),
    ts            DateTime64(3, 'UTC'),
    received_at   DateTime64(3, 'UTC'),
    person_id     String,
    person_hash   UInt64 MATERIALIZED cityHash64(person_id),
    oneid         String DEFAULT dictGetOrDefault('oneid_dict', 'oneid', person_id, ''),
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
    p_product_id  String MATERIALIZED props['product_id'],
    p_category    LowCardinality(String) MATERIALIZED props['category'],
    inserted_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/local_dwd_default', '{replica}', inserted_at)
PARTITION BY toDate(ts)
ORDER BY (app_id, event, toDate(ts), person_hash, event_id)
TTL toDate(ts) + INTERVAL 30 DAY TO VOLUME 'cold'
SETTINGS storage_policy = 'tiered';

CREATE TABLE IF NOT EXISTS dwd_default ON CLUSTER '{cluster}' AS local_dwd_default
ENGINE = Distributed('{cluster}', currentDatabase(), local_dwd_default, cityHash64(person_id));

CREATE TABLE IF NOT EXISTS events ON CLUSTER '{cluster}' AS local_dwd_default
ENGINE = Merge(currentDatabase(), '^dwd_');
