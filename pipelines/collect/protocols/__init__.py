"""Other vendors' SDK protocols mapped onto native envelopes (docs/collector.md, "Other vendors' SDKs").

A protocol module is pure: request parts (body, query parameters, content type) in, a `Mapped` out. The envelopes
it makes are the native event shape, so the collector runs them through the same path as /v1/batch (envelope
checks, tracking plan, quarantine, enrichment, Kafka/spool); identity links travel in each envelope's `ids` as
they do for native events, so OneID links them the same way. Person-property updates (profile / identify calls)
go to `persons.properties` through the same sink (pipelines/person_properties.py). A record the protocol cannot
map is listed in `rejected` with its index and reason instead of being dropped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from pipelines.collect.intake import MAX_ID_CHARS, BadRequest
from pipelines.person_properties import MAX_PROPERTY_NAME, OPS
from pipelines.plan.validate import json_type_name


@dataclass
class Mapped:
    events: list[dict[str, Any]] = field(default_factory=list)
    # events[i] came from record record_indexes[i] of the request (rejections name the request's record index).
    record_indexes: list[int] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    single: bool = False
    # {"update_id", "op", "ids", "ts", "seq", "properties", "source"}: pipelines/person_properties.py says what each
    # op does; seq is the record's position in the request (orders updates of one millisecond).
    person_updates: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, index: int, exc: BadRequest) -> None:
        self.rejected.append({"index": index, "status": exc.status, "error": exc.reason, **exc.details})

    @property
    def empty(self) -> bool:
        return not self.events and not self.person_updates


def map_each(records: list[Any], single: bool, map_one: Callable[[int, Any], tuple[dict[str, Any] | None, list[dict[str, Any]]]]) -> Mapped:
    """Each record through `map_one(index, record)` -> (envelope or None, person updates). A record it refuses is
    listed in `rejected` with its index and reason; a single-record request raises instead."""
    mapped = Mapped(single=single)
    # bound methods once per request, not two attribute lookups and a call of Mapped.add per record
    add_event, add_index, add_updates = mapped.events.append, mapped.record_indexes.append, mapped.person_updates.extend
    for index, record in enumerate(records):
        try:
            envelope, updates = map_one(index, record)
        except BadRequest as exc:
            if single:
                raise
            mapped.reject(index, exc)
            continue
        if envelope is not None:
            add_event(envelope)
            add_index(index)
        if updates:
            add_updates(updates)
    return mapped


def person_update(op: str, ids: dict[str, str], ts: int, seq: int, properties: Any, update_id: str, source: str) -> dict[str, Any]:
    """A checked person-property update; a 400 naming what is wrong. `append` takes lists of items; `unset` takes
    the names (values ignored)."""
    if op not in OPS:
        raise BadRequest(400, f"person update {op!r} is not one of {', '.join(OPS)}")
    if not ids:
        raise BadRequest(400, "a person update needs the person's id", field="ids")
    if not isinstance(properties, dict):
        raise BadRequest(400, f"{op} properties must be an object, got {json_type_name(properties)}", field="properties")
    for name, value in properties.items():
        if not name or len(name) > MAX_PROPERTY_NAME:
            raise BadRequest(400, f"a person property name is 1 to {MAX_PROPERTY_NAME} characters", field="properties")
        if op == "append" and not isinstance(value, list):
            raise BadRequest(400, f"append needs a list of items for {name[:40]!r}, got {json_type_name(value)}", field=f"properties.{name[:40]}")
    if op == "unset":
        properties = dict.fromkeys(properties, None)
    return {"update_id": update_id, "op": op, "ids": ids, "ts": ts, "seq": seq, "properties": properties, "source": source}


def id_text(value: Any, field: str, limit: int = MAX_ID_CHARS) -> str:
    """An id field as text ('' when absent); a 400 naming the field when it is not a string or number."""
    if type(value) is str and len(value) <= limit:  # what SDKs send: no further checks
        return value
    if value is None or value == "":
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool) or len(str(value)) > limit:
        raise BadRequest(400, f"{field} must be a string of at most {limit} characters, got {json_type_name(value)}", field=field)
    return str(value)


def content_ids(namespace: uuid.UUID, app_id: str, volatile: tuple[str, ...] = ()) -> Callable[[dict[str, Any]], str]:
    """The content id of each record of one request (one namespace and app): a UUIDv5 of the app and the record
    without its `volatile` fields (those a re-send changes, such as the send time), so a re-sent record gets the
    same id and the event index (events) and the update_id key (person properties) collapse the copy. Two records
    identical in every other field become one: they cannot be told apart anyway. The name hashed is the app, a
    newline and the record's JSON with sorted keys (no spaces); its SHA-1 state after the namespace and app is
    made once per request and copied per record."""
    prefix = hashlib.sha1(namespace.bytes + app_id.encode() + b"\n")
    dumps, sorted_keys, variant = orjson.dumps, orjson.OPT_SORT_KEYS, _VARIANT_NIBBLE

    def record_id(record: dict[str, Any]) -> str:
        # the filtered copy only when a volatile field is there (records of server SDKs carry none)
        stable = record if record.keys().isdisjoint(volatile) else {name: value for name, value in record.items() if name not in volatile}
        digest = prefix.copy()
        try:  # string keys, as JSON has them, write alike with and without OPT_NON_STR_KEYS (a tenth cheaper without)
            encoded = dumps(stable, option=sorted_keys)
        except orjson.JSONEncodeError:  # a key that is no string, from a Python caller: as the ids were always made
            encoded = dumps(stable, option=sorted_keys | orjson.OPT_NON_STR_KEYS)
        digest.update(encoded)
        # uuid.uuid5 without its UUID object and text round trips (a tenth of a protocol record's mapping time): the
        # version nibble (5) and the variant bits (10xx) set on the hex text give the text uuid.uuid5 would
        text = digest.hexdigest()
        return f"{text[:8]}-{text[8:12]}-5{text[13:16]}-{variant[text[16]]}{text[17:20]}-{text[20:32]}"

    return record_id


_VARIANT_NIBBLE = dict(zip("0123456789abcdef", "89ab" * 4))  # (n & 0b0011) | 0b1000


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def given_uuid(value: Any) -> str | None:
    """The sender's own event UUID, normalised, or None when it sent none or not a UUID."""
    if not isinstance(value, str):
        return None
    if _CANONICAL_UUID.fullmatch(value):  # what SDKs send: no parse needed
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def iso_millis(value: Any, field: str) -> int | None:
    """Epoch milliseconds of an ISO-8601 time (with zone; none is UTC) or of epoch milliseconds; None if absent."""
    if isinstance(value, str):
        if not value:
            return None
        try:
            parsed = _from_iso(value)  # what SDKs send (Python 3.11 reads a "Z" zone itself); stripped only if needed
        except ValueError:
            try:
                parsed = _from_iso(value.strip())
            except ValueError:
                parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=_UTC)
            millis = int(parsed.timestamp() * 1000)
            if 0 < millis < 10**14:
                return millis
    elif value is None:
        return None
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1e14:
        return int(value)
    raise BadRequest(400, f"{field} must be an ISO-8601 time, got {str(value)[:40]!r}", field=field)


