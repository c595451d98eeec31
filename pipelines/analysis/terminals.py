"""Terminal analysis (终端分析): persons, sessions and events by terminal (platform, OS and version, browser and
version, device model and brand, app version, screen size, network, carrier) or channel (utm source / medium /
campaign, referrer domain), read from the typed columns the pipeline fills once per event
(sql/migrations/0003_terminal_columns.sql), never by parsing user agents or URLs per query.

Up to 3 dimensions combine (e.g. os + os_version). Each row counts the events of the row's values, the distinct
persons who did them and the distinct sessions (`session_id`, where the SDK sent one); a person on two OS versions
counts in both rows, so rows add up to more than the total, which the same scan returns: each row's exact sets of
persons and sessions (`uniqExactState`) merged in one aggregation over the rows, a few set merges instead of every
event counted again (GROUPING SETS took a fifth more on 10M events). An empty value is "not reported". Sessions are
told apart by a 64-bit hash of their id, as persons are (counting the strings themselves took twice as long on 10M
events), and rows by a 64-bit hash of their values (the values themselves carried with `any`): grouping by two
LowCardinality strings took ~0.1 s more per 10M events than by the hash, which is computed once per dictionary entry.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipelines.analysis.contract import AnalysisModel
from pipelines.analysis.expr import all_of, any_of
from pipelines.analysis.filters import scope_conditions, selector_condition
from pipelines.analysis.persons import Page, every_event_conditions, latest_persons_sql, page_clause, persons_view
from pipelines.analysis.request import EventSelector, QueryScope, Text
from pipelines.analysis.schema import PERSON_KEY, TABLE
from pipelines.analysis.shaping import Rows, ratio, table
from pipelines.analysis.sqlparams import BuiltQuery, SqlParams

MAX_DIMENSIONS = 3
MAX_ROWS = 1_000
# Dimension -> its String expression over the detail columns ('' when not reported).
DIMENSIONS = {
    **{name: name for name in (
        "platform", "os", "os_version", "browser", "browser_version", "device_type", "device_model", "device_brand",
        "app_version", "network_type", "carrier", "utm_source", "utm_medium", "utm_campaign", "referrer_domain",
    )},
    "screen": "if(screen_width = 0 OR screen_height = 0, '', concat(toString(screen_width), 'x', toString(screen_height)))",
}  # fmt: skip
Dimension = Literal[tuple(DIMENSIONS)]


class TerminalPersons(Page):
    """The persons of one row: its dimension values, in the request's order."""

    values: list[Text] = Field(min_length=1, max_length=MAX_DIMENSIONS)


class TerminalQuery(QueryScope):
    model: Literal["terminal"] = "terminal"
    dimensions: list[Dimension] = Field(min_length=1, max_length=MAX_DIMENSIONS)
    events: list[EventSelector] = Field(
        default_factory=list, max_length=10, description="the events counted (none: every event of the app)"
    )
    max_rows: int = Field(100, ge=1, le=MAX_ROWS, description="rows returned, most persons first")
    persons: TerminalPersons | None = None

    @model_validator(mode="after")
    def _one_value_per_dimension(self) -> "TerminalQuery":
        if len(set(self.dimensions)) != len(self.dimensions):
            raise ValueError("dimensions: each dimension once")
        if self.persons and len(self.persons.values) != len(self.dimensions):
            raise ValueError(f"persons.values: one value per dimension ({len(self.dimensions)})")
        return self


def _where(request: TerminalQuery, params: SqlParams) -> str:
    if not request.events:
        return all_of(every_event_conditions(request, params))
    selected = [selector_condition(e, params, f"event_{i + 1}") for i, e in enumerate(request.events)]
    return all_of([*scope_conditions(request, params, [e.event for e in request.events]), any_of(selected)])


def build(request: TerminalQuery) -> dict[str, BuiltQuery]:
    params = SqlParams()
    where = _where(request, params)
    exprs = [DIMENSIONS[name] for name in request.dimensions]
    dims = ", ".join(f"any({e}) AS dim_{i + 1}" for i, e in enumerate(exprs))
    keys = ", ".join(f"dim_{i + 1}" for i in range(len(exprs)))
    n = len(exprs)
    columns = ", ".join([*(f"r.{i + 1} AS dim_{i + 1}" for i in range(n)), f"r.{n + 1} AS persons", f"r.{n + 2} AS sessions", f"r.{n + 3} AS events"])
    limit = params.add("max_rows", request.max_rows + 1, "UInt64")  # one more tells of a cut
    # the totals merge the rows' sets in one aggregation (not a window over the rows), the rows ride along as an array
    sql = f"""
WITH per_row AS (
    SELECT
        cityHash64({', '.join(exprs)}) AS row_key, {dims},
        uniqExactState({PERSON_KEY}) AS persons_state,
        uniqExactIfState(cityHash64(session_id), session_id != '') AS sessions_state,
        count() AS events
    FROM {TABLE}
    WHERE {where}
    GROUP BY row_key
)
SELECT {keys}, persons, sessions, events, total_persons, total_sessions, total_events
FROM (
    SELECT
        groupArray(({keys}, finalizeAggregation(persons_state), finalizeAggregation(sessions_state), events)) AS r,
        uniqExactMerge(persons_state) AS total_persons,
        uniqExactIfMerge(sessions_state) AS total_sessions,
        sum(events) AS total_events
    FROM per_row
)
ARRAY JOIN {columns}
ORDER BY persons DESC, events DESC, {keys}
LIMIT {limit}"""
    return {"terminals": params.query(sql)}


def persons_query(request: TerminalQuery) -> BuiltQuery:
    """The persons with at least one counted event of the row's values."""
    page, params = request.persons, SqlParams()
    where = _where(request, params)
    cell = [f"{DIMENSIONS[name]} = {params.add(f'value_{i + 1}', value, 'String')}" for i, (name, value) in enumerate(zip(request.dimensions, page.values))]
    keys = f"""
SELECT DISTINCT {PERSON_KEY} AS person FROM {TABLE}
WHERE {all_of([where, *cell])}
{page_clause(page, params, "person")}"""
    events = [e.event for e in request.events] or None
    return params.query(latest_persons_sql(request, params, events, keys))


def shape(request: TerminalQuery, results: dict[str, Rows]) -> dict:
    rows = results["terminals"].dicts()
    totals = {name: int(rows[0][f"total_{name}"]) if rows else 0 for name in ("persons", "sessions", "events")}
    out = [
        {
            "values": [r[f"dim_{i + 1}"] for i in range(len(request.dimensions))],
            "persons": int(r["persons"]),
            "sessions": int(r["sessions"]),
            "events": int(r["events"]),
            "persons_share": ratio(int(r["persons"]), totals["persons"]),
        }
        for r in rows[: request.max_rows]
    ]
    response = {"rows_by_value": out, "total": totals, "truncated": len(rows) > request.max_rows}
    if "persons" in results:
        page = request.persons
        response["persons"] = persons_view(results["persons"], values=page.values, offset=page.offset)
    columns = [*request.dimensions, "persons", "sessions", "events", "persons_share"]
    table_rows = [[*r["values"], r["persons"], r["sessions"], r["events"], r["persons_share"]] for r in out]
    return {**response, **table(columns, table_rows)}


MODEL = AnalysisModel(
    request_type=TerminalQuery,
    build=build,
    shape=shape,
    persons=persons_query,
    summary="Persons, sessions and events by platform, OS, browser, device, app version, screen, network or channel",
)
