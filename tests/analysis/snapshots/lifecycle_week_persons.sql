-- lifecycle
WITH
per_person AS (
    SELECT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person_key, arraySort(groupUniqArray(toMonday(ts, {tz:String}))) AS active
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND 1
    GROUP BY person_key
),
statuses AS (
    SELECT person_key, cell.1 AS period, cell.2 AS status
    FROM per_person
    ARRAY JOIN arrayConcat(arrayMap((p, k, previous) -> (p, multiIf(k = 1, 'new', previous = subtractDays(p, 7), 'returning', 'resurrecting')), active, arrayEnumerate(active), arrayShiftRight(active, 1)), arrayMap(p -> (addDays(p, 7), 'dormant'), arrayFilter((p, following) -> following != addDays(p, 7), active, arrayShiftLeft(active, 1)))) AS cell
    WHERE period BETWEEN {first_period:Date} AND {last_period:Date}
)
SELECT period, status, count() AS persons
FROM statuses
GROUP BY period, status
ORDER BY period, status
-- persons
WITH
per_person AS (
    SELECT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person_key, arraySort(groupUniqArray(toMonday(ts, {tz:String}))) AS active
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND 1
    GROUP BY person_key
),
statuses AS (
    SELECT person_key, cell.1 AS period, cell.2 AS status
    FROM per_person
    ARRAY JOIN arrayConcat(arrayMap((p, k, previous) -> (p, multiIf(k = 1, 'new', previous = subtractDays(p, 7), 'returning', 'resurrecting')), active, arrayEnumerate(active), arrayShiftRight(active, 1)), arrayMap(p -> (addDays(p, 7), 'dormant'), arrayFilter((p, following) -> following != addDays(p, 7), active, arrayShiftLeft(active, 1)))) AS cell
    WHERE period BETWEEN {first_period:Date} AND {last_period:Date}
)
SELECT any(dictGetOrDefault('oneid_dict', 'oneid', person_id, if(oneid != '', oneid, person_id))) AS person, max(ts) AS last_seen, argMax(tuple(platform, os, os_version, browser, browser_version, device_model, device_brand, app_version, network_type, carrier, utm_source, utm_medium, utm_campaign, referrer_domain, screen_width, screen_height), ts) AS latest
FROM events
WHERE app_id = {app_id_2:String} AND ts >= fromUnixTimestamp64Milli({time_from_2:Int64}) AND ts < fromUnixTimestamp64Milli({time_to_2:Int64}) AND dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) IN (
    SELECT person_key FROM statuses WHERE period = {period:Date} AND status = {status:String}
    ORDER BY person_key LIMIT {limit:UInt64} OFFSET {offset:UInt64}
)
GROUP BY dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash))
ORDER BY person
