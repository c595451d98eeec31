"""Interval analysis (间隔分析): for each start event of a person, the time until the next end event of the same
person (optionally with the same value of a property), summarised as quantiles, mean and a histogram, grouped
by a property of the start event.

"Next" is the earliest end event at or after the start event's time that is not the start event itself, so when
start and end are the same event name it is the following occurrence. Start events with no later end event are
counted as `unmatched`, not as intervals.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from pipelines.analysis.contract import AnalysisModel
from pipelines.analysis.expr import all_of
from pipelines.analysis.filters import (
    QUANTILE_LEVELS,
    histogram_sql,
    property_expr,
    quantiles_sql,
    scope_conditions,
    selector_condition,
)
from pipelines.analysis.request import EventSelector, Name, QueryScope, ascending_edges
from pipelines.analysis.schema import PERSON_KEY, TABLE
from pipelines.analysis.shaping import Rows, clean, histogram_view, table
from pipelines.analysis.sqlparams import BuiltQuery, SqlParams

DEFAULT_EDGES_S = [0, 60, 300, 900, 3600, 6 * 3600, 86_400, 3 * 86_400, 7 * 86_400, 30 * 86_400]


class IntervalQuery(QueryScope):
    model: Literal["interval"] = "interval"
    start: EventSelector
    end: EventSelector
    same_property: Name | None = Field(None, description="pair only events with the same value of this property")
    group_by: Name | None = Field(None, description="property of the start event")
    bucket_edges_seconds: list[float] = Field(default_factory=lambda: list(DEFAULT_EDGES_S), min_length=1, max_length=100)

    _edges = field_validator("bucket_edges_seconds")(ascending_edges)


def build(request: IntervalQuery) -> dict[str, BuiltQuery]:
    params = SqlParams()
    where = all_of(scope_conditions(request, params, [request.start.event, request.end.event]))
    link = property_expr(request.same_property, params) if request.same_property else "''"
    group = property_expr(request.group_by, params) if request.group_by else "''"
    is_start = selector_condition(request.start, params, "start_event")
    is_end = selector_condition(request.end, params, "end_event")
    edges = params.add("bucket_edges_s", [float(e) for e in request.bucket_edges_seconds], "Array(Float64)")
    sql = f"""
WITH
rows AS (
    SELECT {PERSON_KEY} AS person, {link} AS link, {group} AS grp, toUnixTimestamp64Milli(ts) AS t, event_id,
           {is_start} AS is_start, {is_end} AS is_end
    FROM {TABLE}
    WHERE {where}
),
per_person AS (
    SELECT groupArrayIf((t, event_id, grp), is_start) AS starts, arraySort(groupArrayIf((t, event_id), is_end)) AS ends
    FROM rows
    WHERE is_start OR is_end
    GROUP BY person, link
),
pairs AS (
    SELECT start.3 AS grp,
           arrayFirstIndex(e -> e.1 >= start.1 AND e.2 != start.2, ends) AS next_end,
           if(next_end > 0, (ends[next_end].1 - start.1) / 1000, NULL) AS seconds
    FROM per_person
    ARRAY JOIN starts AS start
)
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
    return {"groups": groups, **table(columns, [[g[c] for c in columns] for g in groups])}


MODEL = AnalysisModel(
    request_type=IntervalQuery,
    build=build,
    shape=shape,
    summary="Time from each start event to the same person's next end event: quantiles, mean, histogram",
)
