-- terminals
SELECT
    utm_source AS dim_1,
    grouping(dim_1) != 0 AS is_total,
    uniqExact(dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash))) AS persons,
    uniqExactIf(cityHash64(session_id), session_id != '') AS sessions,
    count() AS events
FROM events
WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)} AND (event = {event_1:String} OR event = {event_2:String})
GROUP BY GROUPING SETS ((dim_1), ())
ORDER BY is_total DESC, persons DESC, events DESC, dim_1
LIMIT {max_rows:UInt64}
