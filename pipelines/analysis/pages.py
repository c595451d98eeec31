"""Page analysis (页面分析): per page (URL path after cleaning rules, the URL without its query, or the title): page
views, unique persons, entries, exits, bounce rate, average and median time on page, median scroll depth, a daily
trend, and the same figures for the previous period of the same length.

Semantics (the pandas reference in tests/analysis implements them independently):
- A person's page views in the range, in time order, form sessions: a view `session_gap_seconds` (default 30 min)
  or more after the previous one starts a new session. Views before the range are not read, so the first view
  in the range starts a session.
- Entry: the first view of a session; exit: its last; a bounce: a session of one view, counted at its page.
  Bounce rate = bounces / entries of the page.
- Time on page of a view: until the next view of the same session; for the last view of a session, until the
  first `leave_event` after it (the SDK's page-leave time) when the request names one and it comes within the
  gap; otherwise unknown (not averaged, as in other tools: the exit page's time is not known).
- Scroll depth of a view: the largest `scroll_property` of the `scroll_event`s after it and before the next view
  (the web SDK sends `scroll_depth` with `depth` 25/50/75/100); the median over the views that have one.
- Cleaning rules (RE2 regex -> replacement, e.g. ids in paths) apply in order to the page text.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field, model_validator

from pipelines.analysis.cleaning import MAX_RULES, CleaningRule, cleaned_sql
from pipelines.analysis.contract import AnalysisModel
from pipelines.analysis.expr import all_of
from pipelines.analysis.filters import numeric_expr, scope_conditions, selector_condition
from pipelines.analysis.persons import Page, latest_persons_sql, page_clause, persons_view
from pipelines.analysis.request import EventSelector, Name, QueryScope, Text
from pipelines.analysis.schema import PERSON_KEY, TABLE
from pipelines.analysis.shaping import Rows, clean, ratio, table
from pipelines.analysis.sqlparams import BuiltQuery, SqlParams
from pipelines.analysis.timerange import TimeRange, tz_placeholder

MAX_PAGES = 1_000
MAX_TREND_DAYS = 366  # the daily trend is one array per page: longer ranges ask for trend: false
PAGE_TEXT = {
    "url_path": "path(url)",
    "url": "cutQueryStringAndFragment(url)",
    "title": "title",
}
VIEW, LEAVE, SCROLL = 0, 1, 2
# Bits of an event's sort key: ms since the range start (request.MAX_RANGE_DAYS fits in 39), kind, page rank.
KIND_BITS = 2
RANK_BITS = 64 - 39 - KIND_BITS
DEFAULT_SCROLL_PROPERTY = "depth"  # the web SDK's scroll_depth event


class PagePersons(Page):
    """The persons who viewed one page (its text as the response names it)."""

    page: Text


class PageQuery(QueryScope):
    model: Literal["page"] = "page"
    page_view: EventSelector = Field(default_factory=lambda: EventSelector(event="page_view"))
    by: Literal["url_path", "url", "title"] = "url_path"
    cleaning: list[CleaningRule] = Field(default_factory=list, max_length=MAX_RULES)
    session_gap_seconds: int = Field(1800, ge=1, le=86_400)
    leave_event: EventSelector | None = Field(None, description="the SDK's page-leave event, where it sends one")
    scroll_event: EventSelector | None = Field(None, description='e.g. {"event": "scroll_depth"} (the web SDK)')
    scroll_property: Name | None = Field(None, description=f"the scroll_event's depth property (default {DEFAULT_SCROLL_PROPERTY})")
    max_pages: int = Field(100, ge=1, le=MAX_PAGES, description="pages returned, most viewed first")
    trend: bool = True
    compare_previous: bool = False
    persons: PagePersons | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_scroll_property(cls, data: Any) -> Any:
        # only with a scroll event: an unused default would be a property the request names (and warns about)
        if isinstance(data, dict) and data.get("scroll_event") is not None and data.get("scroll_property") is None:
            return {**data, "scroll_property": DEFAULT_SCROLL_PROPERTY}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> "PageQuery":
        if self.scroll_property is not None and self.scroll_event is None:
            raise ValueError("scroll_property: only with a scroll_event (the events that carry it)")
        if self.trend and TimeRange.of(self).days()[1] > MAX_TREND_DAYS:
            raise ValueError(f"trend: the daily trend covers at most {MAX_TREND_DAYS} days; ask trend: false")
        return self


def _page_expr(request: PageQuery, params: SqlParams) -> str:
    return cleaned_sql(PAGE_TEXT[request.by], request.cleaning, params)


def _ranked_pages_sql(request: PageQuery, params: SqlParams, source: str) -> str:
    """A scalar subquery over `source` (`FROM … WHERE …`, the views): the distinct page texts before cleaning sorted
    by their page (the cleaned text), each one's page rank (1-based), and the pages sorted — `(raws, ranks,
    labels)`. Each view is then ranked with `transform(raw, t.1, t.2, toUInt32(0))` (labels[rank] is its page, and
    rank order is text order); the cleaning rules run once per distinct text, not per view."""
    cleaned = cleaned_sql("r", request.cleaning, params)
    return f"""(SELECT (arraySort((r, c) -> c, raw, cleaned), arrayMap(n -> toUInt32(n), arrayCumSum(arrayMap((c, i) -> i = 1 OR c != sorted[i - 1], arraySort(cleaned) AS sorted, arrayEnumerate(sorted)))), arrayDistinct(sorted))
 FROM (SELECT groupUniqArray({PAGE_TEXT[request.by]}) AS raw, arrayMap(r -> {cleaned}, raw) AS cleaned {source}))"""


def _views_cte(request: PageQuery, params: SqlParams, time_range: TimeRange) -> str:
    """CTEs down to `views`: one row per page view with its person, page rank (`labels[rank]` is the page), whether
    it is the person's first view of the page, enters, exits or bounces a session, its time on page (ms, -1
    unknown), scroll depth (NULL none) and, with the trend, its day index.

    The pages are sorted once (`labels`, a scalar subquery over the views) and each event carries a UInt64 key
    (ms since the range start, kind, page rank): a person's events are one array of integers, whose sort is the
    (time, kind, page) order, with no page text gathered per person. With page views alone (the default) the
    views are that array; with leave or scroll events, each view's own events are the slice up to the next view,
    reduced per slice (arrayReduceInRanges). Persons per page are the views that are their person's first of the
    page (arrayEnumerateUniq in the person's row), so no hash set of persons is kept per page."""
    selectors = [(request.page_view, VIEW, "view_event")]
    selectors += [(s, kind, hint) for s, kind, hint in ((request.leave_event, LEAVE, "leave_event"), (request.scroll_event, SCROLL, "scroll_event")) if s]
    scope = scope_conditions(request, params, [s.event for s, _, _ in selectors], time_range)
    view_where = all_of([*scope, selector_condition(request.page_view, params, "view_event")])
    raw = PAGE_TEXT[request.by]
    gap = params.add("session_gap_ms", request.session_gap_seconds * 1000, "Int64")
    start = params.add("range_start_ms", time_range.start_ms, "Int64")
    rank = f"transform({raw}, pages.1, pages.2, toUInt32(0))"
    if len(selectors) == 1:
        where, kind = view_where, f"{VIEW}"
    else:
        where = all_of(scope)
        kind = "multiIf(" + ", ".join(f"{selector_condition(s, params, hint)}, {k}" for s, k, hint in selectors) + ", -1)"
        rank = f"if(kind = {VIEW}, {rank}, 0)"
    key = f"bitShiftLeft(toUInt64(toUnixTimestamp64Milli(ts) - {start}), {KIND_BITS + RANK_BITS}) + bitShiftLeft(toUInt64(kind), {RANK_BITS}) + {rank}"
    depth = f", if(kind = {SCROLL}, {numeric_expr(request.scroll_property, params)}, NULL) AS depth" if request.scroll_event else ""
    # with a scroll event the depth travels beside the key (sorted by it); otherwise the keys alone
    gathered = "arraySort(groupArray((key, depth))) AS ev" if request.scroll_event else "arraySort(groupArray(key)) AS ev"
    keys = "ev.1" if request.scroll_event else "ev"
    if len(selectors) == 1:
        views, per_view = f"{keys} AS v", ""
    else:
        # each view's own events: from it to the next view (the array is in time order)
        views = f"""arrayFilter(i -> bitShiftRight({keys}[i], {RANK_BITS}) % {1 << KIND_BITS} = {VIEW}, arrayEnumerate({keys})) AS at,
           arrayMap(i -> {keys}[i], at) AS v"""
        per_view = f""",
           arrayMap((p, i) -> (toUInt64(p), toUInt64(if(i < length(at), at[i + 1], length(ev) + 1) - p)), at, arrayEnumerate(at)) AS spans"""
        if request.leave_event:
            leave_t = f"if(bitShiftRight(k, {RANK_BITS}) % {1 << KIND_BITS} = {LEAVE}, toInt64(bitShiftRight(k, {KIND_BITS + RANK_BITS})), NULL)"
            per_view += f",\n           arrayReduceInRanges('min', spans, arrayMap(k -> {leave_t}, {keys})) AS left_at"
        if request.scroll_event:
            per_view += ",\n           arrayReduceInRanges('max', spans, ev.2) AS depths"
    left = f"if(left_at[i] IS NOT NULL AND left_at[i] - x < {gap}, assumeNotNull(left_at[i]) - x, -1)" if request.leave_event else "-1"
    joined = ["ranks AS rank", "firsts AS first", "vt AS t", "starts AS entry", "ends AS exit", "ms AS on_page"]
    joined += ["depths AS depth"] if request.scroll_event else []
    day = ""
    if request.trend:
        tz = tz_placeholder(params, request.timezone)
        first_day = params.add("first_day", time_range.days()[0], "Date")
        day = f", toRelativeDayNum(toDate(fromUnixTimestamp64Milli(t + {start}), {tz})) - toRelativeDayNum({first_day}) AS day"
    return f"""
WITH
{_ranked_pages_sql(request, params, f"FROM {TABLE} WHERE {view_where}")} AS pages,
pages.3 AS labels,
rows AS (
    SELECT {PERSON_KEY} AS person, {kind} AS kind, {key} AS key{depth}
    FROM {TABLE}
    WHERE {where}
),
per_person AS (
    -- one person's events in (time, kind, page) order: a leave or scroll event at a view's own time follows it
    SELECT person, {gathered}
    FROM rows
    WHERE kind >= 0
    GROUP BY person
    HAVING countIf(kind = {VIEW}) > 0 AND throwIf(length(labels) >= {1 << RANK_BITS}, 'more than {(1 << RANK_BITS) - 1:,} distinct pages: clean them') = 0
),
sessions AS (
    SELECT person,
           {views},
           arrayMap(k -> toInt64(bitShiftRight(k, {KIND_BITS + RANK_BITS})), v) AS vt,
           arrayMap(k -> toUInt32(k % {1 << RANK_BITS}), v) AS ranks,
           arrayMap(n -> n = 1, arrayEnumerateUniq(ranks)) AS firsts,
           arrayMap((x, i) -> i = 1 OR x - vt[i - 1] >= {gap}, vt, arrayEnumerate(vt)) AS starts,
           arrayMap(i -> i = length(vt) OR starts[i + 1], arrayEnumerate(vt)) AS ends{per_view},
           arrayMap((x, i) -> if(NOT ends[i], vt[i + 1] - x, {left}), vt, arrayEnumerate(vt)) AS ms
    FROM per_person
),
views AS (
    SELECT person, rank, first, entry, exit, entry AND exit AS bounce, on_page{', depth' if request.scroll_event else ''}{day}
    FROM sessions
    ARRAY JOIN {', '.join(joined)}
)"""


def _pages_query(request: PageQuery, time_range: TimeRange) -> BuiltQuery:
    params = SqlParams()
    ctes = _views_cte(request, params, time_range)
    days = time_range.days()[1]
    # Views per day only: distinct persons per day and page (uniqExactResample) cost a quarter of the query.
    trend = (
        f",\n    countResample(0, {days}, 1)(day) AS views_by_day"
        if request.trend
        else ""
    )
    limit = params.add("max_pages", request.max_pages + 1, "UInt64")  # one more tells the response it was cut
    # times on page in ms (UInt32: under the gap's 86,400 s) for the median: a smaller array to sort than Float64
    return params.query(
        f"""{ctes}
SELECT
    labels[rank] AS page,
    count() AS views,
    countIf(first) AS persons,
    countIf(entry) AS entries,
    countIf(exit) AS exits,
    countIf(bounce) AS bounces,
    avgIf(on_page, on_page >= 0) / 1000 AS avg_seconds,
    quantileExactInclusiveIf(0.5)(toUInt32(on_page), on_page >= 0) / 1000 AS median_seconds,
    {'quantileExactInclusive(0.5)(depth)' if request.scroll_event else 'NULL'} AS median_scroll_depth{trend}
FROM views
GROUP BY rank
ORDER BY views DESC, page
LIMIT {limit}"""
    )


def build(request: PageQuery) -> dict[str, BuiltQuery]:
    time_range = TimeRange.of(request)
    queries = {"pages": _pages_query(request, time_range)}
    if request.compare_previous:
        # the previous period's most viewed MAX_PAGES: a page beyond them shows as not viewed then (null)
        previous = request.model_copy(update={"trend": False, "max_pages": MAX_PAGES})
        queries["previous"] = _pages_query(previous, time_range.shifted_back())
    return queries


def persons_query(request: PageQuery) -> BuiltQuery:
    """The persons with at least one view of the page (after cleaning) in the range: no sessions needed."""
    page, params = request.persons, SqlParams()
    where = all_of([
        *scope_conditions(request, params, [request.page_view.event]),
        selector_condition(request.page_view, params, "view_event"),
        f"{_page_expr(request, params)} = {params.add('page_value', page.page, 'String')}",
    ])  # fmt: skip
    keys = f"""
SELECT DISTINCT {PERSON_KEY} AS person FROM {TABLE}
WHERE {where}
{page_clause(page, params, "person")}"""
    return params.query(latest_persons_sql(request, params, [request.page_view.event], keys))


FIGURES = ("views", "persons", "entries", "exits", "bounce_rate", "exit_rate", "avg_seconds", "median_seconds", "median_scroll_depth")


def _figures(record: dict) -> dict:
    views, entries = int(record["views"]), int(record["entries"])
    return {
        "views": views,
        "persons": int(record["persons"]),
        "entries": entries,
        "exits": int(record["exits"]),
        "bounces": int(record["bounces"]),
        "bounce_rate": ratio(int(record["bounces"]), entries),
        "exit_rate": ratio(int(record["exits"]), views),
        "avg_seconds": clean(record["avg_seconds"]),
        "median_seconds": clean(record["median_seconds"]),
        "median_scroll_depth": clean(record["median_scroll_depth"]),
    }


def shape(request: PageQuery, results: dict[str, Rows]) -> dict:
    records = results["pages"].dicts()
    first_day = TimeRange.of(request).days()[0]
    pages = []
    for record in records[: request.max_pages]:
        entry = {"page": record["page"], **_figures(record)}
        if request.trend:
            entry["trend"] = [
                {"day": clean(first_day + dt.timedelta(days=i)), "views": int(views)} for i, views in enumerate(record["views_by_day"]) if views
            ]
        pages.append(entry)
    response = {"pages": pages, "truncated": len(records) > request.max_pages}
    if "previous" in results:
        # the previous period's figures of the same pages (null: not viewed then), and the change in views
        before = {r["page"]: _figures(r) for r in results["previous"].dicts()}
        for entry in pages:
            entry["previous"] = before.get(entry["page"])
            entry["views_change"] = ratio(entry["views"] - entry["previous"]["views"], entry["previous"]["views"]) if entry["previous"] else None
    if "persons" in results:
        page = request.persons
        response["persons"] = persons_view(results["persons"], page=page.page, offset=page.offset)
    columns = ["page", *FIGURES]
    return {**response, **table(columns, [[p[c] for c in columns] for p in pages])}


MODEL = AnalysisModel(
    request_type=PageQuery,
    build=build,
    shape=shape,
    persons=persons_query,
    summary="Per page: views, persons, entries, exits, bounce rate, time on page, scroll depth, trend and previous period",
)
