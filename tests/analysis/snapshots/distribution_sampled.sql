-- distribution
WITH per_person AS (
    SELECT dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) AS person, toFloat64(ifNull(count(), 0)) AS value
    FROM events
    WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)} AND dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash)) % 10000 < {sample_per_10k:UInt32} AND event = {event:String}
    GROUP BY person
)
SELECT
    count() AS persons,
    avg(value) AS mean,
    quantilesExactInclusive(0.1, 0.25, 0.5, 0.75, 0.9)(value) AS quantiles,
    sumForEach(arrayMap(i -> toUInt64(value >= {bucket_edges:Array(Float64)}[i] AND (i = length({bucket_edges:Array(Float64)}) OR value < {bucket_edges:Array(Float64)}[i + 1])), arrayEnumerate({bucket_edges:Array(Float64)}))) AS histogram
FROM per_person
