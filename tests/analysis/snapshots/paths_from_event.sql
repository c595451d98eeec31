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
           arraySort(groupArray(key)) AS sorted,
           arraySplit((x, gap) -> gap, sorted, arrayMap(d -> d >= {session_gap_ms:Int64}, arrayDifference(arrayMap(x -> toInt64(bitShiftRight(x, 31)), sorted)))) AS split
    FROM path_events
    GROUP BY person_key
    HAVING max(anchor) AND throwIf(length(labels) >= 1073741824, 'more than 1,073,741,823 distinct path elements: clean them') = 0
),
person_edges AS (
    -- all of a person's edges (keys of step, source, target) in one array and their ms in another, so that one pass
    -- marks each edge's and each step's first occurrence for the person: summed, those flags are the distinct
    -- persons (no hash set per edge)
    SELECT person_key, arrayMap(c -> arraySlice(c, 1, {steps:Int64}), arrayMap(c -> arrayFilter((x, same) -> NOT same, c, arrayMap((a, b, k) -> k > 1 AND a = b, arrayMap(x -> bitAnd(bitShiftRight(x, 1), 1073741823), c), arrayShiftRight(arrayMap(x -> bitAnd(bitShiftRight(x, 1), 1073741823), c), 1), arrayEnumerate(c))), arrayMap(s -> arraySlice(s, arrayFirstIndex(x -> toUInt8(bitAnd(x, 1)), s)), arrayFilter(s -> arrayExists(x -> toUInt8(bitAnd(x, 1)), s), split)))) AS paths,
           arrayMap(p -> 0, paths) AS offsets,
           arrayFlatten(arrayMap((path, offset) -> arrayMap(k -> bitShiftLeft(toUInt64(if(k = 0, 0, offset + k)), 60)
                                                                  + bitShiftLeft(toUInt64(if(k = 0, 0, bitAnd(bitShiftRight(path[k], 1), 1073741823))), 30) + bitAnd(bitShiftRight(path[k + 1], 1), 1073741823),
                                                    range(length(path))), paths, offsets)) AS edges,
           arrayFlatten(arrayMap(path -> arrayMap(k -> if(k = 0, 0, toInt64(bitShiftRight(path[k + 1], 31)) - toInt64(bitShiftRight(path[k], 31))), range(length(path))), paths)) AS edge_ms
    FROM sessions
),
transitions AS (
    SELECT person_key, edge, bitShiftRight(edge, 60) AS step, bitAnd(bitShiftRight(edge, 30), 1073741823) AS source, bitAnd(edge, 1073741823) AS target, ms, first_edge, first_step
    FROM person_edges
    ARRAY JOIN edges AS edge, edge_ms AS ms,
               arrayMap(n -> n = 1, arrayEnumerateUniq(edges)) AS first_edge,
               arrayMap(n -> n = 1, arrayEnumerateUniq(arrayMap(e -> bitShiftRight(e, 60), edges))) AS first_step
),
edges AS (
    SELECT bitShiftRight(edge, 60) AS step, bitAnd(bitShiftRight(edge, 30), 1073741823) AS source, bitAnd(edge, 1073741823) AS target, count() AS paths, countIf(first_edge) AS edge_persons, countIf(first_step) AS step_persons,
           groupArrayIf(person_key, first_edge) AS edge_person_keys, sum(ms) AS total_ms
    FROM transitions
    GROUP BY edge
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY step ORDER BY paths DESC, source, target) <= {edges_per_step:UInt64} AS kept
    FROM edges
),
listed AS (
    -- a listed edge is one row and the step total sums each person's first edge of the step: only the folded
    -- edge needs a distinct count, over its edges' persons
    SELECT step, kept AS is_kept, if(kept, labels[source], '') AS listed_source, if(kept, labels[target], '') AS listed_target,
           sum(paths) AS n_paths, sum(total_ms) AS n_ms, sum(step_persons) AS n_step_persons,
           if(kept, sum(edge_persons), uniqExactArrayIf(edge_person_keys, NOT kept)) AS n_persons
    FROM ranked
    GROUP BY step, kept, listed_source, listed_target
),
totalled AS (
    SELECT *, sum(n_paths) OVER per_step AS s_paths, sum(n_ms) OVER per_step AS s_ms, sum(n_step_persons) OVER per_step AS s_persons,
           row_number() OVER per_step AS nth
    FROM listed
    WINDOW per_step AS (PARTITION BY step)
)
-- each step's total is one more row, summed over its few listed rows (not a GROUPING SETS (step) set over `ranked`)
SELECT step, if(step_total, false, is_kept) AS kept, if(step_total, '', listed_source) AS edge_source, if(step_total, '', listed_target) AS edge_target,
       step_total, if(step_total, s_paths, n_paths) AS edge_count, if(step_total, s_ms, n_ms) / edge_count AS avg_ms,
       if(step_total, s_persons, n_persons) AS persons
FROM totalled
ARRAY JOIN if(nth = 1, [false, true], [false]) AS step_total
ORDER BY step, step_total DESC, kept DESC, edge_count DESC, edge_source, edge_target
