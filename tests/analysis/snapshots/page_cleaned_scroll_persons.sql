-- pages
WITH
(SELECT (arraySort((r, c) -> c, raw, cleaned), arrayMap(n -> toUInt32(n), arrayCumSum(arrayMap((c, i) -> i = 1 OR c != sorted[i - 1], arraySort(cleaned) AS sorted, arrayEnumerate(sorted)))), arrayDistinct(sorted))
 FROM (SELECT groupUniqArray(path(url)) AS raw, arrayMap(r -> replaceRegexpAll(r, {rule_1_pattern:String}, {rule_1_replacement:String}), raw) AS cleaned FROM events WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)} AND event = {view_event:String})) AS pages,
pages.3 AS labels,
rows AS (
    SELECT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person, multiIf(event = {view_event_2:String}, 0, event = {leave_event:String}, 1, event = {scroll_event:String}, 2, -1) AS kind, bitShiftLeft(toUInt64(toUnixTimestamp64Milli(ts) - {range_start_ms:Int64}), 25) + bitShiftLeft(toUInt64(kind), 23) + if(kind = 0, transform(path(url), pages.1, pages.2, toUInt32(0)), 0) AS key, if(kind = 2, toFloat64OrNull(props[{prop:String}]), NULL) AS depth
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)}
),
per_person AS (
    -- one person's events in (time, kind, page) order: a leave or scroll event at a view's own time follows it
    SELECT person, arraySort(groupArray((key, depth))) AS ev
    FROM rows
    WHERE kind >= 0
    GROUP BY person
    HAVING countIf(kind = 0) > 0 AND throwIf(length(labels) >= 8388608, 'more than 8,388,607 distinct pages: clean them') = 0
),
sessions AS (
    SELECT person,
           arrayFilter(i -> bitShiftRight(ev.1[i], 23) % 4 = 0, arrayEnumerate(ev.1)) AS at,
           arrayMap(i -> ev.1[i], at) AS v,
           arrayMap(k -> toInt64(bitShiftRight(k, 25)), v) AS vt,
           arrayMap(k -> toUInt32(k % 8388608), v) AS ranks,
           arrayMap(n -> n = 1, arrayEnumerateUniq(ranks)) AS firsts,
           arrayMap((x, i) -> i = 1 OR x - vt[i - 1] >= {session_gap_ms:Int64}, vt, arrayEnumerate(vt)) AS starts,
           arrayMap(i -> i = length(vt) OR starts[i + 1], arrayEnumerate(vt)) AS ends,
           arrayMap((p, i) -> (toUInt64(p), toUInt64(if(i < length(at), at[i + 1], length(ev) + 1) - p)), at, arrayEnumerate(at)) AS spans,
           arrayReduceInRanges('min', spans, arrayMap(k -> if(bitShiftRight(k, 23) % 4 = 1, toInt64(bitShiftRight(k, 25)), NULL), ev.1)) AS left_at,
           arrayReduceInRanges('max', spans, ev.2) AS depths,
           arrayMap((x, i) -> if(NOT ends[i], vt[i + 1] - x, if(left_at[i] IS NOT NULL AND left_at[i] - x < {session_gap_ms:Int64}, assumeNotNull(left_at[i]) - x, -1)), vt, arrayEnumerate(vt)) AS ms
    FROM per_person
),
views AS (
    SELECT person, rank, first, entry, exit, entry AND exit AS bounce, on_page, depth, toRelativeDayNum(toDate(fromUnixTimestamp64Milli(t + {range_start_ms:Int64}), {tz:String})) - toRelativeDayNum({first_day:Date}) AS day
    FROM sessions
    ARRAY JOIN ranks AS rank, firsts AS first, vt AS t, starts AS entry, ends AS exit, ms AS on_page, depths AS depth
)
SELECT
    labels[rank] AS page,
    count() AS views,
    countIf(first) AS persons,
    countIf(entry) AS entries,
    countIf(exit) AS exits,
    countIf(bounce) AS bounces,
    avgIf(on_page, on_page >= 0) / 1000 AS avg_seconds,
    quantileExactInclusiveIf(0.5)(toUInt32(on_page), on_page >= 0) / 1000 AS median_seconds,
    quantileExactInclusive(0.5)(depth) AS median_scroll_depth,
    countResample(0, 15, 1)(day) AS views_by_day
