-- The current OneID of every id, versioned: the row with the highest `version` per (id_type, id_value) wins
-- (read with FINAL or argMax). `deleted = 1` takes an id out (expired, blocked, split). A retired OneID is a row
-- with id_type 'oneid' whose `oneid` is the person it redirects to.
-- Writers: the real-time job (source 'realtime') and the offline publish (source 'offline'); versions are
-- microsecond clocks, so the later writer wins.
CREATE TABLE IF NOT EXISTS oneid_map (
    id_type           LowCardinality(String),
    id_value          String,
    oneid             String,
    anchor            String,
    oneid_created_at  DateTime64(3, 'UTC'),
    first_seen        DateTime64(3, 'UTC'),
    last_seen         DateTime64(3, 'UTC'),
    source            LowCardinality(String),
    rules             LowCardinality(String),
    version           UInt64,
    deleted           UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (id_type, id_value);

-- What analyses join: the detail table's person_id ("type:value" of the event's primary id) -> current OneID.
-- Past events follow merges and splits because person_id never changes and this view always reads the newest row.
CREATE VIEW IF NOT EXISTS oneid_current AS
SELECT concat(id_type, ':', id_value) AS person_id, argMax(oneid, version) AS oneid
FROM oneid_map
WHERE id_type != 'oneid'
GROUP BY id_type, id_value
HAVING argMax(deleted, version) = 0;
