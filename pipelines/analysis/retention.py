"""Retention: of the persons who did the initial event in a period (their cohort), how many did the return
event in each of the next N periods.

`recurring`: a person joins the cohort of every period in the range in which they did the initial event.
`first_time`: a person joins only the cohort of the period of their first initial event ever, and only if that
first time falls inside the range. Returns are counted in periods 1..N after the cohort (period 0 is the cohort).
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
from pipelines.analysis.shaping import Rows, clean, ratio, table
from pipelines.analysis.sqlparams import BuiltQuery, SqlParams
from pipelines.analysis.timerange import PERIOD_MAX_DAYS, PERIOD_START, PERIODS_BETWEEN, TimeRange, tz_placeholder

EARLIEST_MS = 0  # first_time looks back to the start of the data


class RetentionPersons(Page):
    """The persons of one cell: the cohort (its first day) and the period after it (0: the whole cohort)."""

    cohort: dt.date
    period: int = Field(0, ge=0, le=120)


class RetentionQuery(QueryScope):
    model: Literal["retention"] = "retention"
    initial: EventSelector
    returning: EventSelector
    period: Literal["day", "week", "month"] = "day"
    periods: int = Field(7, ge=1, le=120, description="how many periods after the cohort to follow")
    mode: Literal["recurring", "first_time"] = "recurring"
    persons: RetentionPersons | None = None

    @model_validator(mode="after")
    def _cell_in_table(self) -> "RetentionQuery":
        if self.persons and self.persons.period > self.periods:
            raise ValueError(f"persons.period: the table has periods 0..{self.periods}")
        return self


def _per_person_cte(request: RetentionQuery, params: SqlParams) -> tuple[str, list[str]]:
    """CTEs down to `per_person` (person_key, the cohorts they joined, their return periods) and the events read."""
    cohort_range = TimeRange.of(request)
    # Returns may come up to N periods after the last cohort; first_time also reads earlier initial events.
    read_range = cohort_range.extended(request.periods * PERIOD_MAX_DAYS[request.period] * 86_400_000)
    if request.mode == "first_time":
        read_range = TimeRange(EARLIEST_MS, read_range.end_ms, read_range.timezone)
    tz = tz_placeholder(params, request.timezone)
    where = all_of(scope_conditions(request, params, [request.initial.event, request.returning.event], read_range))
    initial = selector_condition(request.initial, params, "initial_event")
    returning = selector_condition(request.returning, params, "return_event")
    in_cohort_range = cohort_range.condition(params, "cohort_from", "cohort_to")
    if request.mode == "recurring":
        cohorts = f"groupUniqArrayIf(period, is_initial AND in_range) AS cohorts"
    else:
        cohorts = (
            "if(minIf(ts, is_initial) = minIf(ts, is_initial AND in_range), "
            "[argMinIf(period, ts, is_initial)], []) AS cohorts"
        )
    return f"""
WITH
rows AS (
    SELECT {PERSON_KEY} AS person_key, ts, {PERIOD_START[request.period].format(tz=tz)} AS period,
           {initial} AS is_initial, {returning} AS is_return, {in_cohort_range} AS in_range
    FROM {TABLE}
    WHERE {where}
),
per_person AS (
    SELECT person_key, {cohorts}, groupUniqArrayIf(period, is_return) AS returns
    FROM rows
    GROUP BY person_key
    HAVING countIf(is_initial AND in_range) > 0
)""", [request.initial.event, request.returning.event]


def _periods_after(request: RetentionQuery) -> str:
    """The return periods of a per_person row as periods after `cohort`."""
    return f"arrayMap(r -> {PERIODS_BETWEEN[request.period].format(start='cohort', end='r')}, returns)"


def build(request: RetentionQuery) -> dict[str, BuiltQuery]:
    params = SqlParams()
    ctes, _ = _per_person_cte(request, params)
    periods = params.add("periods", request.periods, "UInt32")
    sql = f"""{ctes}
SELECT
    cohort,
    count() AS persons,
    sumMap(arrayFilter(k -> k BETWEEN 1 AND {periods}, {_periods_after(request)}) AS returned_after, arrayMap(k -> toUInt64(1), returned_after)) AS returned
FROM per_person
ARRAY JOIN cohorts AS cohort
GROUP BY cohort
ORDER BY cohort"""
    return {"cohorts": params.query(sql)}


def persons_query(request: RetentionQuery) -> BuiltQuery:
    """The persons of the page's cohort who returned in its period (period 0: all of the cohort)."""
    page, params = request.persons, SqlParams()
    ctes, events = _per_person_cte(request, params)
    cohort = params.add("cohort", page.cohort, "Date")
    returned = f"has({_periods_after(request)}, {params.add('period', page.period, 'Int64')})" if page.period else ""
    keys = f"""{ctes}
SELECT person_key FROM per_person
ARRAY JOIN cohorts AS cohort
WHERE {all_of([f"cohort = {cohort}", returned])}
{page_clause(page, params, "person_key")}"""
    return params.query(latest_persons_sql(request, params, events, keys))


def shape(request: RetentionQuery, results: dict[str, Rows]) -> dict:
    cohorts = []
    for record in results["cohorts"].dicts():
        by_period = dict(zip(*record["returned"]))
        returned = [int(by_period.get(k, 0)) for k in range(1, request.periods + 1)]
        size = int(record["persons"])
        cohorts.append(
            {
                "cohort": clean(record["cohort"]),
                "persons": size,
                "returned": returned,
                "rates": [ratio(v, size) for v in returned],
            }
        )
    columns = ["cohort", "persons", *(f"{request.period}_{k}" for k in range(1, request.periods + 1))]
    rows = [[c["cohort"], c["persons"], *c["returned"]] for c in cohorts]
    response = {"cohorts": cohorts, **table(columns, rows)}
    if "persons" in results:
        page = request.persons
        response["persons"] = persons_view(results["persons"], cohort=page.cohort.isoformat(), period=page.period, offset=page.offset)
    return response


MODEL = AnalysisModel(
    request_type=RetentionQuery,
    build=build,
    shape=shape,
    persons=persons_query,
    summary="Of the persons who did an initial event in a period, how many returned in each later period",
)
