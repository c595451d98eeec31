"""Person-level filters and breakdowns, the one place that builds them for every model: audience membership
(cdp_audiences, sql/migrations/0070_cdp.sql), a CDP tag's value as of now (cdp_tags_current) and a person property
(person_properties, sql/migrations/0022, what other vendors' SDKs set through profile/identify calls).

A person is their current OneID: each condition is `PERSON_KEY IN (SELECT oneid_hash ...)` (schema.py), a set the
warehouse builds once per query, so it costs one hash lookup per event read. filters.filter_condition sends the
person-level items of `filters` (global or an event selector's) here, so every model that starts from
scope_conditions / selector_condition has them, and its persons listing too.

Before a request runs, `resolve` asks the warehouse once about the names it uses: an unknown audience, tag or
person property, or an audience version that was never completed, is refused (UnknownPersonNames -> 422 naming
it) instead of answering zeros; and every audience without a pinned `version` gets its current one, so all the
request's queries (and its cache key) read the same version even if a new one is written meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from pipelines.analysis.request import (
    AUDIENCE,
    PERSON_PROPERTY,
    TAG,
    AudienceBreakdown,
    AudienceFilter,
    PersonPropertyFilter,
    TagBreakdown,
    TagFilter,
    scalar_text,
)
from pipelines.analysis.schema import PERSON_KEY
from pipelines.analysis.sqlparams import BuiltQuery, SqlParams

PersonFilter = AudienceFilter | TagFilter | PersonPropertyFilter

# A person_properties row's person: the current OneID of its touchpoint id, as PERSON_KEY resolves an event's.
_PROPERTY_PERSON_KEY = "dictGetOrDefault('oneid_hash_dict', 'oneid_hash', cityHash64(person_id), cityHash64(person_id))"


class UnknownPersonNames(ValueError):
    """Names the warehouse has never heard of; `errors` lists {field, message} like a validation error."""

    def __init__(self, errors: list[dict[str, str]]):
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def _audience_members(name: str, version: int | None, params: SqlParams) -> str:
    if version is None:
        # Unreachable through run_query (resolve pins every version); a request built without resolving is a bug.
        raise ValueError(f"audience {name!r}: version not resolved (pipelines.analysis.runner.prepare resolves it)")
    audience, pinned = params.add("audience", name, "String"), params.add("audience_version", version, "UInt64")
    return f"SELECT oneid_hash FROM cdp_audiences WHERE audience = {audience} AND version = {pinned}"


def _values_sql(item: TagFilter | PersonPropertyFilter, params: SqlParams) -> tuple[str, str]:
    """(persons and their current value: a SELECT of `key, value`, the condition on `value` the op asks for, or
    '' for is_set / is_not_set). `!=`, `not_in` and is_not_set are the complement of =, in and is_set: a person
    without the tag or property matches them, as an event without a property matches `!=` (filters.py)."""
    op = item.op.replace("!=", "=").replace("not_in", "in").replace("is_not_set", "is_set")
    if op == "=":
        condition = f"value = {params.add('value', scalar_text(item.value), 'String')}"
    elif op == "in":
        condition = f"value IN {params.add('values', [scalar_text(v) for v in item.value], 'Array(String)')}"
    elif op in (">", "<"):
        condition = f"toFloat64OrNull(value) {op} {params.add('value', item.value, 'Float64')}"
    else:
        condition = ""
    if isinstance(item, TagFilter):
        tag = params.add("tag", item.tag, "String")
        return f"SELECT oneid_hash AS key, value FROM cdp_tags_current WHERE tag = {tag}", condition
    app, name = params.add("app_id", _app_id(item), "String"), params.add("person_property", item.person_property, "String")
    # A OneID joining several touchpoint ids that each carry the property: its newest value is the person's.
    return (
        f"SELECT {_PROPERTY_PERSON_KEY} AS key, argMax(value, updated_at) AS value FROM person_properties "
        f"WHERE app_id = {app} AND property = {name} GROUP BY key"
    ), condition


def _app_id(item: PersonPropertyFilter) -> str:
    if item._app_id is None:
        raise ValueError("person property filter: app not resolved (runner.prepare sets it from the request)")
    return item._app_id


def person_condition(item: PersonFilter, params: SqlParams) -> str:
    """`PERSON_KEY [NOT] IN (the persons the item selects)`."""
    negated = item.op in ("not_in", "!=", "is_not_set")
    if isinstance(item, AudienceFilter):
        members = _audience_members(item.audience, item.version, params)
    else:
        persons, condition = _values_sql(item, params)
        members = f"SELECT key FROM ({persons}) WHERE {condition}" if condition else f"SELECT key FROM ({persons})"
    return f"{PERSON_KEY} {'NOT IN' if negated else 'IN'} ({members})"


def breakdown_expr(item: TagBreakdown | AudienceBreakdown, params: SqlParams) -> str:
    """A String per event: the person's current value of the tag ('' without it), or the first of the listed
    audiences that holds the person ('' in none)."""
    if isinstance(item, TagBreakdown):
        tag = params.add("tag", item.tag, "String")
        # One scalar subquery (the warehouse runs an identical one once) gives every holder's key and value;
        # transform looks the event's person up in a hash table built once per query.
        pairs = f"(SELECT (groupArray(oneid_hash), groupArray(value)) FROM cdp_tags_current WHERE tag = {tag})"
        return f"transform({PERSON_KEY}, {pairs}.1, {pairs}.2, '')"
    arms = []
    for name, version in zip(item.audience, item.versions or [None] * len(item.audience)):
        arms.append(f"{PERSON_KEY} IN ({_audience_members(name, version, params)}), {params.add('audience_label', name, 'String')}")
    return f"multiIf({', '.join(arms)}, '')"


# -- resolving names before a request runs -------------------------------------------------------------------------


def _walk(model: BaseModel, path: str = ""):
    """(item, field path) of every person-level filter and breakdown in a request, at any depth."""
    for field_name in type(model).model_fields:
        value, at = getattr(model, field_name), f"{path}{field_name}"
        items = list(enumerate(value)) if isinstance(value, (list, tuple)) else [(None, value)]
        for index, item in items:
            where = at if index is None else f"{at}.{index}"
            if isinstance(item, (AudienceFilter, TagFilter, PersonPropertyFilter, TagBreakdown, AudienceBreakdown)):
                yield item, where
            elif isinstance(item, BaseModel):
                yield from _walk(item, f"{where}.")


def _replaced(model: BaseModel, change: Callable[[BaseModel], BaseModel | None]) -> BaseModel:
    """`model` with every nested item that `change` returns a replacement for replaced (requests are frozen)."""
    if (new := change(model)) is not None:
        return new
    updates = {}
    for field_name in type(model).model_fields:
        value = getattr(model, field_name)
        if isinstance(value, BaseModel):
            new_value = _replaced(value, change)
        elif isinstance(value, list) and any(isinstance(v, BaseModel) for v in value):
            new_value = [_replaced(v, change) if isinstance(v, BaseModel) else v for v in value]
        else:
            continue
        if new_value != value:
            updates[field_name] = new_value
    return model.model_copy(update=updates) if updates else model


def uses_person_names(request: BaseModel) -> bool:
    return next(_walk(request), None) is not None


def _lookup(request, audiences: list[str], tags: list[str], properties: list[str]) -> BuiltQuery:
    """One query: each named audience's complete versions, each named tag and person property that exists."""
    params = SqlParams()
    parts = []
    if audiences:
        names = params.add("audiences", audiences, "Array(String)")
        parts.append(
            f"SELECT 'audience' AS kind, toString(audience) AS name, groupArray(version) AS versions "
            f"FROM cdp_audience_versions WHERE audience IN {names} GROUP BY audience"
        )
    if tags:
        names = params.add("tags", tags, "Array(String)")
        parts.append(f"SELECT 'tag' AS kind, toString(tag) AS name, emptyArrayUInt64() AS versions FROM cdp_tags WHERE tag IN {names} GROUP BY tag")
    if properties:
        app, names = params.add("app_id", request.app_id, "String"), params.add("person_properties", properties, "Array(String)")
        parts.append(
            "SELECT 'person_property' AS kind, property AS name, emptyArrayUInt64() AS versions FROM person_property_log "
            f"WHERE app_id = {app} AND property IN {names} GROUP BY property"
        )
    return params.query("\nUNION ALL\n".join(parts))


