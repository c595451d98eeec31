-- stickiness
WITH per_period AS (
    SELECT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person_key, toMonday(ts, {tz:String}) AS period, uniqExact(toDate(ts, {tz:String})) AS days
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)} AND event = {activity_event:String}
    GROUP BY person_key, period
)
SELECT period, days, count() AS persons
FROM per_period
GROUP BY period, days
ORDER BY period, days
-- persons
WITH per_period AS (
    SELECT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person_key, toMonday(ts, {tz:String}) AS period, uniqExact(toDate(ts, {tz:String})) AS days
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)} AND event = {activity_event:String}
    GROUP BY person_key, period
)
SELECT any(dictGetOrDefault('oneid_dict', 'oneid', person_id, if(oneid != '', oneid, person_id))) AS person, max(ts) AS last_seen, argMax(tuple(platform, os, os_version, browser, browser_version, device_model, device_brand, app_version, network_type, carrier, utm_source, utm_medium, utm_campaign, referrer_domain, screen_width, screen_height), ts) AS latest
FROM events
WHERE app_id = {app_id_2:String} AND ts >= fromUnixTimestamp64Milli({time_from_2:Int64}) AND ts < fromUnixTimestamp64Milli({time_to_2:Int64}) AND event IN {events_2:Array(String)} AND dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) IN (
    SELECT person_key FROM per_period WHERE period = {period:Date} AND days = {days:UInt64}
    ORDER BY person_key LIMIT {limit:UInt64} OFFSET {offset:UInt64}
)
GROUP BY dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash))
ORDER BY person
