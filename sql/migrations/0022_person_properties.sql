-- Person properties (pipelines/person_properties.py): what other vendors' SDKs say about a person (Sensors
-- profile_*, PostHog $set/$set_once, Segment identify traits), loaded from persons.properties by the one loader,
-- jobs/person_properties (inside the metrics job).
-- One table, the history, one row per update and property; the latest value is a fold over it (the view below),
-- not a second table a loader keeps in step. Why: set_once ("only if it has no value") and append are not
-- "latest row wins", so a ReplacingMergeTree by updated time cannot hold them, and a "current value" table
-- written by the loader would depend on the order updates arrive in (a late or replayed set_once could overwrite).
-- The fold sorts a property's updates by client time (then update_id as text, so every reader breaks ties alike) and
-- applies set / set_once / append / unset in that order: its result depends only on the set of updates. A replayed
-- message (same update_id: the collector derives it from the request's content) is collapsed twice over: the
-- ReplacingMergeTree key ends in update_id, and the fold reads groupUniqArray (received_at, the only column a
-- re-send changes, is left out), so an append loaded twice before a merge still adds its items once.
CREATE TABLE IF NOT EXISTS person_property_log (
    app_id      LowCardinality(String),
    person_id   String,                   -- 'user_id:u-1', as the detail tables' person_id (OneID resolves both alike)
    property    String,
    update_id   UUID,
    op          LowCardinality(String),   -- set | set_once | append | unset
    value       String,                   -- text as event props are kept; lists and objects as JSON
    items       Array(String),            -- a list value's items (set of a list; append)
    ts          DateTime64(3, 'UTC'),     -- client time of the update
    received_at DateTime64(3, 'UTC'),
    ids         Map(String, String),      -- every touchpoint id the update named
    source      LowCardinality(String)    -- sensors | posthog | segment
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (app_id, person_id, property, update_id);

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
               arraySort(u -> (u.1, toString(u.2)), groupUniqArray((ts, update_id, op, value, items))),
               (toUInt8(0), '', CAST([], 'Array(String)'), toDateTime64(0, 3, 'UTC'))
           ) AS state
    FROM person_property_log
    GROUP BY app_id, person_id, property
)
WHERE state.1 = 1;
