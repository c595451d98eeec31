"""Writes tests/corpus/queries.jsonl: the query corpus (published benchmark queries + generated analyst queries).

Run `python tests/corpus/generate.py` and then `python tests/corpus/build_expected.py` to refresh the expected
extractions from EXPLAIN QUERY TREE. Deterministic (fixed seed), so a regenerated file diffs cleanly.

Sources:
  clickbench  the 43 ClickHouse queries of ClickBench (github.com/ClickHouse/ClickBench, clickhouse/queries.sql)
  ssb         the 13 Star Schema Benchmark queries over `lineorder_flat`, as in the ClickHouse documentation
  ontime      the airline `ontime` example queries from the ClickHouse documentation
  trackflow   generated analyst queries over events/users/sessions/orders in the shapes Trackflow's analysis
              models and its workbench send: segmentation, funnels, retention, paths, sessions, revenue, ...
  statements  DDL / INSERT / EXPLAIN / SHOW / ALTER statements (parse-only: no EXPLAIN QUERY TREE reference)
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).parent

CLICKBENCH = [
    "SELECT COUNT(*) FROM hits",
    "SELECT COUNT(*) FROM hits WHERE AdvEngineID <> 0",
    "SELECT SUM(AdvEngineID), COUNT(*), AVG(ResolutionWidth) FROM hits",
    "SELECT AVG(UserID) FROM hits",
    "SELECT COUNT(DISTINCT UserID) FROM hits",
    "SELECT COUNT(DISTINCT SearchPhrase) FROM hits",
    "SELECT MIN(EventDate), MAX(EventDate) FROM hits",
    "SELECT AdvEngineID, COUNT(*) FROM hits WHERE AdvEngineID <> 0 GROUP BY AdvEngineID ORDER BY COUNT(*) DESC",
    "SELECT RegionID, COUNT(DISTINCT UserID) AS u FROM hits GROUP BY RegionID ORDER BY u DESC LIMIT 10",
    "SELECT RegionID, SUM(AdvEngineID), COUNT(*) AS c, AVG(ResolutionWidth), COUNT(DISTINCT UserID) FROM hits GROUP BY RegionID ORDER BY c DESC LIMIT 10",
    "SELECT MobilePhoneModel, COUNT(DISTINCT UserID) AS u FROM hits WHERE MobilePhoneModel <> '' GROUP BY MobilePhoneModel ORDER BY u DESC LIMIT 10",
    "SELECT MobilePhone, MobilePhoneModel, COUNT(DISTINCT UserID) AS u FROM hits WHERE MobilePhoneModel <> '' GROUP BY MobilePhone, MobilePhoneModel ORDER BY u DESC LIMIT 10",
    "SELECT SearchPhrase, COUNT(*) AS c FROM hits WHERE SearchPhrase <> '' GROUP BY SearchPhrase ORDER BY c DESC LIMIT 10",
    "SELECT SearchPhrase, COUNT(DISTINCT UserID) AS u FROM hits WHERE SearchPhrase <> '' GROUP BY SearchPhrase ORDER BY u DESC LIMIT 10",
    "SELECT SearchEngineID, SearchPhrase, COUNT(*) AS c FROM hits WHERE SearchPhrase <> '' GROUP BY SearchEngineID, SearchPhrase ORDER BY c DESC LIMIT 10",
    "SELECT UserID, COUNT(*) FROM hits GROUP BY UserID ORDER BY COUNT(*) DESC LIMIT 10",
    "SELECT UserID, SearchPhrase, COUNT(*) FROM hits GROUP BY UserID, SearchPhrase ORDER BY COUNT(*) DESC LIMIT 10",
    "SELECT UserID, SearchPhrase, COUNT(*) FROM hits GROUP BY UserID, SearchPhrase LIMIT 10",
    "SELECT UserID, extract(minute FROM EventTime) AS m, SearchPhrase, COUNT(*) FROM hits GROUP BY UserID, m, SearchPhrase ORDER BY COUNT(*) DESC LIMIT 10",
    "SELECT UserID FROM hits WHERE UserID = 435090932899640449",
    "SELECT COUNT(*) FROM hits WHERE URL LIKE '%google%'",
    "SELECT SearchPhrase, MIN(URL), COUNT(*) AS c FROM hits WHERE URL LIKE '%google%' AND SearchPhrase <> '' GROUP BY SearchPhrase ORDER BY c DESC LIMIT 10",
    "SELECT SearchPhrase, MIN(URL), MIN(Title), COUNT(*) AS c, COUNT(DISTINCT UserID) FROM hits WHERE Title LIKE '%Google%' AND URL NOT LIKE '%.google.%' AND SearchPhrase <> '' GROUP BY SearchPhrase ORDER BY c DESC LIMIT 10",
    "SELECT * FROM hits WHERE URL LIKE '%google%' ORDER BY EventTime LIMIT 10",
    "SELECT SearchPhrase FROM hits WHERE SearchPhrase <> '' ORDER BY EventTime LIMIT 10",
    "SELECT SearchPhrase FROM hits WHERE SearchPhrase <> '' ORDER BY SearchPhrase LIMIT 10",
    "SELECT SearchPhrase FROM hits WHERE SearchPhrase <> '' ORDER BY EventTime, SearchPhrase LIMIT 10",
    "SELECT CounterID, AVG(length(URL)) AS l, COUNT(*) AS c FROM hits WHERE URL <> '' GROUP BY CounterID HAVING COUNT(*) > 100000 ORDER BY l DESC LIMIT 25",
    "SELECT REGEXP_REPLACE(Referer, '^https?://(?:www\\.)?([^/]+)/.*$', '\\1') AS k, AVG(length(Referer)) AS l, COUNT(*) AS c, MIN(Referer) FROM hits WHERE Referer <> '' GROUP BY k HAVING COUNT(*) > 100000 ORDER BY l DESC LIMIT 25",
    "SELECT " + ", ".join(["SUM(ResolutionWidth)"] + [f"SUM(ResolutionWidth + {i})" for i in range(1, 90)]) + " FROM hits",
    "SELECT SearchEngineID, ClientIP, COUNT(*) AS c, SUM(IsRefresh), AVG(ResolutionWidth) FROM hits WHERE SearchPhrase <> '' GROUP BY SearchEngineID, ClientIP ORDER BY c DESC LIMIT 10",
    "SELECT WatchID, ClientIP, COUNT(*) AS c, SUM(IsRefresh), AVG(ResolutionWidth) FROM hits WHERE SearchPhrase <> '' GROUP BY WatchID, ClientIP ORDER BY c DESC LIMIT 10",
    "SELECT WatchID, ClientIP, COUNT(*) AS c, SUM(IsRefresh), AVG(ResolutionWidth) FROM hits GROUP BY WatchID, ClientIP ORDER BY c DESC LIMIT 10",
    "SELECT URL, COUNT(*) AS c FROM hits GROUP BY URL ORDER BY c DESC LIMIT 10",
    "SELECT 1, URL, COUNT(*) AS c FROM hits GROUP BY 1, URL ORDER BY c DESC LIMIT 10",
    "SELECT ClientIP, ClientIP - 1, ClientIP - 2, ClientIP - 3, COUNT(*) AS c FROM hits GROUP BY ClientIP, ClientIP - 1, ClientIP - 2, ClientIP - 3 ORDER BY c DESC LIMIT 10",
    "SELECT URL, COUNT(*) AS PageViews FROM hits WHERE CounterID = 62 AND EventDate >= '2013-07-01' AND EventDate <= '2013-07-31' AND DontCountHits = 0 AND IsRefresh = 0 AND URL <> '' GROUP BY URL ORDER BY PageViews DESC LIMIT 10",
    "SELECT Title, COUNT(*) AS PageViews FROM hits WHERE CounterID = 62 AND EventDate >= '2013-07-01' AND EventDate <= '2013-07-31' AND DontCountHits = 0 AND IsRefresh = 0 AND Title <> '' GROUP BY Title ORDER BY PageViews DESC LIMIT 10",
    "SELECT URL, COUNT(*) AS PageViews FROM hits WHERE CounterID = 62 AND EventDate >= '2013-07-01' AND EventDate <= '2013-07-31' AND IsRefresh = 0 AND IsLink <> 0 AND IsDownload = 0 GROUP BY URL ORDER BY PageViews DESC LIMIT 10 OFFSET 1000",
    "SELECT TraficSourceID, SearchEngineID, AdvEngineID, CASE WHEN (SearchEngineID = 0 AND AdvEngineID = 0) THEN Referer ELSE '' END AS Src, URL AS Dst, COUNT(*) AS PageViews FROM hits WHERE CounterID = 62 AND EventDate >= '2013-07-01' AND EventDate <= '2013-07-31' AND IsRefresh = 0 GROUP BY TraficSourceID, SearchEngineID, AdvEngineID, Src, Dst ORDER BY PageViews DESC LIMIT 10 OFFSET 1000",
    "SELECT URLHash, EventDate, COUNT(*) AS PageViews FROM hits WHERE CounterID = 62 AND EventDate >= '2013-07-01' AND EventDate <= '2013-07-31' AND IsRefresh = 0 AND TraficSourceID IN (-1, 6) AND RefererHash = 3594120000172545465 GROUP BY URLHash, EventDate ORDER BY PageViews DESC LIMIT 10 OFFSET 100",
    "SELECT WindowClientWidth, WindowClientHeight, COUNT(*) AS PageViews FROM hits WHERE CounterID = 62 AND EventDate >= '2013-07-01' AND EventDate <= '2013-07-31' AND IsRefresh = 0 AND DontCountHits = 0 AND URLHash = 2868770270353813622 GROUP BY WindowClientWidth, WindowClientHeight ORDER BY PageViews DESC LIMIT 10 OFFSET 10000",
    "SELECT DATE_TRUNC('minute', EventTime) AS M, COUNT(*) AS PageViews FROM hits WHERE CounterID = 62 AND EventDate >= '2013-07-14' AND EventDate <= '2013-07-15' AND IsRefresh = 0 AND DontCountHits = 0 GROUP BY DATE_TRUNC('minute', EventTime) ORDER BY DATE_TRUNC('minute', EventTime) LIMIT 10 OFFSET 1000",
]

SSB = [
    "SELECT sum(LO_EXTENDEDPRICE * LO_DISCOUNT) AS revenue FROM lineorder_flat WHERE toYear(LO_ORDERDATE) = 1993 AND LO_DISCOUNT BETWEEN 1 AND 3 AND LO_QUANTITY < 25",
    "SELECT sum(LO_EXTENDEDPRICE * LO_DISCOUNT) AS revenue FROM lineorder_flat WHERE toYYYYMM(LO_ORDERDATE) = 199401 AND LO_DISCOUNT BETWEEN 4 AND 6 AND LO_QUANTITY BETWEEN 26 AND 35",
    "SELECT sum(LO_EXTENDEDPRICE * LO_DISCOUNT) AS revenue FROM lineorder_flat WHERE toISOWeek(LO_ORDERDATE) = 6 AND toYear(LO_ORDERDATE) = 1994 AND LO_DISCOUNT BETWEEN 5 AND 7 AND LO_QUANTITY BETWEEN 26 AND 35",
    "SELECT sum(LO_REVENUE), toYear(LO_ORDERDATE) AS year, P_BRAND FROM lineorder_flat WHERE P_CATEGORY = 'MFGR#12' AND S_REGION = 'AMERICA' GROUP BY year, P_BRAND ORDER BY year, P_BRAND",
    "SELECT sum(LO_REVENUE), toYear(LO_ORDERDATE) AS year, P_BRAND FROM lineorder_flat WHERE P_BRAND >= 'MFGR#2221' AND P_BRAND <= 'MFGR#2228' AND S_REGION = 'ASIA' GROUP BY year, P_BRAND ORDER BY year, P_BRAND",
    "SELECT sum(LO_REVENUE), toYear(LO_ORDERDATE) AS year, P_BRAND FROM lineorder_flat WHERE P_BRAND = 'MFGR#2239' AND S_REGION = 'EUROPE' GROUP BY year, P_BRAND ORDER BY year, P_BRAND",
    "SELECT C_NATION, S_NATION, toYear(LO_ORDERDATE) AS year, sum(LO_REVENUE) AS revenue FROM lineorder_flat WHERE C_REGION = 'ASIA' AND S_REGION = 'ASIA' AND year >= 1992 AND year <= 1997 GROUP BY C_NATION, S_NATION, year ORDER BY year ASC, revenue DESC",
    "SELECT C_CITY, S_CITY, toYear(LO_ORDERDATE) AS year, sum(LO_REVENUE) AS revenue FROM lineorder_flat WHERE C_NATION = 'UNITED STATES' AND S_NATION = 'UNITED STATES' AND year >= 1992 AND year <= 1997 GROUP BY C_CITY, S_CITY, year ORDER BY year ASC, revenue DESC",
    "SELECT C_CITY, S_CITY, toYear(LO_ORDERDATE) AS year, sum(LO_REVENUE) AS revenue FROM lineorder_flat WHERE (C_CITY = 'UNITED KI1' OR C_CITY = 'UNITED KI5') AND (S_CITY = 'UNITED KI1' OR S_CITY = 'UNITED KI5') AND year >= 1992 AND year <= 1997 GROUP BY C_CITY, S_CITY, year ORDER BY year ASC, revenue DESC",
    "SELECT C_CITY, S_CITY, toYear(LO_ORDERDATE) AS year, sum(LO_REVENUE) AS revenue FROM lineorder_flat WHERE (C_CITY = 'UNITED KI1' OR C_CITY = 'UNITED KI5') AND (S_CITY = 'UNITED KI1' OR S_CITY = 'UNITED KI5') AND toYYYYMM(LO_ORDERDATE) = 199712 GROUP BY C_CITY, S_CITY, year ORDER BY year ASC, revenue DESC",
    "SELECT toYear(LO_ORDERDATE) AS year, C_NATION, sum(LO_REVENUE - LO_SUPPLYCOST) AS profit FROM lineorder_flat WHERE C_REGION = 'AMERICA' AND S_REGION = 'AMERICA' AND (P_MFGR = 'MFGR#1' OR P_MFGR = 'MFGR#2') GROUP BY year, C_NATION ORDER BY year ASC, C_NATION ASC",
    "SELECT toYear(LO_ORDERDATE) AS year, S_NATION, P_CATEGORY, sum(LO_REVENUE - LO_SUPPLYCOST) AS profit FROM lineorder_flat WHERE C_REGION = 'AMERICA' AND S_REGION = 'AMERICA' AND (year = 1997 OR year = 1998) AND (P_MFGR = 'MFGR#1' OR P_MFGR = 'MFGR#2') GROUP BY year, S_NATION, P_CATEGORY ORDER BY year ASC, S_NATION ASC, P_CATEGORY ASC",
    "SELECT toYear(LO_ORDERDATE) AS year, S_CITY, P_BRAND, sum(LO_REVENUE - LO_SUPPLYCOST) AS profit FROM lineorder_flat WHERE S_NATION = 'UNITED STATES' AND (year = 1997 OR year = 1998) AND P_CATEGORY = 'MFGR#14' GROUP BY year, S_CITY, P_BRAND ORDER BY year ASC, S_CITY ASC, P_BRAND ASC",
]

ONTIME = [
    "SELECT avg(c1) FROM (SELECT Year, Month, count(*) AS c1 FROM ontime GROUP BY Year, Month)",
    "SELECT DayOfWeek, count(*) AS c FROM ontime WHERE Year>=2000 AND Year<=2008 GROUP BY DayOfWeek ORDER BY c DESC",
    "SELECT DayOfWeek, count(*) AS c FROM ontime WHERE DepDelay>10 AND Year>=2000 AND Year<=2008 GROUP BY DayOfWeek ORDER BY c DESC",
    "SELECT Origin, count(*) AS c FROM ontime WHERE DepDelay>10 AND Year>=2000 AND Year<=2008 GROUP BY Origin ORDER BY c DESC LIMIT 10",
    "SELECT IATA_CODE_Reporting_Airline AS Carrier, count(*) FROM ontime WHERE DepDelay>10 AND Year=2007 GROUP BY Carrier ORDER BY count(*) DESC",
    "SELECT Carrier, c, c2, c*100/c2 as c3 FROM (SELECT IATA_CODE_Reporting_Airline AS Carrier, count(*) AS c FROM ontime WHERE DepDelay>10 AND Year=2007 GROUP BY Carrier) q JOIN (SELECT IATA_CODE_Reporting_Airline AS Carrier, count(*) AS c2 FROM ontime WHERE Year=2007 GROUP BY Carrier) qq USING Carrier ORDER BY c3 DESC",
    "SELECT IATA_CODE_Reporting_Airline AS Carrier, avg(DepDelay>10)*100 AS c3 FROM ontime WHERE Year>=2000 AND Year<=2008 GROUP BY Carrier ORDER BY c3 DESC",
    "SELECT Year, avg(DepDelay>10)*100 FROM ontime GROUP BY Year ORDER BY Year",
    "SELECT DestCityName, uniqExact(OriginCityName) AS u FROM ontime WHERE Year >= 2000 and Year <= 2010 GROUP BY DestCityName ORDER BY u DESC LIMIT 10",
    "SELECT Year, count(*) AS c1 FROM ontime GROUP BY Year",
    "SELECT min(Year), max(Year), IATA_CODE_Reporting_Airline AS Carrier, count(*) AS cnt, sum(ArrDelayMinutes>30) AS flights_delayed, round(sum(ArrDelayMinutes>30)/count(*),2) AS rate FROM ontime WHERE DayOfWeek NOT IN (6,7) AND OriginState NOT IN ('AK', 'HI', 'PR', 'VI') AND DestState NOT IN ('AK', 'HI', 'PR', 'VI') AND FlightDate < '2010-01-01' GROUP by Carrier HAVING cnt>100000 and max(Year)>1990 ORDER by rate DESC LIMIT 1000",
]

EVENTS = ["page_view", "signup", "login", "add_to_cart", "checkout", "purchase", "search", "share", "app_open",
          "video_play", "coupon_claim", "logout", "注册成功", "支付完成"]
BREAKDOWNS = ["platform", "os", "browser", "country", "device_type", "app_version", "props['utm_source']",
              "props['plan']", "ids['wx_openid'] != ''", "city", "toHour(ts)"]
METRICS = ["count()", "uniq(person_id)", "uniqExact(person_id)", "count(DISTINCT session_id)", "sum(revenue)",
           "avg(duration_ms)", "quantile(0.9)(duration_ms)", "uniqIf(person_id, revenue > 0)", "sumIf(revenue, event = 'purchase')"]
BUCKETS = ["toDate(ts)", "toStartOfHour(ts)", "toStartOfWeek(ts)", "toStartOfMonth(ts)", "toStartOfInterval(ts, INTERVAL 15 MINUTE)"]
RANGES = [
    "ts >= now() - INTERVAL {n} DAY",
    "ts >= today() - {n} AND ts < today()",
    "ts BETWEEN '2026-10-01 00:00:00' AND '2026-10-{n:02d} 23:59:59'",
    "toDate(ts) >= '2026-09-{n:02d}'",
    "toDate(ts) = yesterday()",
    "ts > now() - toIntervalHour({n})",
]
APPS = ["shop", "news", "game", "crm"]


class Families:
    """Generated analyst query shapes; each method returns (family, sql, parameters)."""

    def __init__(self, rng: random.Random):
        self.r = rng

    def pick(self, items, k=None):
        return self.r.choice(items) if k is None else self.r.sample(items, k)

    def events_in(self, k=None):
        chosen = self.pick(EVENTS, k or self.r.randint(1, 3))
        return ", ".join(f"'{e}'" for e in chosen)

    def time_range(self, table: str = ""):
        qualified = f"{table}.ts" if table else "ts"
        return self.pick(RANGES).replace("ts", qualified).format(n=self.r.randint(1, 28))

    def segmentation(self):
        bucket, metric = self.pick(BUCKETS), self.pick(METRICS)
        breakdown = self.pick(BREAKDOWNS) if self.r.random() < 0.6 else None
        cols = f"{bucket} AS bucket" + (f", {breakdown} AS breakdown" if breakdown else "")
        group = "bucket" + (", breakdown" if breakdown else "")
        predicate = self.pick([f"event IN ({self.events_in()})", f"event = '{self.pick(EVENTS)}'", f"has([{self.events_in()}], event)"])
        app = f" AND app_id = '{self.pick(APPS)}'" if self.r.random() < 0.5 else ""
        return "segmentation", (f"SELECT {cols}, {metric} AS value FROM events WHERE {predicate}{app} AND {self.time_range()} "
                                f"GROUP BY {group} ORDER BY bucket" + (" WITH FILL STEP 1" if bucket == "toDate(ts)" and not breakdown and self.r.random() < 0.3 else "")), {}

    def funnel(self):
        steps = self.pick(EVENTS, self.r.randint(2, 4))
        window = self.pick([3600, 86400, 604800])
        conditions = ", ".join(f"event = '{s}'" for s in steps)
        inner = (f"SELECT person_id, windowFunnel({window})(toDateTime(ts), {conditions}) AS level FROM events "
                 f"WHERE event IN ({', '.join(repr(s) for s in steps)}) AND {self.time_range()} GROUP BY person_id")
        shape = self.r.randint(0, 3)
        if shape == 0:
            sql = f"SELECT level, count() AS persons FROM ({inner}) GROUP BY level ORDER BY level"
        elif shape == 1:
            sql = f"WITH funnel AS ({inner}) SELECT level, count() AS persons FROM funnel WHERE level > 0 GROUP BY level ORDER BY level"
        elif shape == 2:
            sql = (f"SELECT u.plan, f.level, count() AS persons FROM ({inner}) AS f LEFT JOIN users AS u ON u.person_id = f.person_id "
                   f"GROUP BY u.plan, f.level ORDER BY u.plan, f.level")
        else:
            sql = (f"SELECT arrayJoin(arrayEnumerate([{', '.join(repr(s) for s in steps)}])) AS step, countIf(level >= step) AS reached "
                   f"FROM ({inner}) GROUP BY step ORDER BY step")
        return "funnel", sql, {}

    def retention(self):
        first, back = self.pick(EVENTS, 2)
        days = self.r.randint(3, 14)
        if self.r.random() < 0.5:
            conds = ", ".join([f"event = '{first}' AND toDate(ts) = toDate('2026-10-01')"] + [f"event = '{back}' AND toDate(ts) = toDate('2026-10-01') + {d}" for d in range(1, 4)])
            sql = (f"SELECT sum(r[1]) AS day0, sum(r[2]) AS day1, sum(r[3]) AS day2, sum(r[4]) AS day3 FROM "
                   f"(SELECT person_id, retention({conds}) AS r FROM events WHERE event IN ('{first}', '{back}') "
                   f"AND ts >= '2026-10-01' AND ts < '2026-10-{days + 5:02d}' GROUP BY person_id)")
        else:
            sql = (f"WITH cohort AS (SELECT person_id, min(toDate(ts)) AS first_day FROM events WHERE event = '{first}' GROUP BY person_id), "
                   f"activity AS (SELECT DISTINCT person_id, toDate(ts) AS day FROM events WHERE event = '{back}' AND {self.time_range()}) "
                   f"SELECT c.first_day, dateDiff('day', c.first_day, a.day) AS offset, uniqExact(c.person_id) AS persons "
                   f"FROM cohort AS c INNER JOIN activity AS a ON a.person_id = c.person_id "
                   f"WHERE offset BETWEEN 0 AND {days} GROUP BY c.first_day, offset ORDER BY c.first_day, offset")
        return "retention", sql, {}

    def top_pages(self):
        n = self.r.randint(3, 10)
        by = self.pick(["day", "platform", "country"])
        expr = {"day": "toDate(ts)", "platform": "platform", "country": "country"}[by]
        return "top_pages", (f"SELECT {expr} AS {by}, url, count() AS views, uniq(person_id) AS visitors FROM events "
                             f"PREWHERE event = 'page_view' WHERE {self.time_range()} AND url != '' "
                             f"GROUP BY {by}, url ORDER BY {by}, views DESC LIMIT {n} BY {by}"), {}

    def sessions_join(self):
        metric = self.pick(["avg(s.pages)", "countIf(s.is_bounce = 1) / count()", "quantileExact(0.5)(dateDiff('second', s.started_at, s.ended_at))"])
        kind = self.pick(["INNER", "LEFT", "LEFT ANY", "ANY INNER", "GLOBAL INNER"])
        if self.r.random() < 0.5:
            on = "USING (session_id)"
            dims = "s.channel"
        else:
            on = "ON e.session_id = s.session_id AND e.person_id = s.person_id"
            dims = "e.platform, s.channel"
        return "sessions", (f"SELECT {dims}, {metric} AS value, count() AS n FROM events AS e {kind} JOIN sessions AS s {on} "
                            f"WHERE e.event IN ({self.events_in()}) AND {self.time_range('e')} GROUP BY {dims} ORDER BY n DESC"), {}

    def users_join(self):
        dim = self.pick(["u.plan", "u.country", "u.is_paying", "u.attrs['industry']", "toStartOfMonth(u.signup_at)"])
        metric = self.pick(["count()", "uniqExact(e.person_id)", "sum(e.revenue)", "avg(u.ltv)"])
        join = self.pick(["INNER JOIN users AS u ON e.person_id = u.person_id", "LEFT JOIN users u ON u.person_id = e.person_id",
                          "SEMI LEFT JOIN users AS u ON e.person_id = u.person_id", "ANY LEFT JOIN users AS u USING (person_id)"])
        return "users", (f"SELECT {dim} AS segment, {metric} AS value FROM events AS e {join} "
                         f"WHERE e.event = '{self.pick(EVENTS)}' AND {self.time_range('e')} GROUP BY segment ORDER BY value DESC LIMIT 20"), {}

    def orders(self):
        shape = self.r.randint(0, 3)
        if shape == 0:
            sql = ("SELECT p.category, sum(p.price) AS gross, count() AS units FROM orders AS o ARRAY JOIN o.items AS sku "
                   "LEFT JOIN products AS p ON p.sku = sku WHERE o.status = 'paid' AND o.created_at >= now() - INTERVAL 30 DAY "
                   "GROUP BY p.category ORDER BY gross DESC")
        elif shape == 1:
            sql = (f"SELECT toStartOfDay(created_at) AS day, currency, sum(amount) AS revenue, count() AS orders, "
                   f"countIf(coupon IS NOT NULL) AS with_coupon FROM orders WHERE created_at >= '2026-0{self.r.randint(1, 9)}-01' "
                   f"GROUP BY ROLLUP(day, currency) ORDER BY day, currency")
        elif shape == 2:
            sql = ("SELECT o.order_id, o.amount, s.channel FROM orders AS o ASOF LEFT JOIN sessions AS s "
                   "ON o.person_id = s.person_id AND toDateTime64(o.created_at, 3) >= s.started_at WHERE o.amount > 100")
        else:
            sql = ("SELECT person_id, sum(amount) AS spent, groupArray(order_id) AS ids, argMax(status, created_at) AS last_status "
                   f"FROM orders WHERE person_id IN (SELECT person_id FROM users WHERE plan = '{self.pick(['free', 'pro', 'team'])}') "
                   "GROUP BY person_id HAVING spent > 0 ORDER BY spent DESC LIMIT 100")
        return "orders", sql, {}

    def window(self):
        shape = self.r.randint(0, 3)
        if shape == 0:
            sql = (f"SELECT person_id, event, ts, row_number() OVER (PARTITION BY person_id ORDER BY ts) AS step FROM events "
                   f"WHERE {self.time_range()} AND event IN ({self.events_in()}) QUALIFY step <= 5 ORDER BY person_id, step")
            if self.r.random() < 0.5:
                sql = sql.replace(" QUALIFY step <= 5", "")
        elif shape == 1:
            sql = ("SELECT toDate(ts) AS day, count() AS n, sum(n) OVER (ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running "
                   f"FROM events WHERE event = '{self.pick(EVENTS)}' GROUP BY day ORDER BY day")
        elif shape == 2:
            sql = ("SELECT person_id, ts, dateDiff('second', lagInFrame(ts) OVER w, ts) AS gap FROM events "
                   f"WHERE {self.time_range()} WINDOW w AS (PARTITION BY person_id ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) LIMIT 1000")
        else:
            sql = ("SELECT country, revenue, rank() OVER (PARTITION BY country ORDER BY revenue DESC) AS r, "
                   "avg(revenue) OVER (PARTITION BY country) AS avg_rev FROM events WHERE event = 'purchase' ORDER BY country, r LIMIT 50")
        return "window", sql, {}

    def arrays(self):
        shape = self.r.randint(0, 3)
        if shape == 0:
            sql = (f"SELECT tag, count() AS n FROM events ARRAY JOIN tags AS tag WHERE event = '{self.pick(EVENTS)}' "
                   "GROUP BY tag ORDER BY n DESC LIMIT 20")
        elif shape == 1:
            sql = ("SELECT person_id, arrayFilter(x -> x LIKE 'vip%', groupUniqArray(tag)) AS vip_tags, "
                   "arrayMap((k, v) -> concat(k, '=', v), mapKeys(any(props)), mapValues(any(props))) AS kv "
                   f"FROM events LEFT ARRAY JOIN tags AS tag WHERE {self.time_range()} GROUP BY person_id LIMIT 100")
        elif shape == 2:
            sql = ("SELECT person_id, groupArray(event) AS path, arrayStringConcat(arraySlice(path, 1, 5), ' > ') AS first_steps, "
                   "arrayCount(x -> x = 'purchase', path) AS purchases FROM (SELECT person_id, event FROM events "
                   f"WHERE {self.time_range()} ORDER BY person_id, ts) GROUP BY person_id")
        else:
            sql = ("SELECT u.person_id, arrayIntersect(u.tags, ['churn_risk', 'promo']) AS flags, length(u.tags) AS n_tags, "
                   "(u.ltv, u.plan).1 AS ltv, tuple(u.country, u.plan).2 AS plan_name FROM users AS u WHERE notEmpty(u.tags) AND has(u.tags, 'beta')")
        return "arrays", sql, {}

    def set_operations(self):
        a, b = self.pick(EVENTS, 2)
        op = self.pick(["UNION ALL", "UNION DISTINCT", "INTERSECT", "EXCEPT"])
        if op.startswith("UNION"):
            sql = (f"SELECT 'events' AS source, count() AS n FROM events WHERE event = '{a}' {op} "
                   f"SELECT 'orders', count() FROM orders WHERE status = 'paid' {op} SELECT 'sessions', count() FROM sessions")
        else:
            sql = (f"SELECT person_id FROM events WHERE event = '{a}' AND {self.time_range()} {op} "
                   f"SELECT person_id FROM events WHERE event = '{b}'")
        return "set_operations", sql, {}

    def grouping(self):
        dims = self.pick(["platform", "os", "country", "device_type", "browser"], 2)
        shape = self.pick([f"ROLLUP({dims[0]}, {dims[1]})", f"CUBE({dims[0]}, {dims[1]})", f"{dims[0]}, {dims[1]} WITH TOTALS",
                           f"GROUPING SETS (({dims[0]}), ({dims[1]}), ())", f"{dims[0]}, {dims[1]} WITH ROLLUP"])
        return "grouping", (f"SELECT {dims[0]}, {dims[1]}, count() AS n, uniq(person_id) AS persons FROM events "
                            f"WHERE event IN ({self.events_in()}) GROUP BY {shape} ORDER BY n DESC"), {}

    def subqueries(self):
        shape = self.r.randint(0, 3)
        if shape == 0:
            sql = (f"SELECT count() FROM events WHERE person_id IN (SELECT person_id FROM orders WHERE amount > {self.r.randint(10, 500)}) "
                   f"AND event = '{self.pick(EVENTS)}'")
        elif shape == 1:
            sql = ("SELECT (SELECT count() FROM users) AS total_users, uniqExact(person_id) AS active, active / total_users AS share "
                   f"FROM events WHERE {self.time_range()}")
        elif shape == 2:
            sql = ("WITH (SELECT max(ts) FROM events) AS last_seen SELECT event, count() FROM events "
                   "WHERE ts >= last_seen - INTERVAL 1 HOUR GROUP BY event")
        else:
            sql = ("SELECT s.person_id, s.sessions, o.orders FROM (SELECT person_id, count() AS sessions FROM sessions GROUP BY person_id) AS s "
                   "FULL OUTER JOIN (SELECT person_id, count() AS orders FROM orders GROUP BY person_id) AS o ON s.person_id = o.person_id "
                   "WHERE s.sessions > 3 OR o.orders > 0")
        return "subqueries", sql, {}

    def conditional(self):
        a, b, c = self.pick(EVENTS, 3)
        shape = self.r.randint(0, 2)
        if shape == 0:
            sql = (f"SELECT multiIf(event = '{a}', 'acquisition', event IN ('{b}', '{c}'), 'engagement', 'other') AS stage, count() AS n "
                   f"FROM events WHERE {self.time_range()} GROUP BY stage")
        elif shape == 1:
            sql = (f"SELECT toDate(ts) AS day, countIf(event = '{a}') AS {a if a.isascii() else 'a_count'}, countIf(event = '{b}') AS b_count, "
                   f"if(countIf(event = '{a}') = 0, 0, countIf(event = '{b}') / countIf(event = '{a}')) AS conversion "
                   f"FROM events WHERE event IN ('{a}', '{b}') GROUP BY day ORDER BY day")
        else:
            sql = (f"SELECT CASE WHEN duration_ms < 1000 THEN 'fast' WHEN duration_ms < 5000 THEN 'ok' ELSE 'slow' END AS speed, "
                   f"CAST(count() AS Float64) AS n, toString(max(ts))::String AS last FROM events WHERE event = '{a}' GROUP BY speed")
        return "conditional", sql, {}

    def dictionaries(self):
        attr = self.pick(["region", "currency"])
        return "dictionaries", (f"SELECT dictGet('corpus.geo_dict', '{attr}', country) AS {attr}, count() AS n FROM events "
                                f"WHERE event = '{self.pick(EVENTS)}' GROUP BY {attr} ORDER BY n DESC"), {}

    def parameters(self):
        shape = self.r.randint(0, 2)
        if shape == 0:
            sql = ("SELECT toDate(ts) AS day, count() FROM events WHERE app_id = {app:String} AND event = {event:String} "
                   "AND ts >= {from:DateTime64(3, 'UTC')} AND ts < {to:DateTime64(3, 'UTC')} GROUP BY day ORDER BY day")
            params = {"app": self.pick(APPS), "event": self.pick(EVENTS), "from": "2026-10-01 00:00:00.000", "to": "2026-10-08 00:00:00.000"}
        elif shape == 1:
            sql = "SELECT event, uniq(person_id) FROM events WHERE event IN {events:Array(String)} AND ts >= now() - INTERVAL {days:UInt16} DAY GROUP BY event"
            params = {"events": self.pick(EVENTS, 2), "days": self.r.randint(1, 30)}
        else:
            sql = "SELECT count() FROM events WHERE has({events:Array(String)}, event) AND platform = {platform:String} LIMIT {limit:UInt32}"
            params = {"events": self.pick(EVENTS, 3), "platform": self.pick(["web", "ios", "android"]), "limit": 10}
        return "parameters", sql, params

    def clauses(self):
        shape = self.r.randint(0, 3)
        if shape == 0:
            sql = f"SELECT count() FROM events FINAL WHERE event = '{self.pick(EVENTS)}' SETTINGS max_threads = 2, max_execution_time = 30"
        elif shape == 1:
            sql = (f"SELECT platform, count() FROM events SAMPLE 1 / 10 WHERE {self.time_range()} GROUP BY platform "
                   "ORDER BY count() DESC FORMAT JSONEachRow")
        elif shape == 2:
            sql = f"SELECT DISTINCT ON (person_id) person_id, event, ts FROM events WHERE event IN ({self.events_in()}) ORDER BY person_id, ts DESC LIMIT 100"
        else:
            sql = f"SELECT TOP 10 url, count() AS n FROM events WHERE event = 'page_view' AND {self.time_range()} GROUP BY url ORDER BY n DESC"
        return "clauses", sql, {}

    def unicode_and_quoting(self):
        shape = self.r.randint(0, 1)
        if shape == 0:
            sql = (f"SELECT platform AS `平台`, count() AS `访问量`, uniq(person_id) AS \"用户数\" FROM events "
                   f"WHERE event = '{self.pick(EVENTS)}' GROUP BY `平台` ORDER BY `访问量` DESC")
        else:
            sql = ("SELECT `e`.`event`, count() AS `count`, `e`.props['渠道'] AS `渠道` FROM `corpus`.`events` AS `e` "
                   "WHERE `e`.event != '' /* comment */ GROUP BY `e`.`event`, `渠道` -- trailing comment\n")
        return "quoting", sql, {}

    def table_functions(self):
        shape = self.r.randint(0, 1)
        if shape == 0:
            sql = ("SELECT toDate('2026-10-01') + number AS day, ifNull(n, 0) AS n FROM numbers(7) AS days "
                   "LEFT JOIN (SELECT toDate(ts) AS d, count() AS n FROM events GROUP BY d) AS c ON c.d = toDate('2026-10-01') + number ORDER BY day")
        else:
            sql = "SELECT number % 7 AS weekday, count() FROM numbers(1000) GROUP BY weekday ORDER BY weekday"
        return "table_functions", sql, {}

    def ctes(self):
        a = self.pick(EVENTS)
        shape = self.r.randint(0, 2)
        if shape == 0:
            sql = (f"WITH buyers AS (SELECT DISTINCT person_id FROM events WHERE event = 'purchase'), "
                   f"engaged AS (SELECT person_id, count() AS n FROM events WHERE event = '{a}' AND person_id IN (SELECT person_id FROM buyers) GROUP BY person_id) "
                   "SELECT quantiles(0.5, 0.9, 0.99)(n) FROM engaged")
        elif shape == 1:
            sql = (f"WITH 7 AS days, toDate(ts) AS day SELECT day, count() FROM events WHERE ts >= today() - days AND event = '{a}' GROUP BY day ORDER BY day")
        else:
            sql = ("WITH daily AS (SELECT toDate(ts) AS day, uniq(person_id) AS dau FROM events GROUP BY day) "
                   "SELECT d1.day, d1.dau, d2.dau AS prev FROM daily AS d1 LEFT JOIN daily AS d2 ON d2.day = d1.day - 1 ORDER BY d1.day")
        return "ctes", sql, {}

    def qualified_names(self):
        return "qualified", (f"SELECT corpus.events.event, count() FROM corpus.events WHERE corpus.events.event = '{self.pick(EVENTS)}' "
                             "AND events.platform = 'web' GROUP BY corpus.events.event"), {}


STATEMENTS = [
    "CREATE TABLE IF NOT EXISTS corpus.daily_active (day Date, app_id LowCardinality(String), dau UInt64) ENGINE = SummingMergeTree ORDER BY (app_id, day)",
    "CREATE TABLE t_local ON CLUSTER main (id UInt64, payload String CODEC(ZSTD(3)), ts DateTime DEFAULT now(), INDEX idx payload TYPE bloom_filter GRANULARITY 4) ENGINE = ReplicatedMergeTree('/clickhouse/{shard}/t', '{replica}') PARTITION BY toYYYYMM(ts) ORDER BY id TTL ts + INTERVAL 90 DAY SETTINGS index_granularity = 8192",
    "CREATE TABLE events_copy AS corpus.events ENGINE = MergeTree ORDER BY ts",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS corpus.mv_daily TO corpus.daily_active AS SELECT toDate(ts) AS day, app_id, uniqState(person_id) AS dau FROM corpus.events GROUP BY day, app_id",
    "CREATE VIEW corpus.purchases AS SELECT * FROM corpus.events WHERE event = 'purchase'",
    "CREATE DATABASE IF NOT EXISTS analytics ENGINE = Atomic",
    "CREATE TABLE tmp_result ENGINE = Memory AS SELECT person_id, count() AS n FROM corpus.events GROUP BY person_id",
    "CREATE DICTIONARY IF NOT EXISTS corpus.plans (plan String, price Float64) PRIMARY KEY plan SOURCE(CLICKHOUSE(TABLE 'plan_source' DB 'corpus')) LAYOUT(COMPLEX_KEY_HASHED()) LIFETIME(MIN 0 MAX 300)",
    "CREATE OR REPLACE FUNCTION pct AS (a, b) -> round(100 * a / b, 2)",
    "INSERT INTO corpus.users (person_id, plan) VALUES ('u1', 'pro'), ('u2', 'free')",
    "INSERT INTO corpus.daily_active SELECT toDate(ts), app_id, uniq(person_id) FROM corpus.events WHERE ts >= today() - 1 GROUP BY 1, 2",
    "INSERT INTO corpus.events FORMAT JSONEachRow",
    "INSERT INTO TABLE corpus.orders SETTINGS async_insert = 1 VALUES (1, 'u1', now(), 9.99, 'EUR', 'paid', ['sku1'], NULL)",
    "EXPLAIN SELECT count() FROM corpus.events WHERE event = 'signup'",
    "EXPLAIN PIPELINE SELECT event, count() FROM corpus.events GROUP BY event",
    "EXPLAIN QUERY TREE SELECT 1",
    "EXPLAIN indexes = 1 SELECT count() FROM corpus.events WHERE app_id = 'shop'",
    "EXPLAIN SYNTAX SELECT * FROM corpus.users WHERE plan = 'pro'",
    "SHOW TABLES FROM corpus LIKE '%events%'",
    "SHOW DATABASES",
    "SHOW CREATE TABLE corpus.events",
    "SHOW PROCESSLIST",
    "SHOW COLUMNS FROM corpus.events",
    "DESCRIBE TABLE corpus.events",
    "DESC corpus.users",
    "USE corpus",
    "SET max_threads = 4",
    "OPTIMIZE TABLE corpus.events FINAL DEDUPLICATE",
    "TRUNCATE TABLE IF EXISTS corpus.tmp_result",
    "DROP TABLE IF EXISTS corpus.tmp_result SYNC",
    "DROP DICTIONARY IF EXISTS corpus.plans",
    "RENAME TABLE corpus.a TO corpus.b, corpus.c TO corpus.d",
    "EXISTS TABLE corpus.events",
    "ALTER TABLE corpus.events ADD COLUMN IF NOT EXISTS campaign LowCardinality(String) DEFAULT '' AFTER referrer",
    "ALTER TABLE corpus.events ON CLUSTER main DROP COLUMN IF EXISTS campaign",
    "ALTER TABLE corpus.events MODIFY TTL toDateTime(ts) + INTERVAL 1 YEAR",
    "ALTER TABLE corpus.users UPDATE plan = 'free' WHERE plan = 'trial'",
    "ALTER TABLE corpus.events DELETE WHERE app_id = 'test'",
    "ALTER TABLE corpus.events DROP PARTITION '2026-01-01'",
    "DELETE FROM corpus.users WHERE person_id = 'u1'",
    "SYSTEM FLUSH LOGS",
    "KILL QUERY WHERE query_id = 'abc' SYNC",
    "SELECT name, type FROM system.columns WHERE database = 'corpus' AND table = 'events'",
    "SELECT query, query_duration_ms FROM system.query_log WHERE type = 'QueryFinish' ORDER BY event_time DESC LIMIT 10",
]


def build(count_generated: int = 460, seed: int = 7) -> list[dict]:
    entries = []
    for i, sql in enumerate(CLICKBENCH):
        entries.append({"id": f"clickbench-{i:02d}", "source": "clickbench", "sql": sql})
    for i, sql in enumerate(SSB):
        entries.append({"id": f"ssb-{i:02d}", "source": "ssb", "sql": sql})
    for i, sql in enumerate(ONTIME):
        entries.append({"id": f"ontime-{i:02d}", "source": "ontime", "sql": sql})
    for i, sql in enumerate(STATEMENTS):
        entries.append({"id": f"statement-{i:02d}", "source": "statements", "sql": sql, "parse_only": True})
    families = Families(random.Random(seed))
    shapes = [getattr(families, name) for name in dir(Families) if not name.startswith("_") and name not in
              ("pick", "events_in", "time_range")]
    seen = {e["sql"] for e in entries}
    attempts = 0
    while len(entries) < count_generated + len(CLICKBENCH) + len(SSB) + len(ONTIME) + len(STATEMENTS) and attempts < 20000:
        attempts += 1
        family, sql, params = families.pick(shapes)()
        key = sql + json.dumps(params, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        entry = {"id": f"trackflow-{len(entries):04d}", "source": "trackflow", "family": family, "sql": sql}
        if params:
            entry["parameters"] = params
        entries.append(entry)
    return entries


if __name__ == "__main__":
    entries = build()
    with open(HERE / "queries.jsonl", "w") as out:
        for entry in entries:
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")
    print(f"wrote {len(entries)} queries to {HERE / 'queries.jsonl'}")
