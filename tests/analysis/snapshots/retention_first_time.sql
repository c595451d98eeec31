-- cohorts
WITH
rows AS (
    SELECT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person_key, ts, toDate(ts, {tz:String}) AS period,
           event = {initial_event:String} AS is_initial, event = {return_event:String} AS is_return, ts >= fromUnixTimestamp64Milli({cohort_from:Int64}) AND ts < fromUnixTimestamp64Milli({cohort_to:Int64}) AS in_range
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)}
),
per_person AS (
    SELECT person_key, if(minIf(ts, is_initial) = minIf(ts, is_initial AND in_range), [argMinIf(period, ts, is_initial)], []) AS cohorts, groupUniqArrayIf(period, is_return) AS returns
    FROM rows
    GROUP BY person_key
    HAVING countIf(is_initial AND in_range) > 0
)
SELECT
    cohort,
    count() AS persons,
    sumMap(arrayFilter(k -> k BETWEEN 1 AND {periods:UInt32}, arrayMap(r -> dateDiff('day', cohort, r), returns)) AS returned_after, arrayMap(k -> toUInt64(1), returned_after)) AS returned
FROM per_person
ARRAY JOIN cohorts AS cohort
GROUP BY cohort
ORDER BY cohort
