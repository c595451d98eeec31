-- Terminal and channel columns (pipelines/envelope.py TERMINAL_COLUMNS): parsed once on the way in (user agent at
-- the collector, screen size, utm_* and referrer domain when the row is made) so terminal analysis groups by typed
-- columns instead of re-parsing strings per query. Rows written before read the defaults ('' and 0).
-- Layer tables made later copy dwd_default (CREATE TABLE dwd_<layer> AS dwd_default); a layer table made before
-- this migration gets the columns from the dwd writer the first time it writes there
-- (pipelines/streaming/writer.py DetailWriter.ensure_table). `events` (Merge) declares them too.
ALTER TABLE dwd_default
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

ALTER TABLE events
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
