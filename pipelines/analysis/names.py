"""Names a request uses that the app has never heard of: an event or property name that is neither in the tracking
plan nor seen in the warehouse would silently match nothing (a typo, `$any` before it existed, a renamed point),
so the response carries a warning naming it instead of answering zeros without a word.

Which fields name events and properties comes from the request types alone (`EventName` / `Name` in request.py),
so every registered model is covered without naming its fields here. Known without asking: `$any`, envelope
columns and materialized properties. The rest is asked of the warehouse in two small queries: the app's tracking
plan (events and their declared properties, any applied version), then, for the names the plan does not declare,
one `LIMIT 1` lookup each: an event in any of the app's events (the sort key finds it or skips everything), a
property as a props key of the app's events in the request's range (the range bounds what an absent key costs).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterator
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel

from pipelines.analysis.request import ANY_EVENT, EVENT, PROPERTY, NameRole
from pipelines.analysis.schema import COLUMN_PROPERTIES, MATERIALIZED_PROPERTIES, TABLE
from pipelines.analysis.sqlparams import BuiltQuery, SqlParams
from pipelines.analysis.timerange import TimeRange

PLAN_SQL = """
SELECT groupUniqArray(event) AS events, groupUniqArrayArray(JSONExtractKeys(properties)) AS properties
FROM tracking_plan
WHERE app_id = {app_id:String}
"""


def _role(annotation: Any, metadata: list) -> NameRole | None:
    """The NameRole of a field (or of its list members, optional value): from its metadata or its type's."""
    for item in metadata:
        if isinstance(item, NameRole):
            return item
    if get_origin(annotation) is Annotated:  # its own metadata, else the annotated type's (a tagged union's members)
        return _role(None, list(annotation.__metadata__)) or _role(get_args(annotation)[0], [])
    return next(filter(None, (_role(arg, []) for arg in get_args(annotation))), None)


def request_names(request: BaseModel, path: str = "") -> Iterator[tuple[NameRole, str, str]]:
    """(role, name, field path) of every event and property name in a validated request."""
    for field_name, field in type(request).model_fields.items():
        value, where = getattr(request, field_name), f"{path}{field_name}"
        role = _role(field.annotation, field.metadata)
        items = list(enumerate(value)) if isinstance(value, (list, tuple)) else [(None, value)]
        for index, item in items:
            at = where if index is None else f"{where}.{index}"
            if role is not None and isinstance(item, str):
                yield role, item, at
            elif isinstance(item, BaseModel):
                yield from request_names(item, f"{at}.")


def _needs_asking(role: NameRole, name: str) -> bool:
    if role == EVENT:
        return name != ANY_EVENT
    if role == PROPERTY:
        return name not in COLUMN_PROPERTIES and name not in MATERIALIZED_PROPERTIES
    return False  # audiences, tags, person properties: checked before the request runs (person_filters.py)


def _lookup_query(request, events: list[str], properties: list[str]) -> BuiltQuery:
    """One row per name found: `LIMIT 1` lookups, so a name present costs a granule and one absent what the sort
    key (events) or the range (properties) leaves to read."""
    params = SqlParams()
    app = params.add("app_id", request.app_id, "String")
    lookups = []
    for name in events:
        placeholder = params.add("event", name, "String")
        lookups.append(f"(SELECT 'event' AS role, {placeholder} AS name FROM {TABLE} WHERE app_id = {app} AND event = {placeholder} LIMIT 1)")
    if properties:
        in_range = TimeRange.of(request).condition(params)
        for name in properties:
            placeholder = params.add("property", name, "String")
            lookups.append(
                f"(SELECT 'property' AS role, {placeholder} AS name FROM {TABLE} "
                f"WHERE app_id = {app} AND {in_range} AND mapContains(props, {placeholder}) LIMIT 1)"
            )
    return params.query("\nUNION ALL\n".join(lookups))


def _message(role: NameRole, name: str, app_id: str) -> str:
    if role == EVENT:
        return f"event {name!r} is neither in the tracking plan of app {app_id!r} nor seen in its events: it matches nothing"
    return (
        f"property {name!r} is neither in the tracking plan of app {app_id!r} nor set on its events in the range: "
        "it is empty on every event"
    )


class KnownNames:
    """Names found known (in the plan or the data) lately, per warehouse and app, so repeated requests (a dashboard,
    the API's users) do not ask again for `ttl_s`. Unknown names are not kept: one that starts arriving is known at
    the next request."""

    def __init__(self, ttl_s: float = 300.0, most: int = 100_000):
        self.ttl_s, self.most = ttl_s, most
        self._until: dict[tuple, float] = {}

    def __contains__(self, key: tuple) -> bool:
        return self._until.get(key, 0.0) > time.monotonic()

    def add(self, keys: list[tuple]) -> None:
        if len(self._until) + len(keys) > self.most:
            self._until.clear()  # rare (that many distinct names): start again rather than track ages
        until = time.monotonic() + self.ttl_s
        self._until.update((key, until) for key in keys)


KNOWN = KnownNames()


def unknown_name_warnings(request: BaseModel, run: Callable[[BuiltQuery], list[tuple]], source: Hashable = None) -> list[dict[str, Any]]:
    """`{"kind": "unknown_event" | "unknown_property", "name", "fields", "message"}` per unknown name, in the order
    the request names them. `run` runs a query and returns its rows (the runner's, with its limits); `source` tells
    warehouses apart in the cache of known names."""
    fields: dict[tuple[NameRole, str], list[str]] = {}
    for role, name, at in request_names(request):
        if _needs_asking(role, name) and (source, request.app_id, role, name) not in KNOWN:
            fields.setdefault((role, name), []).append(at)
    if not fields:
        return []
    plan_events, plan_properties = run(SqlParams(values={"app_id": request.app_id}).query(PLAN_SQL))[0]
    declared = {EVENT: set(plan_events), PROPERTY: set(plan_properties)}
    undeclared = [(role, name) for role, name in fields if name not in declared[role]]
    seen = set()
    if undeclared:
        events = [name for role, name in undeclared if role == EVENT]
        properties = [name for role, name in undeclared if role == PROPERTY]
        seen = set(run(_lookup_query(request, events, properties)))
    KNOWN.add([(source, request.app_id, role, name) for role, name in fields if (role, name) in seen or name in declared[role]])
    return [
        {"kind": f"unknown_{role}", "name": name, "fields": fields[role, name], "message": _message(role, name, request.app_id)}
        for role, name in undeclared
        if (role, name) not in seen
    ]
