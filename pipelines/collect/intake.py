"""Turning request bodies into envelopes: decoding (gzip, JSON, beacon query strings) and the envelope checks
every event must pass before the tracking plan is even consulted. Problems are `BadRequest`s with a reason a
developer can act on; nothing here raises anything else for bad input."""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from typing import Any

import orjson

from pipelines.plan.validate import json_type_name

MAX_EVENT_NAME = 100
MAX_ID_CHARS = 256
# The canonical 8-4-4-4-12 form only (what SDKs send): a regex is several times cheaper than uuid.UUID() here.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class BadRequest(ValueError):
    def __init__(self, status: int, reason: str, **details: Any):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.details = details


def gunzip(body: bytes, limit: int) -> bytes:
    """Decompress at most `limit` bytes: a small gzip body must not expand into gigabytes (a zip bomb)."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BadRequest(400, f"body is not valid gzip ({exc})") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise BadRequest(413, f"decompressed body exceeds {limit} bytes")
    return data


def parse_json(body: bytes) -> Any:
    if not body.strip():
        raise BadRequest(400, "empty body: send a JSON event object (or an array for /v1/batch)")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(400, f"malformed JSON: {exc}") from None


def decode_beacon_data(data: str) -> bytes:
    """The `data` query parameter of the image beacon: JSON as is, or base64 (standard or URL-safe) JSON."""
    text = data.strip()
    if text[:1] in ("{", "["):
        return text.encode()
    try:
        padded = text + "=" * (-len(text) % 4)
        return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(400, "beacon `data` is neither JSON nor base64-encoded JSON") from None


def object_field(raw: dict[str, Any], name: str) -> dict[str, Any]:
    """The optional JSON object `raw[name]` (absent or null: empty), or a 400 naming the field."""
    value = raw.get(name) or {}
    if not isinstance(value, dict):
        raise BadRequest(400, f"{name} must be an object, got {json_type_name(value)}", field=name)
    return value


class MappedEnvelope(dict):
    """An envelope a protocol mapping made (pipelines/collect/protocols/): what `normalize` returns for an envelope,
    made directly. Exactly the fields event_id, event, app_id, ts, ids, session_id, context and props, in that order
    (normalize's), where event_id is a canonical lowercase UUID, event a non-empty string, app_id the request's app,
    ids a dict of non-empty strings of at most MAX_ID_CHARS, session_id a string, context and props dicts; ids and
    context belong to this envelope alone (enrichment writes into its context). `normalize` does not check those
    again nor copy the envelope (the checks were a fifth of a protocol event's decode, mapping and checks, the copy
    another ~6%, measured in-process); the event name's length, the time and the session id's length it still
    checks. Only code in this process makes one: a request body only makes plain dicts."""

    __slots__ = ()


def normalize(raw: Any, app_id: str) -> dict[str, Any]:
    """A checked copy of the envelope fields of `raw` (unknown top-level fields are dropped), or a MappedEnvelope
    itself once its few unguaranteed fields are checked; raises BadRequest naming the first field that is wrong."""
    if type(raw) is MappedEnvelope:
        ts = raw["ts"]
        if type(ts) is int and 0 < ts < 10**14 and len(raw["event"]) <= MAX_EVENT_NAME and len(raw["session_id"]) <= MAX_ID_CHARS and raw["app_id"] == app_id:
            return raw  # what the checks below give for it: the same fields and values in the same order
    if not isinstance(raw, dict):
        raise BadRequest(400, f"an event is a JSON object, got {json_type_name(raw)}")
    event_id = raw.get("event_id")
    if not isinstance(event_id, str):
        raise BadRequest(400, "event_id is required: a UUID string made by the sender (the dedup key)", field="event_id")
    if not _UUID.fullmatch(event_id):
        event_id = event_id.lower()
        if not _UUID.fullmatch(event_id):
            raise BadRequest(400, f"event_id {event_id[:60]!r} is not a UUID (8-4-4-4-12 hex digits)", field="event_id")
    name = raw.get("event")
    if not isinstance(name, str) or not name or len(name) > MAX_EVENT_NAME:
        raise BadRequest(400, f"event must be a non-empty string of at most {MAX_EVENT_NAME} characters", field="event")
    sent_app = raw.get("app_id")
    if sent_app is not None and sent_app != app_id:
        raise BadRequest(403, f"app_id {str(sent_app)[:60]!r} does not match the app key (app {app_id!r})", field="app_id")
    ts = raw.get("ts")
    if isinstance(ts, float) and ts == ts and abs(ts) < 1e16:
        ts = int(ts)
    if not isinstance(ts, int) or isinstance(ts, bool) or not 0 < ts < 10**14:
        raise BadRequest(400, "ts must be the client time in epoch milliseconds (a positive integer)", field="ts")
    ids = raw.get("ids") or {}
    if not isinstance(ids, dict):
        raise BadRequest(400, f"ids must be an object of touchpoint ids, got {json_type_name(ids)}", field="ids")
    clean_ids = {}
    for id_type, value in ids.items():
        if value is None or value == "":
            continue
        if not isinstance(value, (str, int)) or isinstance(value, bool) or len(str(value)) > MAX_ID_CHARS:
            raise BadRequest(400, f"ids.{id_type[:40]} must be a string of at most {MAX_ID_CHARS} characters", field=f"ids.{id_type[:40]}")
        clean_ids[id_type] = str(value)
    session_id = raw.get("session_id") or ""
    if not isinstance(session_id, str) or len(session_id) > MAX_ID_CHARS:
        raise BadRequest(400, f"session_id must be a string of at most {MAX_ID_CHARS} characters", field="session_id")
    context = object_field(raw, "context")
    props = object_field(raw, "props")
    return {
        "event_id": event_id,
        "event": name,
        "app_id": app_id,
        "ts": ts,
        "ids": clean_ids,
        "session_id": session_id,
        "context": dict(context),
        "props": props,
    }
