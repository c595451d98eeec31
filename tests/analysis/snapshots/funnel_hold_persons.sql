-- summary
WITH
step_events AS (
    SELECT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person_key, p_product_id AS hold, '' AS breakdown,
           toUnixTimestamp64Milli(ts) - {range_start_ms:Int64} AS ms, toInt64(if(event = {step_1_event:String}, 1, 0) + if(event = {step_2_event:String}, 2, 0) + if(event = {step_3_event:String}, 4, 0)) AS mask
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)}
),
person_events AS (
    SELECT person_key, arraySort(groupArray(bitShiftLeft(toUInt128(bitShiftRight(cityHash64(hold), 5)), 42) + bitShiftLeft(toUInt128(ms), 3) + mask)) AS sorted, arrayMap(x -> toInt64(bitAnd(bitShiftRight(x, 3), 549755813887)), sorted) AS t, arrayMap(x -> toUInt64(bitShiftRight(x, 42)), sorted) AS held, arrayMap((x, a, b) -> toInt64(bitAnd(x, 7)) + if(a != b, 1073741824, 0), sorted, held, arrayShiftRight(held, 1)) AS m, '' AS breakdown,
           arrayExists(x -> bitAnd(x, 1073741826) = 2, m) AS walked,
           max(if(bitTest(mask, 0), ms, -1)) AS latest_start, latest_start >= 0 AS started
    FROM step_events
    WHERE mask != 0
    GROUP BY person_key
    HAVING throwIf(count() > 4194303, 'a person has more than 4,194,303 step events in the range: filter them') = 0
),
per_group AS (
    SELECT group_key AS person_key, t, m, breakdown, bypassed
    FROM (
        SELECT if(walked, person_key, 0) AS group_key, if(group_key = 0, [], any(t)) AS t, if(group_key = 0, [], any(m)) AS m,
               '' AS breakdown, groupArrayIf(latest_start, started AND NOT walked) AS bypassed
        FROM person_events
        GROUP BY group_key
    )
),
step_1_chains AS (
    SELECT person_key, bypassed, breakdown, t, m,
           arrayMap((ms, i) -> bitShiftLeft(ms, 22) + i, t, arrayEnumerate(t)) AS event_key,
           arrayMap((ms, mask) -> if(bitTest(mask, 30), 9223372036854775807, greatest(bitShiftLeft(ms - {window_ms:Int64}, 22), 1)), t, m) AS earliest,
           arrayMap((mask, e) -> if(bitTest(mask, 0), e, if(bitAnd(mask, 1073741826) != 0, -1, 0)), m, event_key) AS marks_1
    FROM per_group
),
step_2_chains AS (
    SELECT person_key, bypassed, breakdown, t, m, event_key, earliest, marks_1,
           arrayShiftRight(arrayFill(c -> c != 0, marks_1), 1) AS waiting_1,
           arrayMap((mask, e, c, lo) -> if(bitTest(mask, 1) AND c >= lo, bitAnd(c, -4194304) + bitAnd(e, 4194303), if(bitAnd(mask, 1073741828) != 0, -1, 0)), m, event_key, waiting_1, earliest) AS marks_2
    FROM step_1_chains
),
step_3_chains AS (
    SELECT person_key, bypassed, breakdown, t, m, event_key, earliest, waiting_1, marks_1, marks_2,
           arrayShiftRight(arrayFill(c -> c != 0, marks_2), 1) AS waiting_2,
           arrayMap((mask, e, c, lo) -> if(bitTest(mask, 2) AND c >= lo, bitAnd(c, -4194304) + bitAnd(e, 4194303), 0), m, event_key, waiting_2, earliest) AS marks_3
    FROM step_2_chains
),
walks AS (
    SELECT person_key, bypassed, breakdown,
           toInt64(arrayMax(marks_1) > 0) + toInt64(arrayMax(marks_2) > 0) + toInt64(arrayMax(marks_3) > 0) AS steps,
           [[], marks_2, marks_3][steps] AS furthest,
           arrayMap((c, e) -> if(c > 0, bitShiftLeft(toUInt128(34359738367 - (bitShiftRight(e, 22) - toInt64(bitShiftRight(c, 22)))), 61) + bitShiftLeft(toUInt128(toInt64(bitShiftRight(c, 22))), 22) + bitAnd(e, 4194303), 0), furthest, arraySlice(event_key, 1, length(furthest))) AS scores,
           arrayMax(scores) AS top,
           arrayMap(s -> toUInt32(bitAnd(s, 4194303)), arrayFilter(s -> s > 0 AND bitShiftRight(s, 22) = bitShiftRight(top, 22), scores)) AS ends,
           arrayMap(p -> ([p * (steps = 3)], steps, p), ends) AS walk_3,
           arrayMap(x -> (arrayPushFront(x.1, toUInt32(bitAnd(waiting_2[x.1[1]], 4194303)) + x.3 * (x.2 = 2)), x.2, x.3), walk_3) AS walk_2,
           arrayMap(x -> (arrayPushFront(x.1, toUInt32(bitAnd(waiting_1[x.1[1]], 4194303)) + x.3 * (x.2 = 1)), x.2, x.3), walk_2) AS walk_1,
           arrayReverseSort(arrayMap(x -> arrayMap(q -> t[q], x.1), walk_1))[1] AS step_times,
           if(steps >= 2, step_times[1], toInt64(bitShiftRight(arrayMax(marks_1), 22))) AS start,
           (steps, step_times[1] - step_times[steps], start, arraySlice(arrayDifference(step_times), 2, steps - 1)) AS best
    FROM step_3_chains
),
per_person AS (
    SELECT breakdown, best
    FROM walks
    ARRAY JOIN if(walks.person_key = 0, arrayMap(start -> (toInt64(1), toInt64(0), start, CAST([], 'Array(Int64)')), bypassed), [walks.best]) AS best
    WHERE best.1 > 0
)
SELECT
    breakdown,
    countResample(1, 4, 1)(best.1) AS persons_by_steps_done,
    avgForEach(best.4) AS gap_avg_ms,
    quantilesExactInclusiveForEach(0.5, 0.9)(best.4) AS gap_quantiles_ms,
    quantilesExactInclusiveIf(0.5, 0.9)(-best.2, best.1 = 3) AS total_quantiles_ms,
    sumResample(0, 10, 1)(toUInt64(best.1 = 3), least(intDiv(-best.2, {histogram_bin_ms:Int64}), 9)) AS histogram,
    countResample(0, 15, 1)(toRelativeDayNum(toDate(fromUnixTimestamp64Milli(best.3 + {range_start_ms:Int64}), {tz:String})) - toRelativeDayNum({first_day:Date})) AS entered_by_day,
    sumResample(0, 15, 1)(toUInt64(best.1 = 3), toRelativeDayNum(toDate(fromUnixTimestamp64Milli(best.3 + {range_start_ms:Int64}), {tz:String})) - toRelativeDayNum({first_day:Date})) AS converted_by_day
