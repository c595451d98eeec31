"""Retention: of the persons who did the initial event in a period (their cohort), how many did the return
event in each of the next N periods.

`recurring`: a person joins the cohort of every period in the range in which they did the initial event.
`first_time`: a person joins only the cohort of the period of their first initial event ever, and only if that
first time falls inside the range. Returns are counted in periods 1..N after the cohort (period 0 is the cohort).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipelines.analysis.contract import AnalysisModel
from pipelines.analysis.expr import all_of
from pipelines.analysis.filters import scope_conditions, selector_condition
from pipelines.analysis.request import EventSelector, QueryScope
from pipelines.analysis.schema import PERSON_KEY, TABLE
from pipelines.analysis.shaping import Rows, clean, ratio, table
from pipelines.analysis.sqlparams import BuiltQuery, SqlParams
from pipelines.analysis.timerange import PERIOD_MAX_DAYS, PERIOD_START, PERIODS_BETWEEN, TimeRange, tz_placeholder

EARLIEST_MS = 0  # first_time looks back to the start of the data


class RetentionQuery(QueryScope):
    model: Literal["retention"] = "retention"
    initial: EventSelector
    returning: EventSelector
    period: Literal["day", "week", "month"] = "day"
    periods: int = Field(7, ge=1, le=120, description="how many periods after the cohort to follow")
    mode: Literal["recurring", "first_time"] = "recurring"


def build(request: RetentionQuery) -> dict[str, BuiltQuery]:
    params = SqlParams()
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
    later = PERIODS_BETWEEN[request.period].format(start="cohort", end="r")
    periods = params.add("periods", request.periods, "UInt32")
    sql = f"""
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
)
SELECT
    cohort,
    count() AS persons,
    sumMap(arrayFilter(k -> k BETWEEN 1 AND {periods}, arrayMap(r -> {later}, returns)) AS returned_after, arrayMap(k -> toUInt64(1), returned_after)) AS returned
FROM per_person
ARRAY JOIN cohorts AS cohort
GROUP BY cohort
ORDER BY cohort"""
    return {"cohorts": params.query(sql)}


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
    return {"cohorts": cohorts, **table(columns, rows)}


MODEL = AnalysisModel(
    request_type=RetentionQuery,
    build=build,
    shape=shape,
    summary="Of the persons who did an initial event in a period, how many returned in each later period",
)
