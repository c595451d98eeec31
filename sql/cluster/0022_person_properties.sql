-- Cluster variant of sql/migrations/0022_person_properties.sql (same columns, key and view). What differs:
-- - `local_person_property_log` on every node is a ReplicatedReplacingMergeTree (replicas dedup retried blocks).
-- - `person_property_log` is the Distributed table over it, sharded by person: a person's updates are on one shard,
--   so the loader and the view use it as on the embedded warehouse, and each shard folds its persons locally.
-- Apply after the servers have the {cluster}/{shard}/{replica} macros (docs/analysis.md) with
-- `clickhouse-client --multiquery --queries-file sql/cluster/0022_person_properties.sql`; `trackflow warehouse
-- migrate` then finds the table present (IF NOT EXISTS) and creates migration 0022's view over it.
CREATE TABLE IF NOT EXISTS local_person_property_log ON CLUSTER '{cluster}' (
    app_id      LowCardinality(String),
    person_id   String,
    property    String,
    update_id   UUID,
    op          LowCardinality(String),
    value       String,
    items       Array(String),
    ts          DateTime64(3, 'UTC'),
    seq         UInt32,
    received_at DateTime64(3, 'UTC'),
    ids         Map(String, String),
    source      LowCardinality(String)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/local_person_property_log', '{replica}')
PARTITION BY toYYYYMM(ts)
ORDER BY (app_id, person_id, property, update_id, seq);

CREATE TABLE IF NOT EXISTS person_property_log ON CLUSTER '{cluster}' AS local_person_property_log
ENGINE = Distributed('{cluster}', currentDatabase(), local_person_property_log, cityHash64(person_id));
