-- terminals
WITH per_row AS (
    SELECT
        cityHash64(utm_source) AS row_key, any(utm_source) AS dim_1,
        uniqExactState(dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash))) AS persons_state,
        uniqExactIfState(cityHash64(session_id), session_id != '') AS sessions_state,
        count() AS events
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)} AND (event = {event_1:String} OR event = {event_2:String})
    GROUP BY row_key
)
SELECT dim_1, persons, sessions, events, total_persons, total_sessions, total_events
FROM (
    SELECT
        groupArray((dim_1, finalizeAggregation(persons_state), finalizeAggregation(sessions_state), events)) AS r,
        uniqExactMerge(persons_state) AS total_persons,
        uniqExactIfMerge(sessions_state) AS total_sessions,
        sum(events) AS total_events
    FROM per_row
)
ARRAY JOIN r.1 AS dim_1, r.2 AS persons, r.3 AS sessions, r.4 AS events
ORDER BY persons DESC, events DESC, dim_1
LIMIT {max_rows:UInt64}
