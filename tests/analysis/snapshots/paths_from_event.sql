-- edges
WITH
(SELECT arraySort(groupUniqArray(toString(raw))) FROM (SELECT event AS raw FROM events WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)} GROUP BY raw)) AS labels,
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
person_edges AS (
    -- all of a person's edges (step, source, target, ms) in one array, so that one pass marks each edge's and each
    -- step's first occurrence for the person: summed, those flags are the distinct persons (no hash set per edge)
    SELECT person_key, arrayMap(c -> arraySlice(c, 1, {steps:Int64}), arrayMap(c -> arrayFilter((x, same) -> NOT same, c, arrayMap((a, b, k) -> k > 1 AND a = b, c.2, arrayShiftRight(c.2, 1), arrayEnumerate(c))), arrayMap(s -> arraySlice(s, arrayFirstIndex(x -> x.3, s)), arrayFilter(s -> arrayExists(x -> x.3, s), split)))) AS paths,
           arrayMap(p -> 0, paths) AS offsets,
           arrayFlatten(arrayMap((path, offset) -> arrayMap(k -> (if(k = 0, 0, offset + k), if(k = 0, 0, path[k].2), path[k + 1].2,
                                                                  if(k = 0, 0, path[k + 1].1 - path[k].1)), range(length(path))), paths, offsets)) AS edges
    FROM sessions
),
transitions AS (
    SELECT person_key, e.1 AS step, e.2 AS source, e.3 AS target, e.4 AS ms, first_edge, first_step
    FROM person_edges
    ARRAY JOIN edges AS e,
               arrayMap(n -> n = 1, arrayEnumerateUniq(edges.1, edges.2, edges.3)) AS first_edge,
               arrayMap(n -> n = 1, arrayEnumerateUniq(edges.1)) AS first_step
),
edges AS (
    SELECT step, source, target, count() AS paths, countIf(first_edge) AS edge_persons, countIf(first_step) AS step_persons,
           groupArrayIf(person_key, first_edge) AS edge_person_keys, sum(ms) AS total_ms
    FROM transitions
    GROUP BY step, source, target
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY step ORDER BY paths DESC, source, target) <= {edges_per_step:UInt64} AS kept
    FROM edges
)
SELECT step, kept, if(kept, labels[source], '') AS edge_source, if(kept, labels[target], '') AS edge_target, grouping(kept) = 1 AS step_total,
       sum(paths) AS edge_count, sum(total_ms) / sum(paths) AS avg_ms,
       -- a listed edge is one row and the step total sums each person's first edge of the step: only the folded
       -- edge needs a distinct count, over its edges' persons
       multiIf(step_total, sum(step_persons), kept, sum(edge_persons), uniqExactArrayIf(edge_person_keys, NOT kept)) AS persons
FROM ranked
GROUP BY GROUPING SETS ((step, kept, edge_source, edge_target), (step))
ORDER BY step, step_total DESC, kept DESC, edge_count DESC, edge_source, edge_target
