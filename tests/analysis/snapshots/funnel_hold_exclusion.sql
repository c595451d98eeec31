-- summary
WITH
step_events AS (
    SELECT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person_key, p_product_id AS hold, '' AS breakdown,
           toUnixTimestamp64Milli(ts) - {range_start_ms:Int64} AS ms, toInt64(if(event = {step_1_event:String}, 1, 0) + if(event = {step_2_event:String}, 2, 0) + if(event = {step_3_event:String}, 4, 0) + if(event = {exclusion_1_event:String}, 4294967296, 0)) AS mask
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)}
),
per_group AS (
    SELECT person_key, arraySort(groupArray(bitShiftLeft(toUInt128(ms), 33) + mask)) AS sorted, arrayMap(x -> toInt64(bitShiftRight(x, 33)), sorted) AS t, arrayMap(x -> toInt64(bitAnd(x, 8589934591)), sorted) AS m, '' AS breakdown
    FROM step_events
    WHERE mask != 0
    GROUP BY person_key, hold
),
walks AS (
    SELECT person_key, breakdown,
           arrayFold((acc, at, mask) -> (
                   arrayDistinct(arrayConcat(
                       arrayMap(c -> multiIf(
                           bitTest(mask, bitCount(c.1)),
                           (bitOr(c.1, bitShiftLeft(toInt64(1), bitCount(c.1))) AS done, c.2, at, arrayPushBack(c.4, at - c.3), if(bitCount(done) = 3, 1, 0)),
                           (bitCount(c.1) >= 1 AND bitCount(c.1) < 2 AND bitTest(mask, 32)),
                           (c.1, c.2, c.3, c.4, 2),
                           bitAnd(mask, 7) != 0,
                           (c.1, c.2, c.3, c.4, 1),
                           c),
                           arrayMap(r -> r.1, arrayFilter(r -> r.2, arrayMap(c -> (c, c.5 = 0 AND at - c.2 <= {window_ms:Int64}), acc.1) AS marked))),
                       if(bitTest(mask, 0),
                          [(toInt64(1), at, at, CAST([], 'Array(Int64)'), 0)], CAST([], 'Array(Tuple(Int64, Int64, Int64, Array(Int64), Int64))')))),
                   arrayReduce('max', arrayPushBack(arrayMap(c -> (toInt64(bitCount(c.1)), c.2 - c.3, c.2, c.4), arrayFilter(c -> c.5 != 2, arrayMap(r -> r.1, arrayFilter(r -> NOT r.2, marked)))), acc.2))),
               t, m, (CAST([], 'Array(Tuple(Int64, Int64, Int64, Array(Int64), Int64))'), (toInt64(0), toInt64(0), toInt64(0), CAST([], 'Array(Int64)')))) AS folded,
           arrayReduce('max', arrayPushBack(arrayMap(c -> (toInt64(bitCount(c.1)), c.2 - c.3, c.2, c.4), arrayFilter(c -> c.5 != 2, folded.1)), folded.2)) AS best
    FROM per_group
),
per_person AS (
    SELECT person_key, breakdown, arrayReverseSort(groupArray(best))[1] AS best
    FROM walks
    GROUP BY person_key, breakdown
    HAVING best.1 > 0
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
