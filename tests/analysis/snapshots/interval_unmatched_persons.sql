-- intervals
WITH
rows AS (
    SELECT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person, '' AS link, platform AS grp, toUnixTimestamp64Milli(ts) AS t, event_id,
           event = {start_event:String} AS is_start, event = {end_event:String} AS is_end
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)}
),
per_person AS (
    SELECT person, groupArrayIf((t, event_id, grp), is_start) AS starts, arraySort(groupArrayIf((t, event_id), is_end)) AS ends
    FROM rows
    WHERE is_start OR is_end
    GROUP BY person, link
),
pairs AS (
    SELECT person, start.3 AS grp,
           arrayFirstIndex(e -> e.1 >= start.1 AND e.2 != start.2, ends) AS next_end,
           if(next_end > 0, (ends[next_end].1 - start.1) / 1000, NULL) AS seconds
    FROM per_person
    ARRAY JOIN starts AS start
)
SELECT
    grp,
    count(seconds) AS intervals,
    countIf(seconds IS NULL) AS unmatched,
    avg(seconds) AS mean_seconds,
    quantilesExactInclusive(0.1, 0.25, 0.5, 0.75, 0.9)(seconds) AS quantiles,
    sumForEach(arrayMap(i -> toUInt64(seconds IS NOT NULL AND assumeNotNull(seconds) >= {bucket_edges_s:Array(Float64)}[i] AND (i = length({bucket_edges_s:Array(Float64)}) OR assumeNotNull(seconds) < {bucket_edges_s:Array(Float64)}[i + 1])), arrayEnumerate({bucket_edges_s:Array(Float64)}))) AS histogram
FROM pairs
GROUP BY grp
ORDER BY intervals DESC, grp
-- persons
SELECT any(dictGetOrDefault('oneid_dict', 'oneid', person_id, if(oneid != '', oneid, person_id))) AS person, max(ts) AS last_seen, argMax(tuple(platform, os, os_version, browser, browser_version, device_model, device_brand, app_version, network_type, carrier, utm_source, utm_medium, utm_campaign, referrer_domain, screen_width, screen_height), ts) AS latest
FROM events
WHERE app_id = {app_id_2:String} AND ts >= fromUnixTimestamp64Milli({time_from_2:Int64}) AND ts < fromUnixTimestamp64Milli({time_to_2:Int64}) AND event IN {events_2:Array(String)} AND dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) IN (

WITH
rows AS (
    SELECT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person, '' AS link, platform AS grp, toUnixTimestamp64Milli(ts) AS t, event_id,
           event = {start_event:String} AS is_start, event = {end_event:String} AS is_end
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)}
),
per_person AS (
    SELECT person, groupArrayIf((t, event_id, grp), is_start) AS starts, arraySort(groupArrayIf((t, event_id), is_end)) AS ends
    FROM rows
    WHERE is_start OR is_end
    GROUP BY person, link
),
pairs AS (
    SELECT person, start.3 AS grp,
           arrayFirstIndex(e -> e.1 >= start.1 AND e.2 != start.2, ends) AS next_end,
           if(next_end > 0, (ends[next_end].1 - start.1) / 1000, NULL) AS seconds
    FROM per_person
    ARRAY JOIN starts AS start
)
SELECT DISTINCT person FROM pairs
WHERE seconds IS NULL AND grp = {group_value:String}
ORDER BY person LIMIT {limit:UInt64} OFFSET {offset:UInt64}
)
GROUP BY dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash))
ORDER BY person
