-- summary
WITH
step_events AS (
    SELECT cityHash64(dictGetOrDefault('oneid_dict', 'oneid', person_id, if(oneid != '', oneid, person_id))) AS person_key, '' AS hold, platform AS breakdown,
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
        GROUP BY person_key, hold
        HAVING throwIf(count() > 4194303, 'a person has more than 4,194,303 step events in the range: filter them') = 0
    )
    ARRAY JOIN arrayDistinct(arrayFilter((v, mask) -> bitTest(mask, 0), value, m)) AS breakdown
),
step_1_chains AS (
    SELECT person_key, breakdown, t, m,
           arrayMap((ms, i) -> bitShiftLeft(ms, 22) + i, t, arrayEnumerate(t)) AS event_key,
           arrayMap((mask, e, v) -> if(bitTest(mask, 0) AND v = breakdown, e, 0), m, event_key, value) AS started_1
    FROM per_group
),
step_2_chains AS (
    SELECT person_key, breakdown, t, m, event_key, started_1,
           arrayPushFront(arrayPopBack(arrayFill(w -> w != 0, arrayMap((s, e, mask) -> if(s != 0, bitShiftLeft(toInt128(s), 64) + e, if(bitTest(mask, 1), -1, 0)), started_1, event_key, m))), 0) AS waiting_1,
           arrayMap((mask, e, w) -> if(bitTest(mask, 1) AND w > 0 AND bitShiftRight(e, 22) - bitShiftRight(toInt64(bitShiftRight(w, 64)), 22) <= {window_ms:Int64} AND bitShiftRight(e, 22) - bitShiftRight(toInt64(bitAnd(w, 18446744073709551615)), 22) <= {max_gap_ms:Int64}, toInt64(bitShiftRight(w, 64)), 0),
                    m, event_key, waiting_1) AS started_2
    FROM step_1_chains
),
step_3_chains AS (
    SELECT person_key, breakdown, t, m, event_key, waiting_1, started_1, started_2,
           arrayPushFront(arrayPopBack(arrayFill(w -> w != 0, arrayMap((s, e, mask) -> if(s != 0, bitShiftLeft(toInt128(s), 64) + e, if(bitTest(mask, 2), -1, 0)), started_2, event_key, m))), 0) AS waiting_2,
           arrayMap((mask, e, w) -> if(bitTest(mask, 2) AND w > 0 AND bitShiftRight(e, 22) - bitShiftRight(toInt64(bitShiftRight(w, 64)), 22) <= {window_ms:Int64} AND bitShiftRight(e, 22) - bitShiftRight(toInt64(bitAnd(w, 18446744073709551615)), 22) <= {max_gap_ms:Int64}, toInt64(bitShiftRight(w, 64)), 0),
                    m, event_key, waiting_2) AS started_3
    FROM step_2_chains
),
walks AS (
    SELECT person_key, breakdown,
           toInt64(arrayMax(started_1) != 0) + toInt64(arrayMax(started_2) != 0) + toInt64(arrayMax(started_3) != 0) AS steps,
           arrayMax(arrayMap((s, e) -> if(s != 0, bitShiftLeft(toUInt128(1099511627775 - (bitShiftRight(e, 22) - bitShiftRight(s, 22))), 85) + bitShiftLeft(toUInt128(s), 22) + toUInt32(bitAnd(e, 4194303)), 0), [started_1, started_2, started_3][greatest(steps, 1)], event_key)) AS best_score,
           if(steps = 3, event_key[toUInt32(bitAnd(best_score, 4194303))], 0) AS step_3_key,
           if(steps > 2, toInt64(bitAnd(waiting_2[toUInt32(bitAnd(step_3_key, 4194303))], 18446744073709551615)), if(steps = 2, event_key[toUInt32(bitAnd(best_score, 4194303))], 0)) AS step_2_key,
           if(steps > 1, toInt64(bitAnd(waiting_1[toUInt32(bitAnd(step_2_key, 4194303))], 18446744073709551615)), if(steps = 1, event_key[toUInt32(bitAnd(best_score, 4194303))], 0)) AS step_1_key,
           (steps, bitShiftRight(step_1_key, 22) - t[toUInt32(bitAnd(best_score, 4194303))], bitShiftRight(step_1_key, 22), arraySlice([bitShiftRight(step_2_key, 22) - bitShiftRight(step_1_key, 22), bitShiftRight(step_3_key, 22) - bitShiftRight(step_2_key, 22)], 1, steps - 1)) AS best
    FROM step_3_chains
),
per_person AS (
    SELECT person_key, breakdown, best
    FROM walks
    WHERE best.1 > 0
)
SELECT
    breakdown,
    sumForEach(arrayMap(k -> toUInt64(best.1 >= k), range(1, 4))) AS step_persons,
    avgForEach(best.4) AS gap_avg_ms,
    quantilesExactInclusiveForEach(0.5, 0.9)(best.4) AS gap_quantiles_ms,
    quantilesExactInclusiveIf(0.5, 0.9)(-best.2, best.1 = 3) AS total_quantiles_ms,
    sumMap([least(intDiv(-best.2, {histogram_bin_ms:Int64}), 9)], [toUInt64(best.1 = 3)]) AS histogram,
    sumMap([toDate(fromUnixTimestamp64Milli(best.3 + {range_start_ms:Int64}), {tz:String})], [toUInt64(1)], [toUInt64(best.1 = 3)]) AS by_day
FROM per_person
GROUP BY breakdown
ORDER BY step_persons[1] DESC, breakdown
