-- Person properties (pipelines/person_properties.py): what other vendors' SDKs say about a person (Sensors
-- profile_*, PostHog $set/$set_once, Segment identify traits), loaded from persons.properties by the one loader,
-- jobs/person_properties (inside the metrics job).
-- One table, the history, one row per update and property; the latest value is a fold over it (the view below),
-- not a second table a loader keeps in step. Why: set_once ("only if it has no value") and append are not
-- "latest row wins", so a ReplacingMergeTree by updated time cannot hold them, and a "current value" table
-- written by the loader would depend on the order updates arrive in (a late or replayed set_once could overwrite).
-- The fold sorts a property's updates by client time, then by their position in the request that carried them (an
-- SDK's batch holds its calls in order, often several in one millisecond), then by update_id as text (so every
-- reader breaks the remaining ties alike), and applies set / set_once / append / unset in that order: its result
-- depends only on the set of updates. A replayed message (same update_id: the collector derives it from the
-- record's content) counts once: the fold first takes one row per update_id, at its smallest seq (a re-send may
-- sit elsewhere in its batch and always has another received_at). The ReplacingMergeTree key ends in (update_id,
-- seq), so merges drop a copy at the same position; one at another position stays, which keeps min(seq) the same
-- whenever merges happen (a key without seq would keep the last copy's seq and reorder ties after a merge: a
-- hypothesis test found that).
CREATE TABLE IF NOT EXISTS person_property_log (
    app_id      LowCardinality(String),
    person_id   String,                   -- 'user_id:u-1', as the detail tables' person_id (OneID resolves both alike)
    property    String,
    update_id   UUID,
    op          LowCardinality(String),   -- set | set_once | append | unset
    value       String,                   -- text as event props are kept; lists and objects as JSON
    items       Array(String),            -- a list value's items (set of a list; append)
    ts          DateTime64(3, 'UTC'),     -- client time of the update
    seq         UInt32,                   -- position of the update in its request
    received_at DateTime64(3, 'UTC'),
    ids         Map(String, String),      -- every touchpoint id the update named
    source      LowCardinality(String)    -- sensors | posthog | segment
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (app_id, person_id, property, update_id, seq);

-- Latest value per (app, person, property); unset properties are absent. `value` of a list property is its JSON
-- array. Filter on app_id and person_id: the fold then reads that person's rows only.
CREATE VIEW IF NOT EXISTS person_properties AS
SELECT app_id, person_id, property, if(notEmpty(state.3), toJSONString(state.3), state.2) AS value, state.3 AS items, state.4 AS updated_at
FROM (
    SELECT app_id, person_id, property,
           arrayFold(
               (acc, u) -> multiIf(
                   u.3 = 'set', (toUInt8(1), u.4, u.5, u.1),
                   u.3 = 'unset', (toUInt8(0), '', CAST([], 'Array(String)'), u.1),
                   u.3 = 'set_once' AND acc.1 = 0, (toUInt8(1), u.4, u.5, u.1),
                   u.3 = 'append', (toUInt8(1), '[]', arrayConcat(acc.3, u.5), u.1),
                   acc),
               arraySort(u -> (u.1, u.6, toString(u.2)), groupArray((ts, update_id, op, value, items, seq))),
               (toUInt8(0), '', CAST([], 'Array(String)'), toDateTime64(0, 3, 'UTC'))
           ) AS state
    FROM (
        SELECT app_id, person_id, property, update_id,
               any(op) AS op, any(value) AS value, any(items) AS items, any(ts) AS ts, min(seq) AS seq
        FROM person_property_log
        GROUP BY app_id, person_id, property, update_id
    )
    GROUP BY app_id, person_id, property
)
WHERE state.1 = 1;
