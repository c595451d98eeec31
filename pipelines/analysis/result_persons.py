"""A result cell's persons as an audience version (issue 20): the persons the persons listing shows for a request's
`persons` selector (a funnel step's drop-offs, a retention cell, a path edge, ...), all of them, written to the
warehouse's cdp_audiences by one INSERT ... SELECT (pipelines.cdp.store.write_members_from_sql), so they never pass
through the client as an id list. Saved audiences (pipelines/audiences) and the combined analysis (chain.py) use it.

The members query is the model's own persons query over the whole cell (persons.whole_cell: the listing's cell
keys, without their order and pages, and the listing's ids without their latest properties), so a saved audience
equals the listing of that cell by construction; the person key is mapped to the OneID string by the listing's own
`person` column (PERSON), inside the warehouse.
"""

from __future__ import annotations

from typing import Any

from pipelines.analysis.contract import PERSONS_FIELD, AnalysisModel
from pipelines.analysis.names import unknown_name_warnings
from pipelines.analysis.persons import whole_cell
from pipelines.analysis.request import EVENT
from pipelines.analysis.sqlparams import BuiltQuery
from pipelines.cdp import store

FIELD = "result"  # where a request's errors are reported: `result.<its field>`


class Invalid(ValueError):
    """Field errors (422): `errors` lists {field, message}, fields under `result.` (or the caller's prefix)."""

    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def unknown_events(analyst, request, prefix: str) -> list[dict[str, str]]:
    """Field errors for the events of `request` neither in the app's tracking plan nor seen (names.py)."""
    run = lambda query: analyst.rows(query.sql, query.parameters)  # noqa: E731
    source = (getattr(analyst, "url", None), getattr(analyst, "database", None))
    return [
        {"field": f"{prefix}{warning['fields'][0]}", "message": warning["message"]}
        for warning in unknown_name_warnings(request, run, source)
        if warning["kind"] == f"unknown_{EVENT}"
    ]


def members_query(request, model: AnalysisModel, over: str | None = None, keys_only: bool = False) -> BuiltQuery:
    """`SELECT oneid, oneid_hash` of every person of the prepared request's cell, each once (from the model's
    per-person rows materialised in tables `over` when given: AnalysisModel.per_person). `keys_only`: the persons'
    keys without their OneID strings (oneid ''), which is all an audience filter reads."""
    whole = request.model_copy(update={PERSONS_FIELD: whole_cell(getattr(request, PERSONS_FIELD), keys_only)})
    listing = model.persons(whole) if over is None else model.persons(whole, over=over)
    columns = "'' AS oneid, person_key AS oneid_hash" if keys_only else "person AS oneid, cityHash64(person) AS oneid_hash"
    return BuiltQuery(f"SELECT {columns} FROM (\n{listing.sql})", listing.parameters)


def save_result_persons(
    writer, analyst, request, model: AnalysisModel, audience: str, kind: str, source: str, max_persons: int, over: str | None = None,
    keys_only: bool = False,
) -> tuple[int, int]:
    """A new version of `audience`: the persons of one result cell. `request` is a /v1/query request with its
    `persons` selector, already prepared (runner.prepare: names checked, audience versions pinned), and `model` its
    model (the registry's; passed in, so that the chain, a registered model itself, can call this without the
    registry importing it back). A model without persons, a request without a cell, or an unknown event is refused
    (Invalid) rather than saving nobody; more persons than `max_persons` raise store.AudienceTooLarge and leave
    the previous version current (store.write_members_from_sql). `over`: the cell read from the model's per-person
    rows materialised there (members_query: each person once, persons.named_cell_sql). `keys_only`: the members'
    keys without their OneID strings (a chain's temporary audience, read by the next step's filter only). Returns
    (version, size)."""
    if model.persons is None:
        raise Invalid([{"field": f"{FIELD}.model", "message": f"model {model.name!r} lists no persons"}])
    if getattr(request, PERSONS_FIELD, None) is None:
        raise Invalid([{"field": f"{FIELD}.{PERSONS_FIELD}", "message": "which cell's persons: the `persons` selector the persons listing takes"}])
    if unknown := unknown_events(analyst, request, f"{FIELD}."):
        raise Invalid(unknown)
    query = members_query(request, model, over, keys_only)
    distinct = over is not None or keys_only  # keys-only rows are grouped by key (and a fold by the empty oneid would merge them)
    return store.write_members_from_sql(writer, audience, query.sql, query.parameters, kind, source, max_persons, distinct=distinct)
