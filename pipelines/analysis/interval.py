"""Interval analysis (间隔分析): for each start event of a person, the time until the next end event of the same
person (optionally with the same value of a property), summarised as quantiles, mean and a histogram, grouped
by a property of the start event.

"Next" is the earliest end event at or after the start event's time that is not the start event itself, so when
start and end are the same event name it is the following occurrence. Start events with no later end event are
counted as `unmatched`, not as intervals.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from pipelines.analysis.contract import AnalysisModel
from pipelines.analysis.expr import all_of
from pipelines.analysis.filters import (
    QUANTILE_LEVELS,
    breakdown_expr,
    histogram_sql,
    property_expr,
    quantiles_sql,
    scope_conditions,
    selector_condition,
)
from pipelines.analysis.persons import Page, in_bucket, latest_persons_sql, page_clause, persons_view
from pipelines.analysis.request import Breakdown, EventSelector, Name, QueryScope, Text, ascending_edges
from pipelines.analysis.schema import PERSON_KEY, TABLE
from pipelines.analysis.shaping import Rows, clean, histogram_view, table
from pipelines.analysis.sqlparams import BuiltQuery, SqlParams

DEFAULT_EDGES_S = [0, 60, 300, 900, 3600, 6 * 3600, 86_400, 3 * 86_400, 7 * 86_400, 30 * 86_400]


class IntervalPersons(Page):
    """The persons behind a histogram bucket (its index in `bucket_edges_seconds`) or behind `unmatched`, in one
    group (its value, when the request has `group_by`): those with at least one such interval (start event)."""

    bucket: int | None = Field(None, ge=0, lt=100)
    unmatched: bool = False
    group: Text | None = None

    @model_validator(mode="after")
    def _one_cell(self) -> "IntervalPersons":
        if (self.bucket is None) == (not self.unmatched):
            raise ValueError("give either bucket (a histogram bucket's index) or unmatched: true")
        return self


class IntervalQuery(QueryScope):
    model: Literal["interval"] = "interval"
    start: EventSelector
    end: EventSelector
    same_property: Name | None = Field(None, description="pair only events with the same value of this property")
    group_by: Breakdown | None = Field(None, description="property of the start event, or the person's tag or audience")
    bucket_edges_seconds: list[float] = Field(default_factory=lambda: list(DEFAULT_EDGES_S), min_length=1, max_length=100)

    persons: IntervalPersons | None = None

    _edges = field_validator("bucket_edges_seconds")(ascending_edges)

    @model_validator(mode="after")
    def _persons_cell(self) -> "IntervalQuery":
        page = self.persons
        if page and page.bucket is not None and page.bucket >= len(self.bucket_edges_seconds):
            raise ValueError(f"persons.bucket: the histogram has {len(self.bucket_edges_seconds)} buckets (0-based)")
        if page and (page.group is not None) != (self.group_by is not None):
            raise ValueError("persons.group: give the group's value exactly when the request has group_by")
        return self


def _pairs_cte(request: IntervalQuery, params: SqlParams) -> str:
    """CTEs down to `pairs`: one row per start event with its person, group and seconds to the next end (NULL:
    unmatched)."""
    where = all_of(scope_conditions(request, params, [request.start.event, request.end.event]))
    link = property_expr(request.same_property, params) if request.same_property else "''"
    group = breakdown_expr(request.group_by, params) if request.group_by else "''"
    is_start = selector_condition(request.start, params, "start_event")
    is_end = selector_condition(request.end, params, "end_event")
    return f"""
WITH
rows AS (
    SELECT {PERSON_KEY} AS person, {link} AS link, {group} AS grp, toUnixTimestamp64Milli(ts) AS t, event_id,
           {is_start} AS is_start, {is_end} AS is_end
    FROM {TABLE}
    WHERE {where}
),
per_person AS (
    SELECT person, groupArrayIf((t, event_id, grp), is_start) AS starts, arraySort(groupArrayIf((t, event_id), is_end)) AS ends
    FROM rows
    WHERE is_start OR is_end
    GROUP BY person, link
),
pairs AS (
    SELECT person, start.3 AS grp,
           arrayFirstIndex(e -> e.1 >= start.1 AND e.2 != start.2, ends) AS next_end,
           if(next_end > 0, (ends[next_end].1 - start.1) / 1000, NULL) AS seconds
    FROM per_person
    ARRAY JOIN starts AS start
)"""


def build(request: IntervalQuery) -> dict[str, BuiltQuery]:
    params = SqlParams()
    ctes = _pairs_cte(request, params)
    edges = params.add("bucket_edges_s", [float(e) for e in request.bucket_edges_seconds], "Array(Float64)")
    sql = f"""{ctes}
SELECT
    grp,
    count(seconds) AS intervals,
    countIf(seconds IS NULL) AS unmatched,
    avg(seconds) AS mean_seconds,
    {quantiles_sql('seconds')} AS quantiles,
    {histogram_sql('assumeNotNull(seconds)', edges, only_if='seconds IS NOT NULL')} AS histogram
FROM pairs
GROUP BY grp
ORDER BY intervals DESC, grp"""
    return {"intervals": params.query(sql)}


def persons_query(request: IntervalQuery) -> BuiltQuery:
    """The persons with at least one interval in the page's bucket (or an unmatched start), in its group."""
    page, params = request.persons, SqlParams()
    ctes = _pairs_cte(request, params)
    if page.unmatched:
        cell = ["seconds IS NULL"]
    else:
        cell = [in_bucket("seconds", request.bucket_edges_seconds, page.bucket, params)]
    if page.group is not None:
        cell.append(f"grp = {params.add('group_value', page.group, 'String')}")
    keys = f"""{ctes}
SELECT DISTINCT person FROM pairs
WHERE {all_of(cell)}
{page_clause(page, params, "person")}"""
    return params.query(latest_persons_sql(request, params, [request.start.event, request.end.event], keys))


def shape(request: IntervalQuery, results: dict[str, Rows]) -> dict:
    groups = []
    for record in results["intervals"].dicts():
        quantiles = clean(list(record["quantiles"])) if record["intervals"] else [None] * len(QUANTILE_LEVELS)
        groups.append(
            {
                "group": record["grp"] if request.group_by else None,
                "intervals": int(record["intervals"]),
                "unmatched": int(record["unmatched"]),
                "mean_seconds": clean(record["mean_seconds"]),
                **{f"p{round(level * 100)}_seconds": q for level, q in zip(QUANTILE_LEVELS, quantiles)},
                "histogram": histogram_view(request.bucket_edges_seconds, record["histogram"]),
            }
        )
    columns = ["group", "intervals", "unmatched", "mean_seconds", *(f"p{round(l * 100)}_seconds" for l in QUANTILE_LEVELS)]
    response = {"groups": groups, **table(columns, [[g[c] for c in columns] for g in groups])}
    if "persons" in results:
        page = request.persons
        response["persons"] = persons_view(
            results["persons"], bucket=page.bucket, unmatched=page.unmatched, group=page.group, offset=page.offset
        )
    return response


MODEL = AnalysisModel(
    request_type=IntervalQuery,
    build=build,
    shape=shape,
    persons=persons_query,
    summary="Time from each start event to the same person's next end event: quantiles, mean, histogram",
)
