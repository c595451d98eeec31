-- summary
WITH
step_events AS (
    SELECT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person_key, '' AS hold, platform AS breakdown,
           toUnixTimestamp64Milli(ts) - {range_start_ms:Int64} AS ms, toInt64(if(event = {step_1_event:String}, 1, 0) + if(event = {step_2_event:String}, 2, 0) + if(event = {step_3_event:String}, 4, 0)) AS mask
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)}
),
per_group AS (
    SELECT person_key, t, m, value, breakdown
    FROM (
        SELECT person_key, arraySort(groupArray((bitShiftLeft(toUInt64(ms), 3) + mask, breakdown))) AS sorted, arrayMap(x -> toInt64(bitShiftRight(x, 3)), sorted.1) AS t, arrayMap(x -> toInt64(bitAnd(x, 7)), sorted.1) AS m, sorted.2 AS value
        FROM step_events
        WHERE mask != 0
        GROUP BY person_key
        HAVING throwIf(count() > 4194303, 'a person has more than 4,194,303 step events in the range: filter them') = 0
    )
    ARRAY JOIN arrayDistinct(arrayFilter((v, mask) -> bitTest(mask, 0), value, m)) AS breakdown
),
step_1_chains AS (
    SELECT person_key, breakdown, t, m,
           arrayMap((ms, i) -> bitShiftLeft(ms, 22) + i, t, arrayEnumerate(t)) AS event_key,
           arrayMap((ms, mask) -> greatest(bitShiftLeft(toInt128(ms - {window_ms:Int64}), 86), 1), t, m) AS earliest,
           arrayMap((mask, e, v) -> if(bitTest(mask, 0) AND v = breakdown, bitShiftLeft(toInt128(e), 64) + e, if(bitAnd(mask, 2) != 0, -1, 0)), m, event_key, value) AS marks_1
    FROM per_group
),
step_2_chains AS (
    SELECT person_key, breakdown, t, m, event_key, earliest, marks_1,
           arrayShiftRight(arrayFill(c -> c != 0, marks_1), 1) AS waiting_1,
           arrayMap((mask, e, c, lo) -> if(bitTest(mask, 1) AND c >= lo AND bitShiftRight(e, 22) - toInt64(bitShiftRight(bitAnd(c, 18446744073709551615), 22)) <= {max_gap_ms:Int64}, bitShiftLeft(bitShiftRight(c, 64), 64) + e, if(bitAnd(mask, 4) != 0, -1, 0)), m, event_key, waiting_1, earliest) AS marks_2
    FROM step_1_chains
),
step_3_chains AS (
    SELECT person_key, breakdown, t, m, event_key, earliest, waiting_1, marks_1, marks_2,
           arrayShiftRight(arrayFill(c -> c != 0, marks_2), 1) AS waiting_2,
           arrayMap((mask, e, c, lo) -> if(bitTest(mask, 2) AND c >= lo AND bitShiftRight(e, 22) - toInt64(bitShiftRight(bitAnd(c, 18446744073709551615), 22)) <= {max_gap_ms:Int64}, bitShiftLeft(bitShiftRight(c, 64), 64) + e, 0), m, event_key, waiting_2, earliest) AS marks_3
    FROM step_2_chains
),
scored AS (
    SELECT person_key, breakdown, t, waiting_1, waiting_2,
           arrayMax(arrayMap((c1, c2, c3, e) -> if(multiIf(c3 > 0, 3, c2 > 0, 2, c1 > 0, 1, 0) > 0, bitShiftLeft(toUInt64(multiIf(c3 > 0, 3, c2 > 0, 2, c1 > 0, 1, 0)), 57) + bitShiftLeft(toUInt64(34359738367 - (bitShiftRight(e, 22) - toInt64(bitShiftRight(multiIf(c3 > 0, c3, c2 > 0, c2, c1), 86)))), 22) + bitAnd(e, 4194303), 0), marks_1, marks_2, marks_3, event_key)) AS top,
           toInt64(bitShiftRight(top, 57)) AS steps,
           toUInt32(bitAnd(top, 4194303)) AS end_at
    FROM step_3_chains
),
walks AS (
    SELECT person_key, breakdown,
           steps,
           if(steps = 3, end_at, 0) AS step_3_at,
           if(steps > 2, toUInt32(bitAnd(waiting_2[step_3_at], 4194303)), if(steps = 2, end_at, 0)) AS step_2_at,
           if(steps > 1, toUInt32(bitAnd(waiting_1[step_2_at], 4194303)), if(steps = 1, end_at, 0)) AS step_1_at,
           (steps, t[step_1_at] - t[end_at], t[step_1_at], arraySlice([t[step_2_at] - t[step_1_at], t[step_3_at] - t[step_2_at]], 1, steps - 1)) AS best
    FROM scored
),
per_person AS (
    SELECT person_key, breakdown, best
    FROM walks
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
