-- Cluster variant of sql/migrations/0003_terminal_columns.sql: the same columns on every node's local table, the
-- Distributed `dwd_default` over it and the `events` Merge table (tests/analysis/test_cluster_ddl.py applies the
-- local statement to its copy of the cluster table and compares it with the migrated embedded dwd_default).
-- A further layer's local_dwd_<layer> and dwd_<layer> need the same statements.
-- Apply with `clickhouse-client --multiquery --queries-file sql/cluster/0003_terminal_columns.sql`, then
-- `trackflow warehouse migrate` (0003 finds the columns present: IF NOT EXISTS).
ALTER TABLE local_dwd_default ON CLUSTER '{cluster}'
    ADD COLUMN IF NOT EXISTS os_version      LowCardinality(String),
    ADD COLUMN IF NOT EXISTS browser_version LowCardinality(String),
    ADD COLUMN IF NOT EXISTS device_model    LowCardinality(String),
    ADD COLUMN IF NOT EXISTS device_brand    LowCardinality(String),
    ADD COLUMN IF NOT EXISTS screen_width    UInt16,
    ADD COLUMN IF NOT EXISTS screen_height   UInt16,
    ADD COLUMN IF NOT EXISTS network_type    LowCardinality(String),
    ADD COLUMN IF NOT EXISTS carrier         LowCardinality(String),
    ADD COLUMN IF NOT EXISTS utm_source      LowCardinality(String),
    ADD COLUMN IF NOT EXISTS utm_medium      LowCardinality(String),
    ADD COLUMN IF NOT EXISTS utm_campaign    String,
    ADD COLUMN IF NOT EXISTS referrer_domain LowCardinality(String);

ALTER TABLE dwd_default ON CLUSTER '{cluster}'
    ADD COLUMN IF NOT EXISTS os_version      LowCardinality(String),
    ADD COLUMN IF NOT EXISTS browser_version LowCardinality(String),
    ADD COLUMN IF NOT EXISTS device_model    LowCardinality(String),
    ADD COLUMN IF NOT EXISTS device_brand    LowCardinality(String),
    ADD COLUMN IF NOT EXISTS screen_width    UInt16,
    ADD COLUMN IF NOT EXISTS screen_height   UInt16,
    ADD COLUMN IF NOT EXISTS network_type    LowCardinality(String),
    ADD COLUMN IF NOT EXISTS carrier         LowCardinality(String),
    ADD COLUMN IF NOT EXISTS utm_source      LowCardinality(String),
    ADD COLUMN IF NOT EXISTS utm_medium      LowCardinality(String),
    ADD COLUMN IF NOT EXISTS utm_campaign    String,
    ADD COLUMN IF NOT EXISTS referrer_domain LowCardinality(String);

ALTER TABLE events ON CLUSTER '{cluster}'
    ADD COLUMN IF NOT EXISTS os_version      LowCardinality(String),
    ADD COLUMN IF NOT EXISTS browser_version LowCardinality(String),
    ADD COLUMN IF NOT EXISTS device_model    LowCardinality(String),
    ADD COLUMN IF NOT EXISTS device_brand    LowCardinality(String),
    ADD COLUMN IF NOT EXISTS screen_width    UInt16,
    ADD COLUMN IF NOT EXISTS screen_height   UInt16,
    ADD COLUMN IF NOT EXISTS network_type    LowCardinality(String),
    ADD COLUMN IF NOT EXISTS carrier         LowCardinality(String),
    ADD COLUMN IF NOT EXISTS utm_source      LowCardinality(String),
    ADD COLUMN IF NOT EXISTS utm_medium      LowCardinality(String),
    ADD COLUMN IF NOT EXISTS utm_campaign    String,
    ADD COLUMN IF NOT EXISTS referrer_domain LowCardinality(String);
