-- summary
WITH
step_events AS (
    SELECT dictGetOrDefault('oneid_dict', 'oneid', person_id, if(oneid != '', oneid, person_id)) AS person, p_product_id AS hold, '' AS breakdown,
           toUnixTimestamp64Milli(ts) AS t, toInt64(if(event = {step_1_event:String}, 1, 0) + if(event = {step_2_event:String}, 2, 0) + if(event = {step_3_event:String}, 4, 0) + if(event = {exclusion_1_event:String}, 4294967296, 0)) AS mask
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)}
),
per_group AS (
    SELECT person, arraySort(groupArray((t, mask, breakdown))) AS evs
    FROM step_events
    WHERE mask != 0
    GROUP BY person, hold
),
attempts AS (
    SELECT person, attempt.1 AS breakdown, attempt.2 AS start_ms, attempt.3 AS run
    FROM per_group
    ARRAY JOIN arrayMap(i -> (evs[i].3, evs[i].1, arrayFold((acc, x) -> multiIf(
                    acc.4 != 0 OR acc.1 = 3 OR x.1 - evs[i].1 > {window_ms:Int64},
                    acc,
                    bitTest(x.2, acc.1) AND (acc.1 = 0 OR (x.1 - acc.2 >= {min_gap_ms:Int64} AND x.1 - acc.2 <= {max_gap_ms:Int64})),
                    (acc.1 + 1, x.1, if(acc.1 = 0, acc.3, arrayPushBack(acc.3, x.1 - acc.2)), toInt64(0), bitOr(acc.5, bitShiftLeft(toInt64(1), acc.1))),
                    (acc.1 >= 1 AND acc.1 < 2 AND bitTest(x.2, 32)),
                    (acc.1, acc.2, acc.3, toInt64(2), acc.5),
                    acc.1 >= 1 AND bitAnd(x.2, 7) != 0,
                    (acc.1, acc.2, acc.3, toInt64(1), acc.5),
                    acc),
                arraySlice(evs, i), (toInt64(0), evs[i].1, CAST([], 'Array(Int64)'), toInt64(0), toInt64(0)))),
                        arrayFilter(i -> bitTest(evs[i].2, 0) AND NOT (i < length(evs) AND bitTest(evs[i + 1].2, 0) AND NOT bitTest(evs[i + 1].2, 1) AND evs[i + 1].3 = evs[i].3), arrayEnumerate(evs))) AS attempt
),
per_person AS (
    SELECT person, breakdown, max((if(run.4 = 2, 0, run.1), -arraySum(run.3), start_ms, run.3)) AS best
    FROM attempts
    GROUP BY person, breakdown
    HAVING best.1 > 0
)
SELECT
    breakdown,
    sumForEach(arrayMap(k -> toUInt64(best.1 >= k), range(1, 4))) AS step_persons,
    avgForEach(best.4) AS gap_avg_ms,
    quantilesExactInclusiveForEach(0.5, 0.9)(best.4) AS gap_quantiles_ms,
    quantilesExactInclusiveIf(0.5, 0.9)(-best.2, best.1 = 3) AS total_quantiles_ms,
    sumForEach(arrayMap(i -> toUInt64(best.1 = 3 AND -best.2 >= {histogram_edges_ms:Array(Int64)}[i] AND (i = length({histogram_edges_ms:Array(Int64)}) OR -best.2 < {histogram_edges_ms:Array(Int64)}[i + 1])), arrayEnumerate({histogram_edges_ms:Array(Int64)}))) AS histogram,
    sumMap([toDate(fromUnixTimestamp64Milli(best.3), {tz:String})], [toUInt64(1)]) AS entered_by_day,
    sumMap([toDate(fromUnixTimestamp64Milli(best.3), {tz:String})], [toUInt64(best.1 = 3)]) AS converted_by_day
FROM per_person
GROUP BY breakdown
ORDER BY step_persons[1] DESC, breakdown