_from_iso, _UTC = dt.datetime.fromisoformat, dt.timezone.utc


DROPPED = ""  # the route of a dropped property (no field is named "")


class ContextFields:
    """A protocol's properties that are envelope context fields (`names`: property -> field), and those it drops.
    `split` sorts a record's properties in one pass, where popping the mapped names out of a filtered copy took two
    dict copies per record (a fifth of a protocol record's mapping time)."""

    def __init__(self, names: dict[str, str], dropped: frozenset[str]):
        self.names = {name: field for name, field in names.items() if name not in dropped}  # dropped means dropped
        # one lookup per property: its field, DROPPED, or None for the props
        self.routes = {**self.names, **dict.fromkeys(dropped, DROPPED)}
        fields = list(self.names.values())
        # Where two names map to one field, the one listed first wins: only those names need their rank.
        self.ranks = {name: rank for rank, name in enumerate(self.names) if fields.count(self.names[name]) > 1}

    def split(self, properties: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(context, props): each mapped property that is not empty (None or "") under its field, the others but
        the dropped ones under their own names."""
        routes, ranks, unranked = self.routes, self.ranks, len(self.names)
        context: dict[str, Any] = {}
        props: dict[str, Any] = {}
        winners: dict[str, int] = {}
        for name, value in properties.items():
            field = routes.get(name)
            if field is None:
                props[name] = value
            elif field is not DROPPED and value is not None and value != "":
                if name in ranks:
                    if winners.get(field, unranked) < ranks[name]:
                        continue
                    winners[field] = ranks[name]
                context[field] = value
        return context, props
