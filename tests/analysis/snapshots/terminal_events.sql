-- terminals
WITH per_row AS (
    SELECT
        utm_source AS dim_1,
        uniqExactState(dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash))) AS persons_state,
        uniqExactIfState(cityHash64(session_id), session_id != '') AS sessions_state,
        count() AS events
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)} AND (event = {event_1:String} OR event = {event_2:String})
    GROUP BY dim_1
)
SELECT
    dim_1,
    finalizeAggregation(persons_state) AS persons,
    finalizeAggregation(sessions_state) AS sessions,
    events,
    uniqExactMerge(persons_state) OVER () AS total_persons,
    uniqExactIfMerge(sessions_state) OVER () AS total_sessions,
    sum(events) OVER () AS total_events
FROM per_row
ORDER BY persons DESC, events DESC, dim_1
LIMIT {max_rows:UInt64}
