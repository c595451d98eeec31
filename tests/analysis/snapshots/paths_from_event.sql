-- edges
WITH
(SELECT arraySort(groupUniqArray(toString(event))) FROM events WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)}) AS labels,
path_events AS (
    SELECT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person_key, event = {anchor_event:String} AS anchor,
           bitShiftLeft(toUInt64(toUnixTimestamp64Milli(ts) - {range_start_ms:Int64}), 31) + bitShiftLeft(toUInt64(transform(toString(event), labels, arrayEnumerate(labels), toUInt32(0))), 1) + anchor AS key
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)}
),
sessions AS (
    SELECT person_key,
           arrayMap(k -> (toInt64(bitShiftRight(k, 31)), toUInt32(bitAnd(bitShiftRight(k, 1), 1073741823)), toUInt8(bitAnd(k, 1))),
                    arraySort(groupArray(key))) AS sorted,
           arraySplit((x, gap) -> gap, sorted, arrayMap(d -> d >= {session_gap_ms:Int64}, arrayDifference(sorted.1))) AS split
    FROM path_events
    GROUP BY person_key
    HAVING max(anchor) AND throwIf(length(labels) >= 1073741824, 'more than 1,073,741,823 distinct path elements: clean them') = 0
),
paths AS (
    SELECT person_key, arraySlice(session, arrayFirstIndex(x -> x.3, session)) AS cut, arrayFilter((x, same) -> NOT same, cut, arrayMap((a, b, k) -> k > 1 AND a = b, cut.2, arrayShiftRight(cut.2, 1), arrayEnumerate(cut))) AS collapsed, arraySlice(collapsed, 1, {steps:Int64}) AS path, 0 AS offset
    FROM sessions
    ARRAY JOIN split AS session
    WHERE arrayExists(x -> x.3, session)
),
transitions AS (
    SELECT person_key, if(k = 0, 0, offset + k) AS step, if(k = 0, 0, path[k].2) AS source, path[k + 1].2 AS target,
           if(k = 0, 0, path[k + 1].1 - path[k].1) AS ms
    FROM paths
    ARRAY JOIN range(length(path)) AS k
),
edges AS (
    SELECT step, source, target, count() AS paths, uniqExactState(person_key) AS persons_state, sum(ms) AS total_ms
    FROM transitions
    GROUP BY step, source, target
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY step ORDER BY paths DESC, source, target) <= {edges_per_step:UInt64} AS kept
    FROM edges
)
SELECT step, kept, if(kept, labels[source], '') AS edge_source, if(kept, labels[target], '') AS edge_target, grouping(kept) = 1 AS step_total,
       sum(paths) AS edge_count, uniqExactMerge(persons_state) AS persons, sum(total_ms) / sum(paths) AS avg_ms
FROM ranked
GROUP BY GROUPING SETS ((step, kept, edge_source, edge_target), (step))
ORDER BY step, step_total DESC, kept DESC, edge_count DESC, edge_source, edge_target