FROM per_person
GROUP BY breakdown
ORDER BY count() DESC, breakdown
SETTINGS short_circuit_function_evaluation = 'disable'
-- persons
SELECT any(dictGetOrDefault('oneid_dict', 'oneid', person_id, if(oneid != '', oneid, person_id))) AS person, max(ts) AS last_seen, argMax(tuple(platform, os, os_version, browser, browser_version, device_model, device_brand, app_version, network_type, carrier, utm_source, utm_medium, utm_campaign, referrer_domain, screen_width, screen_height), ts) AS latest
FROM events
WHERE app_id = {app_id_2:String} AND ts >= fromUnixTimestamp64Milli({time_from_2:Int64}) AND ts < fromUnixTimestamp64Milli({time_to_2:Int64}) AND event IN {events_2:Array(String)} AND dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) IN (

WITH
step_events AS (
    SELECT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person_key, p_product_id AS hold, '' AS breakdown,
           toUnixTimestamp64Milli(ts) - {range_start_ms:Int64} AS ms, toInt64(if(event = {step_1_event:String}, 1, 0) + if(event = {step_2_event:String}, 2, 0) + if(event = {step_3_event:String}, 4, 0)) AS mask
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)}
),
person_events AS (
    SELECT person_key, arraySort(groupArray(bitShiftLeft(toUInt128(bitShiftRight(cityHash64(hold), 5)), 42) + bitShiftLeft(toUInt128(ms), 3) + mask)) AS sorted, arrayMap(x -> toInt64(bitAnd(bitShiftRight(x, 3), 549755813887)), sorted) AS t, arrayMap(x -> toUInt64(bitShiftRight(x, 42)), sorted) AS held, arrayMap((x, a, b) -> toInt64(bitAnd(x, 7)) + if(a != b, 1073741824, 0), sorted, held, arrayShiftRight(held, 1)) AS m, '' AS breakdown,
           arrayExists(x -> bitAnd(x, 1073741826) = 2, m) AS walked,
           max(if(bitTest(mask, 0), ms, -1)) AS latest_start, latest_start >= 0 AS started
    FROM step_events
    WHERE mask != 0
    GROUP BY person_key
    HAVING throwIf(count() > 4194303, 'a person has more than 4,194,303 step events in the range: filter them') = 0
),
per_group AS (
    SELECT group_key AS person_key, t, m, breakdown, bypassed
    FROM (
        SELECT if(walked, person_key, 0) AS group_key, if(group_key = 0, [], any(t)) AS t, if(group_key = 0, [], any(m)) AS m,
               '' AS breakdown, groupArrayIf((person_key, latest_start), started AND NOT walked) AS bypassed
        FROM person_events
        GROUP BY group_key
    )
),
step_1_chains AS (
    SELECT person_key, bypassed, breakdown, t, m,
           arrayMap((ms, i) -> bitShiftLeft(ms, 22) + i, t, arrayEnumerate(t)) AS event_key,
           arrayMap((ms, mask) -> if(bitTest(mask, 30), 9223372036854775807, greatest(bitShiftLeft(ms - {window_ms:Int64}, 22), 1)), t, m) AS earliest,
           arrayMap((mask, e) -> if(bitTest(mask, 0), e, if(bitAnd(mask, 1073741826) != 0, -1, 0)), m, event_key) AS marks_1
    FROM per_group
),
step_2_chains AS (
    SELECT person_key, bypassed, breakdown, t, m, event_key, earliest, marks_1,
           arrayShiftRight(arrayFill(c -> c != 0, marks_1), 1) AS waiting_1,
           arrayMap((mask, e, c, lo) -> if(bitTest(mask, 1) AND c >= lo, bitAnd(c, -4194304) + bitAnd(e, 4194303), if(bitAnd(mask, 1073741828) != 0, -1, 0)), m, event_key, waiting_1, earliest) AS marks_2
    FROM step_1_chains
),
step_3_chains AS (
    SELECT person_key, bypassed, breakdown, t, m, event_key, earliest, waiting_1, marks_1, marks_2,
           arrayShiftRight(arrayFill(c -> c != 0, marks_2), 1) AS waiting_2,
           arrayMap((mask, e, c, lo) -> if(bitTest(mask, 2) AND c >= lo, bitAnd(c, -4194304) + bitAnd(e, 4194303), 0), m, event_key, waiting_2, earliest) AS marks_3
    FROM step_2_chains
),
walks AS (
    SELECT person_key, bypassed, breakdown,
           toInt64(arrayMax(marks_1) > 0) + toInt64(arrayMax(marks_2) > 0) + toInt64(arrayMax(marks_3) > 0) AS steps,
           [[], marks_2, marks_3][steps] AS furthest,
           arrayMap((c, e) -> if(c > 0, bitShiftLeft(toUInt128(34359738367 - (bitShiftRight(e, 22) - toInt64(bitShiftRight(c, 22)))), 61) + bitShiftLeft(toUInt128(toInt64(bitShiftRight(c, 22))), 22) + bitAnd(e, 4194303), 0), furthest, arraySlice(event_key, 1, length(furthest))) AS scores,
           arrayMax(scores) AS top,
           arrayMap(s -> toUInt32(bitAnd(s, 4194303)), arrayFilter(s -> s > 0 AND bitShiftRight(s, 22) = bitShiftRight(top, 22), scores)) AS ends,
           arrayMap(p -> ([p * (steps = 3)], steps, p), ends) AS walk_3,
           arrayMap(x -> (arrayPushFront(x.1, toUInt32(bitAnd(waiting_2[x.1[1]], 4194303)) + x.3 * (x.2 = 2)), x.2, x.3), walk_3) AS walk_2,
           arrayMap(x -> (arrayPushFront(x.1, toUInt32(bitAnd(waiting_1[x.1[1]], 4194303)) + x.3 * (x.2 = 1)), x.2, x.3), walk_2) AS walk_1,
           arrayReverseSort(arrayMap(x -> arrayMap(q -> t[q], x.1), walk_1))[1] AS step_times,
           if(steps >= 2, step_times[1], toInt64(bitShiftRight(arrayMax(marks_1), 22))) AS start,
           (steps, step_times[1] - step_times[steps], start, arraySlice(arrayDifference(step_times), 2, steps - 1)) AS best
    FROM step_3_chains
),
per_person AS (
    SELECT each.1 AS person_key, breakdown, each.2 AS best
    FROM walks
    ARRAY JOIN if(walks.person_key = 0, arrayMap(b -> (b.1, (toInt64(1), toInt64(0), b.2, CAST([], 'Array(Int64)'))), bypassed), [(walks.person_key, walks.best)]) AS each
    WHERE best.1 > 0
)
SELECT person_key
FROM per_person

GROUP BY person_key
HAVING max(best.1) = {step:Int64} - 1
ORDER BY person_key LIMIT {limit:UInt64} OFFSET {offset:UInt64}
SETTINGS short_circuit_function_evaluation = 'disable'
)
GROUP BY dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash))
ORDER BY person
