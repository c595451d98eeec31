-- distribution
WITH per_person AS (
    SELECT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person, toFloat64(ifNull(count(), 0)) AS value
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)} AND event = {event:String}
    GROUP BY person
)
SELECT
    count() AS persons,
    avg(value) AS mean,
    quantilesExactInclusive(0.1, 0.25, 0.5, 0.75, 0.9)(value) AS quantiles,
    sumForEach(arrayMap(i -> toUInt64(value >= {bucket_edges:Array(Float64)}[i] AND (i = length({bucket_edges:Array(Float64)}) OR value < {bucket_edges:Array(Float64)}[i + 1])), arrayEnumerate({bucket_edges:Array(Float64)}))) AS histogram
FROM per_person
-- persons
SELECT any(dictGetOrDefault('oneid_dict', 'oneid', person_id, if(oneid != '', oneid, person_id))) AS person, max(ts) AS last_seen, argMax(tuple(platform, os, os_version, browser, browser_version, device_model, device_brand, app_version, network_type, carrier, utm_source, utm_medium, utm_campaign, referrer_domain, screen_width, screen_height), ts) AS latest
FROM events
WHERE app_id = {app_id_2:String} AND ts >= fromUnixTimestamp64Milli({time_from_2:Int64}) AND ts < fromUnixTimestamp64Milli({time_to_2:Int64}) AND event IN {events_2:Array(String)} AND dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) IN (

WITH per_person AS (
    SELECT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person, toFloat64(ifNull(count(), 0)) AS value
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)} AND event = {event:String}
    GROUP BY person
)
SELECT person FROM per_person
WHERE value >= {bucket_from:Float64} AND value < {bucket_to:Float64}
ORDER BY person LIMIT {limit:UInt64} OFFSET {offset:UInt64}
)
GROUP BY dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash))
ORDER BY person