def resolve(request, run: Callable[[BuiltQuery], list[tuple]]):
    """The request with every audience version pinned (the current one unless given) and the request's app on its
    person-property filters; raises UnknownPersonNames naming each unknown audience, audience version, tag and
    person property (with the fields that use it). `run` runs a query and returns its rows (the runner's)."""
    found = list(_walk(request))
    if not found:
        return request
    wanted: dict[Any, dict[str, list[str]]] = {AUDIENCE: {}, TAG: {}, PERSON_PROPERTY: {}}
    for item, at in found:
        if isinstance(item, (AudienceFilter, AudienceBreakdown)):
            names = [item.audience] if isinstance(item, AudienceFilter) else item.audience
            for name in names:
                wanted[AUDIENCE].setdefault(name, []).append(at)
        elif isinstance(item, (TagFilter, TagBreakdown)):
            wanted[TAG].setdefault(item.tag, []).append(at)
        else:
            wanted[PERSON_PROPERTY].setdefault(item.person_property, []).append(at)
    rows = run(_lookup(request, *(sorted(wanted[role]) for role in (AUDIENCE, TAG, PERSON_PROPERTY))))
    versions = {name: set(v) for kind, name, v in rows if kind == "audience"}
    known = {(kind, name) for kind, name, _ in rows}
    errors = [
        {"field": fields[0], "message": f"unknown {role.replace('_', ' ')} {name!r}" + _where(role, request.app_id)}
        for role in (AUDIENCE, TAG, PERSON_PROPERTY)
        for name, fields in wanted[role].items()
        if (str(role), name) not in known
    ]
    for item, at in found:
        pinned = [(item.audience, item.version)] if isinstance(item, AudienceFilter) else []
        if isinstance(item, AudienceBreakdown) and item.versions:
            pinned = list(zip(item.audience, item.versions))
        for name, version in pinned:
            if version is not None and name in versions and version not in versions[name]:
                errors.append({"field": f"{at}.version", "message": f"audience {name!r} has no version {version} (latest {max(versions[name])})"})
    if errors:
        raise UnknownPersonNames(errors)
    current = {name: max(v) for name, v in versions.items()}

    def pin(item: BaseModel) -> BaseModel | None:
        if isinstance(item, AudienceFilter) and item.version is None:
            return item.model_copy(update={"version": current[item.audience]})
        if isinstance(item, AudienceBreakdown) and item.versions is None:
            return item.model_copy(update={"versions": [current[name] for name in item.audience]})
        if isinstance(item, PersonPropertyFilter) and item._app_id is None:
            with_app = item.model_copy()
            with_app._app_id = request.app_id
            return with_app
        return None

    return _replaced(request, pin)


def _where(role, app_id: str) -> str:
    if role == PERSON_PROPERTY:
        return f": no person of app {app_id!r} has had it set"
    if role == AUDIENCE:
        return ": no complete version in the warehouse"
    return ": no person has ever had it"
