-- cohorts
WITH
rows AS (
    SELECT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person_key, ts, toDate(ts, {tz:String}) AS period,
           event = {initial_event:String} AS is_initial, event = {return_event:String} AS is_return, ts >= fromUnixTimestamp64Milli({cohort_from:Int64}) AND ts < fromUnixTimestamp64Milli({cohort_to:Int64}) AS in_range
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)}
),
per_person AS (
    SELECT person_key, groupUniqArrayIf(period, is_initial AND in_range) AS cohorts, groupUniqArrayIf(period, is_return) AS returns
    FROM rows
    GROUP BY person_key
    HAVING countIf(is_initial AND in_range) > 0
)
SELECT
    cohort,
    count() AS persons,
    sumMap(arrayFilter(k -> k BETWEEN 1 AND {periods:UInt32}, arrayMap(r -> dateDiff('day', cohort, r), returns)) AS returned_after, arrayMap(k -> toUInt64(1), returned_after)) AS returned
FROM per_person
ARRAY JOIN cohorts AS cohort
GROUP BY cohort
ORDER BY cohort
-- persons
SELECT any(dictGetOrDefault('oneid_dict', 'oneid', person_id, if(oneid != '', oneid, person_id))) AS person, max(ts) AS last_seen, argMax(tuple(platform, os, os_version, browser, browser_version, device_model, device_brand, app_version, network_type, carrier, utm_source, utm_medium, utm_campaign, referrer_domain, screen_width, screen_height), ts) AS latest
FROM events
WHERE app_id = {app_id_2:String} AND ts >= fromUnixTimestamp64Milli({time_from_2:Int64}) AND ts < fromUnixTimestamp64Milli({time_to_2:Int64}) AND event IN {events_2:Array(String)} AND dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) IN (

WITH
rows AS (
    SELECT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person_key, ts, toDate(ts, {tz:String}) AS period,
           event = {initial_event:String} AS is_initial, event = {return_event:String} AS is_return, ts >= fromUnixTimestamp64Milli({cohort_from:Int64}) AND ts < fromUnixTimestamp64Milli({cohort_to:Int64}) AS in_range
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)}
),
per_person AS (
    SELECT person_key, groupUniqArrayIf(period, is_initial AND in_range) AS cohorts, groupUniqArrayIf(period, is_return) AS returns
    FROM rows
    GROUP BY person_key
    HAVING countIf(is_initial AND in_range) > 0
)
SELECT person_key FROM per_person
ARRAY JOIN cohorts AS cohort
WHERE cohort = {cohort:Date} AND has(arrayMap(r -> dateDiff('day', cohort, r), returns), {period:Int64})
ORDER BY person_key LIMIT {limit:UInt64} OFFSET {offset:UInt64}
)
GROUP BY dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash))
ORDER BY person
