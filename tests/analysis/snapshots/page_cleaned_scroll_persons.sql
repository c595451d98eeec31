-- pages
WITH
rows AS (
    SELECT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person, toUnixTimestamp64Milli(ts) AS t, multiIf(event = {view_event:String}, 0, event = {leave_event:String}, 1, event = {scroll_event:String}, 2, -1) AS kind, if(kind = 0, replaceRegexpAll(path(url), {rule_1_pattern:String}, {rule_1_replacement:String}), '') AS page, if(kind = 2, toFloat64OrNull(props[{prop:String}]), NULL) AS depth
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)}
),
per_person AS (
    -- one person's events in (time, kind, page) order: a leave or scroll event at a view's own time follows it
    SELECT person, arraySort(groupArray((t, kind, page, depth))) AS ev
    FROM rows
    WHERE kind >= 0
    GROUP BY person
    HAVING countIf(kind = 0) > 0
),
sessions AS (
    SELECT person,
           arrayFilter(i -> ev[i].2 = 0, arrayEnumerate(ev)) AS at,
           arrayMap(i -> ev[i], at) AS v,
           v.1 AS vt,
           arrayMap((x, i) -> i = 1 OR x - vt[i - 1] >= {session_gap_ms:Int64}, vt, arrayEnumerate(vt)) AS starts,
           arrayMap(i -> i = length(vt) OR starts[i + 1], arrayEnumerate(vt)) AS ends,
           arrayMap((p, i) -> (toUInt64(p), toUInt64(if(i < length(at), at[i + 1], length(ev) + 1) - p)), at, arrayEnumerate(at)) AS spans,
           arrayReduceInRanges('min', spans, arrayMap(e -> if(e.2 = 1, e.1, NULL), ev)) AS left_at,
           arrayReduceInRanges('max', spans, arrayMap(e -> e.4, ev)) AS depths,
           arrayMap((x, i) -> if(NOT ends[i], (vt[i + 1] - x) / 1000, if(left_at[i] IS NOT NULL AND left_at[i] - x < {session_gap_ms:Int64}, (left_at[i] - x) / 1000, NULL)), vt, arrayEnumerate(vt)) AS seconds
    FROM per_person
),
views AS (
    SELECT person, page, entry, exit, entry AND exit AS bounce, on_page, depth, toRelativeDayNum(toDate(fromUnixTimestamp64Milli(t), {tz:String})) - toRelativeDayNum({first_day:Date}) AS day
    FROM sessions
    ARRAY JOIN v.3 AS page, vt AS t, starts AS entry, ends AS exit, seconds AS on_page, depths AS depth
)
SELECT
    page,
    count() AS views,
    uniqExact(person) AS persons,
    countIf(entry) AS entries,
    countIf(exit) AS exits,
    countIf(bounce) AS bounces,
    avg(on_page) AS avg_seconds,
    quantileExactInclusive(0.5)(on_page) AS median_seconds,
    quantileExactInclusive(0.5)(depth) AS median_scroll_depth,
    countResample(0, 15, 1)(day) AS views_by_day
FROM views
GROUP BY page
ORDER BY views DESC, page
LIMIT {max_pages:UInt64}
-- previous
WITH
rows AS (
    SELECT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person, toUnixTimestamp64Milli(ts) AS t, multiIf(event = {view_event:String}, 0, event = {leave_event:String}, 1, event = {scroll_event:String}, 2, -1) AS kind, if(kind = 0, replaceRegexpAll(path(url), {rule_1_pattern:String}, {rule_1_replacement:String}), '') AS page, if(kind = 2, toFloat64OrNull(props[{prop:String}]), NULL) AS depth
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)}
),
per_person AS (
    -- one person's events in (time, kind, page) order: a leave or scroll event at a view's own time follows it
    SELECT person, arraySort(groupArray((t, kind, page, depth))) AS ev
    FROM rows
    WHERE kind >= 0
    GROUP BY person
    HAVING countIf(kind = 0) > 0
),
sessions AS (
    SELECT person,
           arrayFilter(i -> ev[i].2 = 0, arrayEnumerate(ev)) AS at,
           arrayMap(i -> ev[i], at) AS v,
           v.1 AS vt,
           arrayMap((x, i) -> i = 1 OR x - vt[i - 1] >= {session_gap_ms:Int64}, vt, arrayEnumerate(vt)) AS starts,
           arrayMap(i -> i = length(vt) OR starts[i + 1], arrayEnumerate(vt)) AS ends,
           arrayMap((p, i) -> (toUInt64(p), toUInt64(if(i < length(at), at[i + 1], length(ev) + 1) - p)), at, arrayEnumerate(at)) AS spans,
           arrayReduceInRanges('min', spans, arrayMap(e -> if(e.2 = 1, e.1, NULL), ev)) AS left_at,
           arrayReduceInRanges('max', spans, arrayMap(e -> e.4, ev)) AS depths,
           arrayMap((x, i) -> if(NOT ends[i], (vt[i + 1] - x) / 1000, if(left_at[i] IS NOT NULL AND left_at[i] - x < {session_gap_ms:Int64}, (left_at[i] - x) / 1000, NULL)), vt, arrayEnumerate(vt)) AS seconds
    FROM per_person
),
views AS (
    SELECT person, page, entry, exit, entry AND exit AS bounce, on_page, depth
    FROM sessions
    ARRAY JOIN v.3 AS page, vt AS t, starts AS entry, ends AS exit, seconds AS on_page, depths AS depth
)
SELECT
    page,
    count() AS views,
    uniqExact(person) AS persons,
    countIf(entry) AS entries,
    countIf(exit) AS exits,
    countIf(bounce) AS bounces,
    avg(on_page) AS avg_seconds,
    quantileExactInclusive(0.5)(on_page) AS median_seconds,
    quantileExactInclusive(0.5)(depth) AS median_scroll_depth
FROM views
GROUP BY page
ORDER BY views DESC, page
LIMIT {max_pages:UInt64}
-- persons
SELECT any(dictGetOrDefault('oneid_dict', 'oneid', person_id, if(oneid != '', oneid, person_id))) AS person, max(ts) AS last_seen, argMax(tuple(platform, os, os_version, browser, browser_version, device_model, device_brand, app_version, network_type, carrier, utm_source, utm_medium, utm_campaign, referrer_domain, screen_width, screen_height), ts) AS latest
FROM events
WHERE app_id = {app_id_2:String} AND ts >= fromUnixTimestamp64Milli({time_from_2:Int64}) AND ts < fromUnixTimestamp64Milli({time_to_2:Int64}) AND event IN {events_2:Array(String)} AND dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) IN (

SELECT DISTINCT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person FROM events
WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)} AND event = {view_event:String} AND replaceRegexpAll(path(url), {rule_1_pattern:String}, {rule_1_replacement:String}) = {page_value:String}
ORDER BY person LIMIT {limit:UInt64} OFFSET {offset:UInt64}
)
GROUP BY dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash))
ORDER BY person
