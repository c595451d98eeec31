"""Distribution analysis: how many times each person did an event in the range (or the sum of a numeric
property over their events), bucketed. Only persons who did the event at least once are counted."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from pipelines.analysis.contract import AnalysisModel
from pipelines.analysis.expr import all_of
from pipelines.analysis.filters import QUANTILE_LEVELS, histogram_sql, numeric_expr, quantiles_sql, scope_conditions, selector_condition
from pipelines.analysis.persons import Page, in_bucket, latest_persons_sql, page_clause, persons_view
from pipelines.analysis.request import EventSelector, Name, QueryScope, ascending_edges
from pipelines.analysis.schema import PERSON_KEY, TABLE
from pipelines.analysis.shaping import Rows, clean, histogram_view, table
from pipelines.analysis.sqlparams import BuiltQuery, SqlParams

DEFAULT_EDGES = [1, 2, 3, 4, 5, 10, 20, 50, 100]


class DistributionPersons(Page):
    """The persons in one bucket (its index in `bucket_edges`): whose value is in [edge, next edge)."""

    bucket: int = Field(ge=0, lt=100)


class DistributionQuery(QueryScope):
    model: Literal["distribution"] = "distribution"
    event: EventSelector
    measure: Literal["count", "sum"] = "count"
    property: Name | None = Field(None, description="numeric property summed per person when measure is sum")
    bucket_edges: list[float] = Field(default_factory=lambda: list(DEFAULT_EDGES), min_length=1, max_length=100)
    persons: DistributionPersons | None = None

    _edges = field_validator("bucket_edges")(ascending_edges)

    @model_validator(mode="after")
    def _property_for_sum(self) -> "DistributionQuery":
        if (self.measure == "sum") != (self.property is not None):
            raise ValueError("property: give a numeric property exactly when measure is 'sum'")
        if self.persons and self.persons.bucket >= len(self.bucket_edges):
            raise ValueError(f"persons.bucket: there are {len(self.bucket_edges)} buckets (0-based)")
        return self


def _per_person_cte(request: DistributionQuery, params: SqlParams) -> str:
    """`per_person`: each person's count (or sum) over the selected events."""
    where = all_of([*scope_conditions(request, params, [request.event.event]), selector_condition(request.event, params)])
    value = "count()" if request.measure == "count" else f"sum({numeric_expr(request.property, params)})"
    return f"""
WITH per_person AS (
    SELECT {PERSON_KEY} AS person, toFloat64(ifNull({value}, 0)) AS value
    FROM {TABLE}
    WHERE {where}
    GROUP BY person
)"""


def build(request: DistributionQuery) -> dict[str, BuiltQuery]:
    params = SqlParams()
    cte = _per_person_cte(request, params)
    edges = params.add("bucket_edges", [float(e) for e in request.bucket_edges], "Array(Float64)")
    sql = f"""{cte}
SELECT
    count() AS persons,
    avg(value) AS mean,
    {quantiles_sql('value')} AS quantiles,
    {histogram_sql('value', edges)} AS histogram
FROM per_person"""
    return {"distribution": params.query(sql)}


def persons_query(request: DistributionQuery) -> BuiltQuery:
    """The persons whose value falls in the page's bucket, as the histogram counts them."""
    page, params = request.persons, SqlParams()
    cte = _per_person_cte(request, params)
    keys = f"""{cte}
SELECT person FROM per_person
WHERE {in_bucket("value", request.bucket_edges, page.bucket, params)}
{page_clause(page, params, "person")}"""
    return params.query(latest_persons_sql(request, params, [request.event.event], keys))


def shape(request: DistributionQuery, results: dict[str, Rows]) -> dict:
    record = results["distribution"].dicts()[0]
    persons = int(record["persons"])
    quantiles = clean(list(record["quantiles"])) if persons else [None] * len(QUANTILE_LEVELS)
    buckets = histogram_view(request.bucket_edges, record["histogram"])
    below = persons - sum(b["count"] for b in buckets)  # persons whose value is under the first edge
    response = {
        "persons": persons,
        "mean": clean(record["mean"]) if persons else None,
        **{f"p{round(level * 100)}": q for level, q in zip(QUANTILE_LEVELS, quantiles)},
        "buckets": buckets,
        "below_first_edge": below,
    }
    rows = [[b["from"], b["to"], b["count"]] for b in buckets]
    if "persons" in results:
        page = request.persons
        response["persons"] = persons_view(results["persons"], bucket=page.bucket, offset=page.offset)
    return {**response, **table(["from", "to", "persons"], rows)}


MODEL = AnalysisModel(
    request_type=DistributionQuery,
    build=build,
    shape=shape,
    persons=persons_query,
    summary="How often each person did an event (or the sum of a property), bucketed",
)