FROM views
GROUP BY rank
ORDER BY views DESC, page
LIMIT {max_pages:UInt64}
-- previous
WITH
(SELECT (arraySort((r, c) -> c, raw, cleaned), arrayMap(n -> toUInt32(n), arrayCumSum(arrayMap((c, i) -> i = 1 OR c != sorted[i - 1], arraySort(cleaned) AS sorted, arrayEnumerate(sorted)))), arrayDistinct(sorted))
 FROM (SELECT groupUniqArray(path(url)) AS raw, arrayMap(r -> replaceRegexpAll(r, {rule_1_pattern:String}, {rule_1_replacement:String}), raw) AS cleaned FROM events WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)} AND event = {view_event:String})) AS pages,
pages.3 AS labels,
rows AS (
    SELECT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person, multiIf(event = {view_event_2:String}, 0, event = {leave_event:String}, 1, event = {scroll_event:String}, 2, -1) AS kind, bitShiftLeft(toUInt64(toUnixTimestamp64Milli(ts) - {range_start_ms:Int64}), 25) + bitShiftLeft(toUInt64(kind), 23) + if(kind = 0, transform(path(url), pages.1, pages.2, toUInt32(0)), 0) AS key, if(kind = 2, toFloat64OrNull(props[{prop:String}]), NULL) AS depth
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)}
),
per_person AS (
    -- one person's events in (time, kind, page) order: a leave or scroll event at a view's own time follows it
    SELECT person, arraySort(groupArray((key, depth))) AS ev
    FROM rows
    WHERE kind >= 0
    GROUP BY person
    HAVING countIf(kind = 0) > 0 AND throwIf(length(labels) >= 8388608, 'more than 8,388,607 distinct pages: clean them') = 0
),
sessions AS (
    SELECT person,
           arrayFilter(i -> bitShiftRight(ev.1[i], 23) % 4 = 0, arrayEnumerate(ev.1)) AS at,
           arrayMap(i -> ev.1[i], at) AS v,
           arrayMap(k -> toInt64(bitShiftRight(k, 25)), v) AS vt,
           arrayMap(k -> toUInt32(k % 8388608), v) AS ranks,
           arrayMap(n -> n = 1, arrayEnumerateUniq(ranks)) AS firsts,
           arrayMap((x, i) -> i = 1 OR x - vt[i - 1] >= {session_gap_ms:Int64}, vt, arrayEnumerate(vt)) AS starts,
           arrayMap(i -> i = length(vt) OR starts[i + 1], arrayEnumerate(vt)) AS ends,
           arrayMap((p, i) -> (toUInt64(p), toUInt64(if(i < length(at), at[i + 1], length(ev) + 1) - p)), at, arrayEnumerate(at)) AS spans,
           arrayReduceInRanges('min', spans, arrayMap(k -> if(bitShiftRight(k, 23) % 4 = 1, toInt64(bitShiftRight(k, 25)), NULL), ev.1)) AS left_at,
           arrayReduceInRanges('max', spans, ev.2) AS depths,
           arrayMap((x, i) -> if(NOT ends[i], vt[i + 1] - x, if(left_at[i] IS NOT NULL AND left_at[i] - x < {session_gap_ms:Int64}, assumeNotNull(left_at[i]) - x, -1)), vt, arrayEnumerate(vt)) AS ms
    FROM per_person
),
views AS (
    SELECT person, rank, first, entry, exit, entry AND exit AS bounce, on_page, depth
    FROM sessions
    ARRAY JOIN ranks AS rank, firsts AS first, vt AS t, starts AS entry, ends AS exit, ms AS on_page, depths AS depth
)
SELECT
    labels[rank] AS page,
    count() AS views,
    countIf(first) AS persons,
    countIf(entry) AS entries,
    countIf(exit) AS exits,
    countIf(bounce) AS bounces,
    avgIf(on_page, on_page >= 0) / 1000 AS avg_seconds,
    quantileExactInclusiveIf(0.5)(toUInt32(on_page), on_page >= 0) / 1000 AS median_seconds,
    quantileExactInclusive(0.5)(depth) AS median_scroll_depth
FROM views
GROUP BY rank
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
