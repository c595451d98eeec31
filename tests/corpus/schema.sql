-- Tables the query corpus runs against (database `corpus`). Shapes follow Trackflow's detail layer (events,
-- users, sessions, orders) and the published benchmark schemas the corpus borrows queries from: ClickBench `hits`
-- (subset of columns its queries use), the Star Schema Benchmark's denormalised `lineorder_flat` and the
-- `ontime` airline dataset, as in the ClickHouse documentation.
CREATE TABLE corpus.events (
    event_id UUID, event LowCardinality(String), app_id LowCardinality(String), ts DateTime64(3, 'UTC'),
    person_id String, session_id String, platform LowCardinality(String), url String, referrer String,
    title String, os LowCardinality(String), browser LowCardinality(String), device_type LowCardinality(String),
    app_version LowCardinality(String), country LowCardinality(String), city String, props Map(String, String),
    revenue Float64, duration_ms UInt32, tags Array(String), ids Map(LowCardinality(String), String)
) ENGINE = ReplacingMergeTree PARTITION BY toDate(ts) ORDER BY (app_id, event, toDate(ts), cityHash64(person_id), event_id)
SAMPLE BY cityHash64(person_id);
CREATE TABLE corpus.users (
    person_id String, oneid String, signup_at DateTime, country LowCardinality(String), plan LowCardinality(String),
    is_paying UInt8, ltv Float64, tags Array(String), attrs Map(String, String)
) ENGINE = ReplacingMergeTree ORDER BY person_id;
CREATE TABLE corpus.sessions (
    session_id String, person_id String, started_at DateTime64(3, 'UTC'), ended_at DateTime64(3, 'UTC'),
    pages UInt16, entry_url String, exit_url String, channel LowCardinality(String), is_bounce UInt8
) ENGINE = MergeTree ORDER BY (person_id, started_at);
CREATE TABLE corpus.orders (
    order_id UInt64, person_id String, created_at DateTime, amount Decimal(12, 2), currency LowCardinality(String),
    status LowCardinality(String), items Array(String), coupon Nullable(String)
) ENGINE = MergeTree ORDER BY (created_at, order_id);
CREATE TABLE corpus.products (
    sku String, name String, category LowCardinality(String), price Float64
) ENGINE = MergeTree ORDER BY sku;
CREATE TABLE corpus.geo (
    country String, region String, currency String
) ENGINE = MergeTree ORDER BY country;
CREATE DICTIONARY corpus.geo_dict (country String, region String, currency String)
PRIMARY KEY country SOURCE(CLICKHOUSE(TABLE 'geo' DB 'corpus')) LAYOUT(COMPLEX_KEY_HASHED()) LIFETIME(0);
CREATE TABLE corpus.hits (
    WatchID Int64, JavaEnable Int16, Title String, GoodEvent Int16, EventTime DateTime, EventDate Date,
    CounterID UInt32, ClientIP Int32, RegionID UInt32, UserID Int64, OS Int16, UserAgent Int16, URL String,
    Referer String, IsRefresh Int16, ResolutionWidth Int16, ResolutionHeight Int16, MobilePhone Int16,
    MobilePhoneModel String, SearchEngineID Int16, SearchPhrase String, AdvEngineID Int16, IsLink Int16,
    IsDownload Int16, DontCountHits Int16, TraficSourceID Int16, URLHash Int64, RefererHash Int64,
    WindowClientWidth Int16, WindowClientHeight Int16
) ENGINE = MergeTree ORDER BY (CounterID, EventDate, UserID, EventTime, WatchID);
CREATE TABLE corpus.lineorder_flat (
    LO_ORDERKEY UInt32, LO_LINENUMBER UInt8, LO_CUSTKEY UInt32, LO_PARTKEY UInt32, LO_SUPPKEY UInt32,
    LO_ORDERDATE Date, LO_ORDERPRIORITY LowCardinality(String), LO_QUANTITY UInt8, LO_EXTENDEDPRICE UInt32,
    LO_ORDTOTALPRICE UInt32, LO_DISCOUNT UInt8, LO_REVENUE UInt32, LO_SUPPLYCOST UInt32, LO_TAX UInt8,
    C_NAME String, C_CITY LowCardinality(String), C_NATION LowCardinality(String), C_REGION LowCardinality(String),
    S_NAME String, S_CITY LowCardinality(String), S_NATION LowCardinality(String), S_REGION LowCardinality(String),
    P_NAME String, P_MFGR LowCardinality(String), P_CATEGORY LowCardinality(String), P_BRAND LowCardinality(String)
) ENGINE = MergeTree PARTITION BY toYear(LO_ORDERDATE) ORDER BY (LO_ORDERDATE, LO_ORDERKEY);
CREATE TABLE corpus.ontime (
    Year UInt16, Quarter UInt8, Month UInt8, DayofMonth UInt8, DayOfWeek UInt8, FlightDate Date,
    IATA_CODE_Reporting_Airline LowCardinality(String), Origin LowCardinality(String), OriginCityName String,
    OriginState LowCardinality(String), Dest LowCardinality(String), DestCityName String,
    DestState LowCardinality(String), DepDelay Int32, ArrDelay Int32, ArrDelayMinutes Int32, Cancelled UInt8,
    Distance Int32
) ENGINE = MergeTree PARTITION BY Year ORDER BY (IATA_CODE_Reporting_Airline, FlightDate);
