-- summary
WITH
step_events AS (
    SELECT dictGetOrDefault('oneid_dict', 'oneid', person_id, if(oneid != '', oneid, person_id)) AS person, '' AS hold, platform AS breakdown,
           toUnixTimestamp64Milli(ts) AS ms, toInt64(if(event = {step_1_event:String}, 1, 0) + if(event = {step_2_event:String}, 2, 0) + if(event = {step_3_event:String}, 4, 0)) AS mask
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)}
),
per_group AS (
    SELECT person, t, m, value, breakdown
    FROM (
        SELECT person, arraySort(groupArray((bitShiftLeft(toUInt128(ms), 64) + mask, breakdown))) AS sorted, arrayMap(x -> toInt64(bitShiftRight(x, 64)), sorted.1) AS t, arrayMap(x -> toInt64(toUInt64(x)), sorted.1) AS m, sorted.2 AS value
        FROM step_events
        WHERE mask != 0
        GROUP BY person, hold
    )
    ARRAY JOIN arrayDistinct(arrayFilter((v, mask) -> bitTest(mask, 0), value, m)) AS breakdown
),
walks AS (
    SELECT person, breakdown,
           range(1, least(3, length(m))) AS later_steps,
           arrayMap(k -> arrayReverseFill(p -> p != 0, arrayMap((mask, i) -> if(bitTest(mask, k), i, 0), m, arrayEnumerate(m))), later_steps) AS next_step,
           arrayReverseFill(p -> p != 0, arrayMap(i -> if(bitTest(m[i], 0) AND value[i] = breakdown, i, 0), arrayEnumerate(m))) AS next_start,
           arrayFilter(i -> next_start[i] = i AND (next_start[i + 1] = 0 OR next_step[1][i + 1] BETWEEN 1 AND next_start[i + 1]),
                       arrayEnumerate(m)) AS starts,
           arrayFold((reached, k) -> arrayMap(
                   (s, r) -> if(r.2 = k AND (next_step[k][r.1 + 1] AS q) != 0 AND t[q] - t[s] <= {window_ms:Int64} AND t[q] - t[r.1] <= {max_gap_ms:Int64}, (q, toUInt32(k + 1)), r),
                   starts, reached),
               later_steps, arrayMap(s -> (s, toUInt32(1)), starts)) AS reached,
           arrayMap((s, r) -> r.2 * 68719476736 - (t[r.1] - t[s]), starts, reached) AS rank,
           arrayMax(rank) AS top_rank,
           arrayLastIndex(x -> x = top_rank, rank) AS top,
           arrayFold((path, k) -> arrayPushBack(path, next_step[k][path[-1] + 1]), range(1, reached[top].2), [starts[top]]) AS path,
           (toInt64(reached[top].2), t[path[1]] - t[path[-1]], t[path[1]], arrayPopFront(arrayDifference(arrayMap(p -> t[p], path)))) AS best
    FROM per_group
),
per_person AS (
    SELECT person, breakdown, best
    FROM walks
    WHERE best.1 > 0
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
