"""Lifecycle: for each period of the range, the persons active in it split by how they came (new, returning,
resurrecting), and the persons who stopped (dormant), as PostHog's lifecycle insight shows them.

Active in a period: did the `event` (with its filters, the global filters and sampling) at least once in it.
For a period P of the range:
- new: active in P, and P is the first period they were ever active in (their history is read, not only the
  range; PostHog uses the person's creation time instead, which the warehouse does not have);
- returning: active in P and in the period before P;
- resurrecting: active in P, not in the period before, but in some earlier period;
- dormant: not active in P but active in the period before it (PostHog draws these as negative bars).
Every active person has exactly one of the first three statuses in a period; dormant persons are not active in it.
Periods are days, weeks (Monday) or months in the request's timezone; the reported periods are those the range
touches, and a person's activity is every matching event before the range's end (so the first period counts the
events of its days before `date_from` too, as the period before it does for `dormant`).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from pipelines.analysis.contract import AnalysisModel
from pipelines.analysis.expr import all_of
from pipelines.analysis.filters import scope_conditions, selector_condition
from pipelines.analysis.persons import Page, latest_persons_sql, page_clause, persons_view
from pipelines.analysis.request import EventSelector, QueryScope
from pipelines.analysis.schema import PERSON_KEY, TABLE
from pipelines.analysis.shaping import Rows, table
from pipelines.analysis.sqlparams import BuiltQuery, SqlParams
from pipelines.analysis.timerange import PERIOD_START, TimeRange, tz_placeholder

EARLIEST_MS = 0  # "new" needs the person's first activity ever
MAX_PERIODS = 400  # bars in one chart: more than a year of days
STATUSES = ("new", "returning", "resurrecting", "dormant")
Period = Literal["day", "week", "month"]
# The period after / before a period's first day (a Date), in SQL.
_NEXT = {"day": "addDays({p}, 1)", "week": "addDays({p}, 7)", "month": "addMonths({p}, 1)"}
_PREVIOUS = {"day": "subtractDays({p}, 1)", "week": "subtractDays({p}, 7)", "month": "addMonths({p}, -1)"}


def period_of(day: dt.date, period: str) -> dt.date:
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def next_period(start: dt.date, period: str) -> dt.date:
    if period == "month":
        return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start + dt.timedelta(days=7 if period == "week" else 1)


def periods_of(time_range: TimeRange, period: str) -> list[dt.date]:
    """The first days of the periods the range touches, in its timezone."""
    first_day, days = time_range.days()
    last = period_of(first_day + dt.timedelta(days=days - 1), period)
    out = [period_of(first_day, period)]
    while out[-1] < last:
        out.append(next_period(out[-1], period))
    return out


def check_period_count(scope, period: str, limit: int = MAX_PERIODS) -> None:
    count = len(periods_of(TimeRange.of(scope), period))
    if count > limit:
        raise ValueError(f"period: the range has {count:,} {period}s, at most {limit:,}: choose a longer period or a shorter range")


class LifecyclePersons(Page):
    """The persons of one bar: the period (its first day) and the status."""

    period: dt.date
    status: Literal["new", "returning", "resurrecting", "dormant"]


class LifecycleQuery(QueryScope):
    model: Literal["lifecycle"] = "lifecycle"
    event: EventSelector = Field(description='the activity ("$any": any event)')
    period: Period = "day"
    persons: LifecyclePersons | None = None

    @model_validator(mode="after")
    def _bounded(self) -> "LifecycleQuery":
        check_period_count(self, self.period)
        if self.persons and self.persons.period not in periods_of(TimeRange.of(self), self.period):
            raise ValueError(f"persons.period: not the first day of one of the range's {self.period}s")
        return self


def _statuses_cte(request: LifecycleQuery, params: SqlParams) -> str:
    """CTEs down to `statuses`: one row per (person, reported period, status)."""
    time_range = TimeRange.of(request)
    read_range = TimeRange(EARLIEST_MS, time_range.end_ms, time_range.timezone)
    tz = tz_placeholder(params, request.timezone)
    where = all_of([*scope_conditions(request, params, [request.event.event], read_range), selector_condition(request.event, params, "activity_event")])
    periods = periods_of(time_range, request.period)
    first, last = params.add("first_period", periods[0], "Date"), params.add("last_period", periods[-1], "Date")
    after, before = _NEXT[request.period], _PREVIOUS[request.period]
    # Over each person's sorted active periods: the first is new, one right after the previous returning, any other
    # resurrecting; a period not followed by the next one leaves the person dormant in that next period.
    came = (
        f"arrayMap((p, k, previous) -> (p, multiIf(k = 1, 'new', previous = {before.format(p='p')}, 'returning', 'resurrecting')), "
        "active, arrayEnumerate(active), arrayShiftRight(active, 1))"
    )
    left = f"arrayMap(p -> ({after.format(p='p')}, 'dormant'), arrayFilter((p, following) -> following != {after.format(p='p')}, active, arrayShiftLeft(active, 1)))"
    return f"""
