-- series
SELECT
    toString(toStartOfDay(ts, {tz:String})) AS bucket,
    platform AS group_1,
    ifNull(sumIf(toFloat64OrNull(props[{prop:String}]), event = {metric_1_event:String}), 0) AS metric_1
FROM events
WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)}
GROUP BY bucket, group_1
ORDER BY bucket, group_1
LIMIT {max_rows:UInt64}
