"""A result cell's persons as an audience version (issue 20): the persons the persons listing shows for a request's
`persons` selector (a funnel step's drop-offs, a retention cell, a path edge, ...), all of them, written to the
warehouse's cdp_audiences by one INSERT ... SELECT (pipelines.cdp.store.write_members_from_sql), so they never pass
through the client as an id list. Saved audiences (pipelines/audiences) and the combined analysis (chain.py) use it.

The members query is the model's own persons query over one page that holds the whole cell, so a saved audience
equals the listing of that cell by construction; the person key is mapped to the OneID string by the listing's own
`person` column (PERSON), inside the warehouse.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from pipelines.analysis.contract import PERSONS_FIELD
from pipelines.analysis.names import unknown_name_warnings
from pipelines.analysis.person_filters import UnknownPersonNames
from pipelines.analysis.persons import MAX_OFFSET
from pipelines.analysis.registry import MODELS
from pipelines.analysis.request import EVENT
from pipelines.analysis.sqlparams import BuiltQuery
from pipelines.cdp import store

FIELD = "result"  # where a request's errors are reported: `result.<its field>`


class Invalid(ValueError):
    """Field errors (422): `errors` lists {field, message}, fields under `result.` (or the caller's prefix)."""

    def __init__(self, errors: list[dict[str, str]]):
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def field_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    from pipelines.analysis.api import validation_errors

    return [{**e, "field": f"{prefix}{e['field']}"} for e in validation_errors(exc)]


def prepared(request: dict[str, Any], analyst):
    """The request prepared as the runner prepares it (person-level names checked, audience versions pinned), of a
    model that lists persons, with its `persons` selector; Invalid otherwise."""
    from pipelines.analysis.runner import prepare

    try:
        parsed = prepare(request, analyst)
    except ValidationError as exc:
        raise Invalid(field_errors(exc, f"{FIELD}.")) from None
    except UnknownPersonNames as exc:
        raise Invalid([{**e, "field": f"{FIELD}.{e['field']}"} for e in exc.errors]) from None
    if MODELS.of(parsed).persons is None:
        raise Invalid([{"field": f"{FIELD}.model", "message": f"model {parsed.model!r} lists no persons"}])
    if getattr(parsed, PERSONS_FIELD) is None:
        raise Invalid([{"field": f"{FIELD}.{PERSONS_FIELD}", "message": "which cell's persons: the `persons` selector the persons listing takes"}])
    return parsed


def unknown_events(analyst, request, prefix: str) -> list[dict[str, str]]:
    """Field errors for the events of `request` neither in the app's tracking plan nor seen (names.py)."""
    run = lambda query: analyst.rows(query.sql, query.parameters)  # noqa: E731
    source = (getattr(analyst, "url", None), getattr(analyst, "database", None))
    return [
        {"field": f"{prefix}{warning['fields'][0]}", "message": warning["message"]}
        for warning in unknown_name_warnings(request, run, source)
        if warning["kind"] == f"unknown_{EVENT}"
    ]


def members_query(request) -> BuiltQuery:
    """`SELECT oneid, oneid_hash` of every person of the prepared request's cell."""
    page = getattr(request, PERSONS_FIELD)
    whole = request.model_copy(update={PERSONS_FIELD: page.model_copy(update={"limit": MAX_OFFSET, "offset": 0})})
    listing = MODELS.of(request).persons(whole)
    return BuiltQuery(f"SELECT person AS oneid, cityHash64(person) AS oneid_hash FROM (\n{listing.sql})", listing.parameters)


def save_result_persons(writer, analyst, request: dict[str, Any], audience: str, kind: str, source: str, max_persons: int) -> tuple[int, int]:
    """A new version of `audience`: the persons of one result cell (`request`: a /v1/query request with its
    `persons` selector). An unknown event is refused (Invalid) rather than saving nobody; more persons than
    `max_persons` raise store.AudienceTooLarge before anything is written. Returns (version, size)."""
    parsed = prepared(request, analyst)
    if unknown := unknown_events(analyst, parsed, f"{FIELD}."):
        raise Invalid(unknown)
    query = members_query(parsed)
    return store.write_members_from_sql(writer, audience, query.sql, query.parameters, kind, source, max_persons)
