"""Stickiness: on how many days of each week (or month) persons were active, as a distribution per period.

Active on a day: did the `event` (with its filters, the global filters and sampling) at least once that day in the
request's timezone. Only the range's events count: a week or month the range cuts has `days_in_range` days, and
its persons are active on 1 to `days_in_range` of them. Persons inactive in a period are not counted in it.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from pipelines.analysis.contract import AnalysisModel
from pipelines.analysis.expr import all_of
from pipelines.analysis.filters import scope_conditions, selector_condition
from pipelines.analysis.lifecycle import cell_keys_sql, cells_sql, check_period_count, next_period, periods_of
from pipelines.analysis.persons import Page, latest_persons_sql, persons_view
from pipelines.analysis.request import EventSelector, QueryScope
from pipelines.analysis.schema import PERSON_KEY, TABLE
from pipelines.analysis.shaping import Rows, ratio, table
from pipelines.analysis.sqlparams import BuiltQuery, SqlParams
from pipelines.analysis.timerange import PERIOD_START, TimeRange, tz_placeholder

MAX_PERIODS = 200  # a row of up to 31 figures each


class StickinessPersons(Page):
    """The persons of one figure: the period (its first day) and the number of days they were active in it."""

    period: dt.date
    days: int = Field(ge=1, le=31)


class StickinessQuery(QueryScope):
    model: Literal["stickiness"] = "stickiness"
    event: EventSelector = Field(description='the activity ("$any": any event)')
    period: Literal["week", "month"] = "week"
    persons: StickinessPersons | None = None

    @model_validator(mode="after")
    def _bounded(self) -> "StickinessQuery":
        check_period_count(self, self.period, MAX_PERIODS)
        if self.persons:
            days = dict(_days_in_range(self))
            if self.persons.period not in days:
                raise ValueError(f"persons.period: not the first day of one of the range's {self.period}s")
            if self.persons.days > days[self.persons.period]:
                raise ValueError(f"persons.days: that {self.period} has {days[self.persons.period]} days in the range")
        return self


def _days_in_range(request: StickinessQuery) -> list[tuple[dt.date, int]]:
    """(first day, days of it in the range) for each period the range touches."""
    first_day, days = TimeRange.of(request).days()
    last_day = first_day + dt.timedelta(days=days - 1)
    out = []
    for start in periods_of(TimeRange.of(request), request.period):
        end = next_period(start, request.period) - dt.timedelta(days=1)
        out.append((start, (min(end, last_day) - max(start, first_day)).days + 1))
    return out


def _active_days_cte(request: StickinessQuery, params: SqlParams) -> str:
    tz = tz_placeholder(params, request.timezone)
    where = all_of([*scope_conditions(request, params, [request.event.event]), selector_condition(request.event, params, "activity_event")])
    return f"""
WITH per_period AS (
    SELECT {PERSON_KEY} AS person_key, {PERIOD_START[request.period].format(tz=tz)} AS period, uniqExact(toDate(ts, {tz})) AS days
    FROM {TABLE}
    WHERE {where}
    GROUP BY person_key, period
)"""


def build(request: StickinessQuery) -> dict[str, BuiltQuery]:
    params = SqlParams()
    return {"stickiness": params.query(cells_sql(_active_days_cte(request, params), "per_period", "days"))}


def persons_query(request: StickinessQuery) -> BuiltQuery:
    page = request.persons
    params = SqlParams()
    cte = _active_days_cte(request, params)
    cell = params.add("period", page.period, "Date"), params.add("days", page.days, "UInt64")
    keys = cell_keys_sql("per_period", "days", cell, page, params)
    return params.query(cte + latest_persons_sql(request, params, [request.event.event], keys))


def shape(request: StickinessQuery, results: dict[str, Rows]) -> dict:
    counts = {(period, int(days)): int(persons) for period, days, persons in results["stickiness"].rows}
    periods = []
    for start, days in _days_in_range(request):
        by_days = [counts.get((start, k), 0) for k in range(1, days + 1)]
        persons = sum(by_days)
        periods.append(
            {
                "period": start.isoformat(),
                "days_in_range": days,
                "persons": persons,
                "persons_by_days": by_days,  # [active on exactly 1 day, 2 days, ...]
                "mean_days": ratio(sum(k * n for k, n in enumerate(by_days, 1)), persons),
            }
        )
    most = max((p["days_in_range"] for p in periods), default=0)
    rows = [[p["period"], p["persons"], *p["persons_by_days"], *[None] * (most - p["days_in_range"])] for p in periods]
    response = {"periods": periods, **table(["period", "persons", *(f"days_{k}" for k in range(1, most + 1))], rows)}
    if "persons" in results:
        page = request.persons
        response["persons"] = persons_view(results["persons"], period=page.period.isoformat(), days=page.days, offset=page.offset)
    return response


MODEL = AnalysisModel(
    request_type=StickinessQuery,
    build=build,
    shape=shape,
    persons=persons_query,
    summary="On how many days of each week or month persons were active",
)
