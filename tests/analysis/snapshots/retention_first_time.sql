-- cohorts
WITH
rows AS (
    SELECT dictGetOrDefault('oneid_dict', 'oneid', person_id, if(oneid != '', oneid, person_id)) AS person, ts, toDate(ts, {tz:String}) AS period,
           event = {initial_event:String} AS is_initial, event = {return_event:String} AS is_return, ts >= fromUnixTimestamp64Milli({cohort_from:Int64}) AND ts < fromUnixTimestamp64Milli({cohort_to:Int64}) AS in_range
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)}
),
per_person AS (
    SELECT person, if(minIf(ts, is_initial) = minIf(ts, is_initial AND in_range), [argMinIf(period, ts, is_initial)], []) AS cohorts, groupUniqArrayIf(period, is_return) AS returns
    FROM rows
    GROUP BY person
    HAVING countIf(is_initial AND in_range) > 0
)
SELECT
    cohort,
    count() AS persons,
    sumForEach(arrayMap(k -> toUInt64(has(returns, addDays(cohort, k))), range(1, {periods:UInt32} + 1))) AS returned
FROM per_person
ARRAY JOIN cohorts AS cohort
GROUP BY cohort
ORDER BY cohort