WITH
per_person AS (
    SELECT {PERSON_KEY} AS person_key, arraySort(groupUniqArray({PERIOD_START[request.period].format(tz=tz)})) AS active
    FROM {TABLE}
    WHERE {where}
    GROUP BY person_key
),
statuses AS (
    SELECT person_key, cell.1 AS period, cell.2 AS status
    FROM per_person
    ARRAY JOIN arrayConcat({came}, {left}) AS cell
    WHERE period BETWEEN {first} AND {last}
)"""


def cells_sql(cte: str, source: str, column: str) -> str:
    """Persons per (period, `column`) of `source`, a CTE of one row per person and period (lifecycle, stickiness)."""
    return f"{cte}\nSELECT period, {column}, count() AS persons\nFROM {source}\nGROUP BY period, {column}\nORDER BY period, {column}"


def cell_keys_sql(source: str, column: str, cell: tuple[str, str], page: Page, params: SqlParams) -> str:
    """The page of person keys of one (period, `column` value) cell of `source`: `cell` holds their placeholders."""
    period, value = cell
    return f"    SELECT person_key FROM {source} WHERE period = {period} AND {column} = {value}\n    {page_clause(page, params, 'person_key')}"


def build(request: LifecycleQuery) -> dict[str, BuiltQuery]:
    params = SqlParams()
    return {"lifecycle": params.query(cells_sql(_statuses_cte(request, params), "statuses", "status"))}


def persons_query(request: LifecycleQuery) -> BuiltQuery:
    page = request.persons
    params = SqlParams()
    cte = _statuses_cte(request, params)
    cell = params.add("period", page.period, "Date"), params.add("status", page.status, "String")
    keys = cell_keys_sql("statuses", "status", cell, page, params)
    # from the history read, not only the range: a person dormant in the first period may have no event in it
    history = TimeRange(EARLIEST_MS, TimeRange.of(request).end_ms, request.timezone)
    return params.query(cte + latest_persons_sql(request, params, [request.event.event], keys, history))


def shape(request: LifecycleQuery, results: dict[str, Rows]) -> dict:
    counts = {(period, status): int(persons) for period, status, persons in results["lifecycle"].rows}
    periods = [
        {"period": p.isoformat(), **{s: counts.get((p, s), 0) for s in STATUSES}} for p in periods_of(TimeRange.of(request), request.period)
    ]
    for bar in periods:
        bar["active"] = bar["new"] + bar["returning"] + bar["resurrecting"]
    response = {"periods": periods, **table(["period", *STATUSES, "active"], [[b["period"], *(b[s] for s in STATUSES), b["active"]] for b in periods])}
    if "persons" in results:
        page = request.persons
        response["persons"] = persons_view(results["persons"], period=page.period.isoformat(), status=page.status, offset=page.offset)
    return response


MODEL = AnalysisModel(
    request_type=LifecycleQuery,
    build=build,
    shape=shape,
    persons=persons_query,
    summary="Per period, the active persons who are new, returning or resurrecting, and those gone dormant",
)
