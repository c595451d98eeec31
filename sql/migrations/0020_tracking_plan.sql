-- Tracking plan (点位仓库) as applied by `trackflow plan apply`: one row per declared event per plan version.
-- The YAML in plans/ is the source; this copy lets the warehouse side (health report, analysis) join on it.
CREATE TABLE IF NOT EXISTS tracking_plan (
    app_id                        LowCardinality(String),
    version                       UInt32,
    fingerprint                   String,
    event                         String,
    description                   String,
    properties                    String,                  -- JSON: {name: {type, required, enum, min, max, ...}}
    policy_undeclared_events      LowCardinality(String),
    policy_undeclared_properties  LowCardinality(String),
    applied_at                    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY (app_id, version, event);
