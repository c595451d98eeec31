-- Monitoring (issue 21): the board's history, the alerts' state history, silences, and reconciliation results.
-- One writer each: the `alerts` stack component writes monitoring_samples and alert state changes; the CLI adds
-- silences and acknowledgements; the reconciliation assets (dagster_project/monitoring.py) write reconciliation.

-- Every metric the alerts component sampled, one row per series per minute (the last value of that minute).
CREATE TABLE IF NOT EXISTS monitoring_samples (
    minute   DateTime('UTC'),
    metric   LowCardinality(String),
    labels   Map(LowCardinality(String), String),
    value    Float64
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(minute)
ORDER BY (metric, labels, minute)
TTL toDate(minute) + INTERVAL 30 DAY;

-- Every change of every alert: pending, firing, silenced, resolved (by the component), acknowledged (by a person).
CREATE TABLE IF NOT EXISTS alert_history (
    at           DateTime64(3, 'UTC'),
    rule         LowCardinality(String),
    priority     LowCardinality(String),
    fingerprint  String,
    labels       Map(LowCardinality(String), String),
    state        LowCardinality(String),
    value        Float64,
    notified     UInt8,
    actor        String,
    note         String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (rule, fingerprint, at)
TTL toDate(at) + INTERVAL 400 DAY;

-- Silences: time-bounded, by rule (empty: every rule) and label values. Ending one early adds a row with the same
-- silence_id and a new ends_at; the newest version wins.
CREATE TABLE IF NOT EXISTS alert_silences (
    silence_id  String,
    rule        String,
    matchers    Map(String, String),
    starts_at   DateTime64(3, 'UTC'),
    ends_at     DateTime64(3, 'UTC'),
    reason      String,
    created_by  String,
    version     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY silence_id;

-- Reconciliation (对账) per window, app and link of the chain: expected (the stage before) against observed.
-- cadence: hourly | recent (every few minutes, the last closed window).
CREATE TABLE IF NOT EXISTS reconciliation (
    window_start  DateTime('UTC'),
    window_end    DateTime('UTC'),
    cadence       LowCardinality(String),
    app_id        LowCardinality(String),
    layer         LowCardinality(String),
    stage         LowCardinality(String),
    expected      Int64,
    observed      Int64,
    difference    Int64,
    verdict       LowCardinality(String),
    checked_at    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (cadence, window_start, app_id, stage, layer)
TTL toDate(window_start) + INTERVAL 400 DAY;
