-- terminals
WITH per_row AS (
    SELECT
        cityHash64(os, os_version, if(screen_width = 0 OR screen_height = 0, '', concat(toString(screen_width), 'x', toString(screen_height)))) AS row_key, any(os) AS dim_1, any(os_version) AS dim_2, any(if(screen_width = 0 OR screen_height = 0, '', concat(toString(screen_width), 'x', toString(screen_height)))) AS dim_3,
        uniqExactState(dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash))) AS persons_state,
        uniqExactIfState(cityHash64(session_id), session_id != '') AS sessions_state,
        count() AS events
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64})
    GROUP BY row_key
)
SELECT dim_1, dim_2, dim_3, persons, sessions, events, total_persons, total_sessions, total_events
FROM (
    SELECT
        groupArray((dim_1, dim_2, dim_3, finalizeAggregation(persons_state), finalizeAggregation(sessions_state), events)) AS r,
        uniqExactMerge(persons_state) AS total_persons,
        uniqExactIfMerge(sessions_state) AS total_sessions,
        sum(events) AS total_events
    FROM per_row
)
ARRAY JOIN r.1 AS dim_1, r.2 AS dim_2, r.3 AS dim_3, r.4 AS persons, r.5 AS sessions, r.6 AS events
ORDER BY persons DESC, events DESC, dim_1, dim_2, dim_3
LIMIT {max_rows:UInt64}
-- persons
SELECT any(dictGetOrDefault('oneid_dict', 'oneid', person_id, if(oneid != '', oneid, person_id))) AS person, max(ts) AS last_seen, argMax(tuple(platform, os, os_version, browser, browser_version, device_model, device_brand, app_version, network_type, carrier, utm_source, utm_medium, utm_campaign, referrer_domain, screen_width, screen_height), ts) AS latest
FROM events
WHERE app_id = {app_id_2:String} AND ts >= fromUnixTimestamp64Milli({time_from_2:Int64}) AND ts < fromUnixTimestamp64Milli({time_to_2:Int64}) AND dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) IN (

SELECT DISTINCT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person FROM events
WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND os = {value_1:String} AND os_version = {value_2:String} AND if(screen_width = 0 OR screen_height = 0, '', concat(toString(screen_width), 'x', toString(screen_height))) = {value_3:String}
ORDER BY person LIMIT {limit:UInt64} OFFSET {offset:UInt64}
)
GROUP BY dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash))
ORDER BY person
