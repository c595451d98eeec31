"""Event analysis: counts, unique persons, per-person average and numeric-property aggregates of events over
time buckets, grouped by up to 3 properties, optionally next to the previous period of the same length."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipelines.analysis.contract import AnalysisModel
from pipelines.analysis.expr import all_of
from pipelines.analysis.filters import breakdown_expr, numeric_expr, scope_conditions, selector_condition
from pipelines.analysis.request import Breakdown, EventSelector, Name, QueryScope, breakdown_label
from pipelines.analysis.schema import PERSON_KEY, TABLE
from pipelines.analysis.shaping import Rows, clean, table
from pipelines.analysis.sqlparams import BuiltQuery, SqlParams
from pipelines.analysis.timerange import BUCKETS, TimeRange, tz_placeholder

PROPERTY_MATHS = ("sum", "avg", "min", "max")


class Metric(EventSelector):
    math: Literal["total", "unique_persons", "per_person_avg", "sum", "avg", "min", "max"] = "total"
    property: Name | None = Field(None, description="numeric property for sum/avg/min/max")

    @model_validator(mode="after")
    def _property_for_math(self) -> "Metric":
        if self.math in PROPERTY_MATHS and not self.property:
            raise ValueError(f"math {self.math!r} needs a numeric property")
        if self.math not in PROPERTY_MATHS and self.property:
            raise ValueError(f"math {self.math!r} takes no property")
        return self


class EventQuery(QueryScope):
    model: Literal["event"] = "event"
    metrics: list[Metric] = Field(min_length=1, max_length=10)
    group_by: list[Breakdown] = Field(default_factory=list, max_length=3, description="properties, {\"tag\": name} or {\"audience\": [names]}")
    granularity: Literal["minute", "hour", "day", "week", "month"] = "day"
    compare_previous: bool = False
    max_rows: int = Field(10_000, ge=1, le=1_000_000, description="most (bucket, group) rows returned")


def _metric_sql(metric: Metric, index: int, params: SqlParams) -> str:
    matches = selector_condition(metric, params, hint=f"metric_{index}_event")
    if metric.math == "total":
        return f"countIf({matches})"
    if metric.math == "unique_persons":
        return f"uniqExactIf({PERSON_KEY}, {matches})"
    if metric.math == "per_person_avg":
        return f"countIf({matches}) / nullIf(uniqExactIf({PERSON_KEY}, {matches}), 0)"
    aggregate = f"{metric.math}If({numeric_expr(metric.property, params)}, {matches})"
    # A sum over no events is 0; avg/min/max over none stay NULL (there is no value to report).
    return f"ifNull({aggregate}, 0)" if metric.math == "sum" else aggregate


def _series_query(request: EventQuery, time_range: TimeRange) -> BuiltQuery:
    params = SqlParams()
    tz = tz_placeholder(params, request.timezone)
    groups = [f"{breakdown_expr(name, params)} AS group_{i + 1}" for i, name in enumerate(request.group_by)]
    metrics = [f"{_metric_sql(m, i + 1, params)} AS metric_{i + 1}" for i, m in enumerate(request.metrics)]
    where = all_of(scope_conditions(request, params, [m.event for m in request.metrics], time_range))
    keys = ["bucket"] + [f"group_{i + 1}" for i in range(len(groups))]
    select = ",\n    ".join([f"toString({BUCKETS[request.granularity].format(tz=tz)}) AS bucket", *groups, *metrics])
    limit = params.add("max_rows", request.max_rows + 1, "UInt64")  # one more tells the response it was cut
    return params.query(
        f"""
SELECT
    {select}
FROM {TABLE}
WHERE {where}
GROUP BY {', '.join(keys)}
ORDER BY {', '.join(keys)}
LIMIT {limit}"""
    )


def build(request: EventQuery) -> dict[str, BuiltQuery]:
    time_range = TimeRange.of(request)
    queries = {"series": _series_query(request, time_range)}
    if request.compare_previous:
        queries["previous"] = _series_query(request, time_range.shifted_back())
    return queries


def _series(request: EventQuery, rows: Rows) -> list[dict]:
    out = []
    for record in rows.dicts()[: request.max_rows]:
        out.append(
            {
                "bucket": record["bucket"],
                "groups": [record[f"group_{i + 1}"] for i in range(len(request.group_by))],
                "values": clean([record[f"metric_{i + 1}"] for i in range(len(request.metrics))]),
            }
        )
    return out


def shape(request: EventQuery, results: dict[str, Rows]) -> dict:
    series = _series(request, results["series"])
    columns = ["bucket", *map(breakdown_label, request.group_by), *(f"{m.math}({m.event}{'.' + m.property if m.property else ''})" for m in request.metrics)]
    response = {
        "series": series,
        **table(columns, [[s["bucket"], *s["groups"], *s["values"]] for s in series]),
        # more (bucket, group) rows than max_rows: the first max_rows in (bucket, group) order are returned
        "truncated": len(results["series"].rows) > request.max_rows,
    }
    if "previous" in results:
        # Previous-period buckets are listed in their own time; position i lines up with the i-th bucket now.
        response["previous"] = _series(request, results["previous"])
        response["previous_truncated"] = len(results["previous"].rows) > request.max_rows
    return response


MODEL = AnalysisModel(
    request_type=EventQuery,
    build=build,
    shape=shape,
    summary="Counts, unique persons and property aggregates of events over time, grouped by properties",
)
