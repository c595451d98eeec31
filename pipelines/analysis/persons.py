"""The persons behind a number, shared by every model that lists them: a page of person ids with their latest
properties.

A model says which persons a result cell counts as a query that yields their 64-bit keys (`schema.PERSON_KEY`),
ordered and paged by `page_clause` (`keys_sql`); `latest_persons_sql` wraps it: the ids and the properties of each
person's latest event among the events the model read (same app, range, events, global filters and sample), so
every listed person is found and nobody else is. The page's persons come back sorted by id.

The same query over a `whole_cell` page gives every person of the cell, ids only: an audience of the cell
(result_persons.py) needs neither their order, nor pages, nor their latest properties. A model whose per-person
rows a chain materialised (contract.AnalysisModel.per_person) kept one `TOUCHPOINT` of each person in them, so a
whole cell's ids are named from that table and the warehouse's id strings (`named_cell_sql`) instead of the events.
A whole cell of keys only (what a chain carries to its next step: the audience filter matches keys) names nobody.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, PrivateAttr

from pipelines.analysis.contract import PERSONS_FIELD
from pipelines.analysis.expr import all_of
from pipelines.analysis.filters import scope_conditions
from pipelines.analysis.request import Strict
from pipelines.analysis.schema import PERSON, PERSON_KEY, TABLE
from pipelines.analysis.shaping import Rows, clean
from pipelines.analysis.sqlparams import SqlParams
from pipelines.analysis.timerange import TimeRange

# What a per-person pass keeps of a person's ids, as `touchpoint`: the person_hash of one of the touchpoint ids their
# events carry (one UInt64 aggregate over a column PERSON_KEY reads anyway; reading the person_id and oneid strings
# on every event instead cost 0.3-0.5 s a carried step on the 10M-event benchmark). `named_cell_sql` turns it and the
# person key back into the person's OneID for the persons of one cell only.
TOUCHPOINT = "any(person_hash)"

MAX_PAGE = 10_000
MAX_OFFSET = 1_000_000_000  # beyond any real result, and no number the UInt64 parameter cannot hold

# The latest event's terminal and channel columns: what a person list shows next to each id.
LATEST_PROPERTIES = (
    "platform", "os", "os_version", "browser", "browser_version", "device_model", "device_brand", "app_version",
    "network_type", "carrier", "utm_source", "utm_medium", "utm_campaign", "referrer_domain",
)  # fmt: skip


class Page(Strict):
    """Which slice of a cell's persons to list (ordered by their 64-bit key, so pages never overlap)."""

    limit: int = Field(100, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    # Set by whole_cell only (a request cannot: private attributes are neither validated nor in the schema).
    _whole_cell: bool = PrivateAttr(False)
    _keys_only: bool = PrivateAttr(False)


def whole_cell(page: Page, keys_only: bool = False) -> Page:
    """`page`'s cell, all of its persons, keys unordered and unpaged, ids without their latest properties; with
    `keys_only`, their keys without the ids (column `person_key`: what an audience filter matches on)."""
    # The limit covers the cell too: a persons query that ignored the mark would still list everyone (slower).
    whole = page.model_copy(update={"limit": MAX_OFFSET, "offset": 0})
    whole._whole_cell = True
    whole._keys_only = keys_only
    return whole


def page_clause(page: Page, params: SqlParams, key: str) -> str:
    """The page's slice of a cell's person keys ordered by `key` (the keys query's column, so pages never overlap);
    nothing for a whole cell."""
    if page._whole_cell:
        return ""
    limit, offset = params.add("limit", page.limit, "UInt64"), params.add("offset", page.offset, "UInt64")
    return f"ORDER BY {key} LIMIT {limit} OFFSET {offset}"


def in_bucket(value: str, edges: list[float], index: int, params: SqlParams) -> str:
    """`value` in histogram bucket `index`: [edge, next edge), the last one open, as filters.histogram_sql counts."""
    cell = [f"{value} >= {params.add('bucket_from', float(edges[index]), 'Float64')}"]
    if index + 1 < len(edges):
        cell.append(f"{value} < {params.add('bucket_to', float(edges[index + 1]), 'Float64')}")
    return all_of(cell)


def every_event_conditions(scope, params: SqlParams, time_range: TimeRange | None = None) -> list[str]:
    """scope_conditions for a model that reads every event of the app: without the event-name condition."""
    before = set(params.values)
    conditions = scope_conditions(scope, params, [], time_range)
    (events,) = (name for name in params.values if name not in before and params.values[name] == [])
    del params.values[events]
    return [c for c in conditions if "{" + events + ":" not in c]


def latest_persons_sql(
    request, params: SqlParams, events: list[str] | None, keys_sql: str, time_range: TimeRange | None = None, over: str | None = None
) -> str:
    """Ids and latest properties of the persons whose keys `keys_sql` (a SELECT of one UInt64 column) yields, from
    their latest event among `events` (None: every event) in the request's scope (over `time_range` instead of the
    request's range for a model that reads history: a person it counts may have no event in the range). For a
    whole cell (whole_cell), their ids only, unordered; named from `over`, the model's materialised per-person rows,
    when given (`named_cell_sql`); with keys only, their keys (`person_key`)."""
    page = getattr(request, PERSONS_FIELD)
    listed = not page._whole_cell
    if page._keys_only and over is not None:  # the rows hold exactly the persons the model counted, each once
        return f"SELECT person_key FROM {over} WHERE person_key IN ({keys_sql}) GROUP BY person_key"
    scope = scope_conditions(request, params, events, time_range) if events else every_event_conditions(request, params, time_range)
    where = all_of([*scope, f"{PERSON_KEY} IN (\n{keys_sql}\n)"])
    if page._keys_only:
        return f"SELECT {PERSON_KEY} AS person_key FROM {TABLE} WHERE {where} GROUP BY person_key"
    if over is not None and not listed:
        return named_cell_sql(scope, keys_sql, over)
    latest = ", ".join(LATEST_PROPERTIES)
    properties = f", max(ts) AS last_seen, argMax(tuple({latest}, screen_width, screen_height), ts) AS latest" if listed else ""
    order = "\nORDER BY person" if listed else ""
    return f"""
SELECT any({PERSON}) AS person{properties}
FROM {TABLE}
WHERE {where}
GROUP BY {PERSON_KEY}{order}"""


def named_cell_sql(scope: list[str], keys_sql: str, over: str) -> str:
    """`person` (PERSON) of every person whose key `keys_sql` yields, from the materialised per-person rows `over`
    (person_key, touchpoint) and the id strings the warehouse keeps (person_strings_dict, sql/migrations/0080), as
    the events would give it: the touchpoint's current OneID (oneid_dict, so merges after the events were written
    apply), else the OneID stamped on its events or the touchpoint id itself, whichever hashes to the person key.
    A person so named is checked against their key (PERSON_KEY is cityHash64(PERSON)); one whose strings are not
    kept there (a layer table without the view, ids newer than the dictionary) is read from their touchpoint's
    events in `scope`, as the listing does: that scan reads no granule when everyone was named."""
    # A linked touchpoint (oneid_hash_dict has it, as PERSON_KEY read it) needs its id string for oneid_dict; an
    # unlinked one's key is the hash of the string to name it by (the stamped OneID, or the touchpoint id): one
    # string lookup per person.
    named = f"""
    SELECT person_key, touchpoint,
           if(dictHas('oneid_hash_dict', touchpoint),
              dictGetOrDefault('oneid_dict', 'oneid', dictGetOrDefault('person_strings_dict', 'id', touchpoint, ''), ''),
              dictGetOrDefault('person_strings_dict', 'id', person_key, '')) AS person
    FROM (SELECT person_key, any(touchpoint) AS touchpoint FROM {over} WHERE person_key IN ({keys_sql}) GROUP BY person_key)"""
    # One scalar subquery, which the warehouse evaluates once for both of its uses: the names, and the persons left
    # unnamed (a second evaluation of the cell cost ~0.2 s of a 400k-person carry).
    names = f"""(
    SELECT (groupArrayIf(person, cityHash64(person) = person_key), groupArrayIf((touchpoint, person_key), cityHash64(person) != person_key))
    FROM ({named})
)"""
    unnamed = f"(person_hash, {PERSON_KEY}) IN (SELECT arrayJoin({names}.2))"
    # The persons read from their events, each once. Each person comes once in all, so the audience write need not
    # fold duplicates (store.write_members_from_sql, distinct; its GROUP BY oneid cost 0.06 s of a 415k-person
    # carry): the kept names are distinct (distinct keys, each the hash of its name), and a kept name also read
    # from the events is left to the read. Only while oneid_dict and oneid_hash_dict disagree, between their
    # reloads, can an unnamed key's events give a name given already. The read is planned twice (the exclusion's
    # set, its rows); it reads no granule when all were named, and then the warehouse folds the exclusion away
    # (`empty(...)` of the scalar is a constant), saving its probe per name (0.035 s of 415k). (A set of the named
    # keys instead cost 0.15 s: the scalar's array is copied into the subquery.)
    read = f"SELECT any({PERSON}) AS person FROM {TABLE} WHERE {all_of([*scope, unnamed])} GROUP BY {PERSON_KEY}"
    return f"""
SELECT person FROM (SELECT arrayJoin({names}.1) AS person) WHERE empty({names}.2) OR person NOT IN (SELECT person FROM ({read}))
UNION ALL
SELECT person FROM ({read}) GROUP BY person"""


def persons_view(rows: Rows, **page: Any) -> dict[str, Any]:
    """The response's `persons`: the page's request fields, the ids (sorted) and each one's latest properties."""
    latest = {}
    for person, last_seen, values in rows.rows:
        *text, width, height = values
        properties = {name: value for name, value in zip(LATEST_PROPERTIES, text) if value}
        if width and height:
            properties["screen"] = f"{width}x{height}"
        latest[person] = {"last_seen": clean(last_seen), **properties}
    return {**page, "persons": [row[0] for row in rows.rows], "latest_properties": latest}
