"""Sensors Analytics (神策) SDK records -> native envelopes. Pure: no I/O, no clock.

Wire format (every Sensors SDK): a form (POST body) or query string (GET, image beacon) with `data` (one record)
or `data_list` (an array of records), each base64 of the record JSON, or base64 of its gzip when `gzip=1`.
A record: {"type", "event", "time" (ms), "distinct_id", "anonymous_id"?, "login_id"?, "original_id"?
(track_signup), "identities"? (newer SDKs), "lib": {"$lib", "$lib_version", ...}, "properties", "project"?,
"_track_id"?, "_flush_time"?}.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs


from pipelines.collect.intake import MAX_ID_CHARS, BadRequest, MappedEnvelope, gunzip, object_field, parse_json
from pipelines.collect.protocols import ContextFields, Mapped, content_ids, id_text, map_each, person_update
from pipelines.plan.validate import json_type_name

TRACK_TYPES = ("track", "track_signup", "track_id_bind")
# Profile records -> person-property updates (pipelines/person_properties.py).
PROFILE_OPS = {"profile_set": "set", "profile_set_once": "set_once", "profile_append": "append", "profile_unset": "unset"}
ITEM_TYPES = ("item_set", "item_delete")
UNSUPPORTED = {
    "profile_increment": "profile_increment is not supported: person properties keep values, not counters (send profile_set)",
    "profile_delete": "profile_delete is not supported: person properties are kept with their history (unset them one by one)",
    **dict.fromkeys(ITEM_TYPES, "item records are not supported: Trackflow keeps no item table"),
    "track_id_unbind": "unbinding ids is not supported: OneID links are only added (see docs/oneid.md)",
}

# Preset events renamed to the native events they are (the tracking plan and the heatmaps know these names).
# $SignUp (login(): sent whenever a device logs in a login id it has not had) and $BindID (bind(), newer SDKs) link an
# anonymous id to a login id: the native `identify`, as PostHog's $identify and Segment's identify/alias. Not the
# native `signup` (an account was created): a plan's checks of sign-ups, such as its required `method`, which no
# SDK login carries, quarantined every web login, and with it the link OneID should have joined.
EVENT_NAMES = {
    "$pageview": "page_view",
    "$AppViewScreen": "page_view",
    "$MPViewScreen": "page_view",
    "$WebClick": "click",
    "$AppClick": "click",
    "$MPClick": "click",
    "$SignUp": "identify",
    "$BindID": "identify",
}
PLATFORMS = {"js": "web", "iOS": "ios", "Android": "android", "MiniProgram": "miniprogram"}
# Preset properties that are envelope context fields; the rest stay in props under their own names.
CONTEXT_FIELDS = {
    "$url": "url",
    "$referrer": "referrer",
    "$title": "title",
    "$os": "os",
    "$os_version": "os_version",
    "$browser": "browser",
    "$browser_version": "browser_version",
    "$model": "device_model",
    "$manufacturer": "device_brand",
    "$network_type": "network_type",
    "$carrier": "carrier",
    "$screen_width": "screen_width",
    "$screen_height": "screen_height",
    "$utm_source": "utm_source",
    "$utm_medium": "utm_medium",
    "$utm_campaign": "utm_campaign",
    "$app_version": "app_version",
    "$user_agent": "ua",
    "$lib": "lib",
    "$lib_version": "lib_version",
}
# $element_* of click events onto the native click properties (docs/heatmaps.md reads these).
CLICK_PROPS = {"$element_selector": "element_path", "$element_path": "element_path", "$element_content": "element_text",
               "$element_target_url": "href", "$page_x": "x", "$page_y": "y"}  # fmt: skip
# The newer SDKs' `identities` keys onto touchpoint id types (identity.yaml); other keys keep their name.
IDENTITY_TYPES = {
    "$identity_login_id": "user_id",
    "$identity_cookie_id": "cookie_id",
    "$identity_android_id": "android_id",
    "$identity_idfa": "idfa",
    "$identity_idfv": "device_id",
    "$identity_mp_openid": "wx_openid",
    "$identity_mp_unionid": "wx_unionid",
}
DROPPED_PROPS = frozenset({"$is_login_id", "$project", "$token", "$viewport_width", "$viewport_height"})
FIELDS = ContextFields(CONTEXT_FIELDS, DROPPED_PROPS)
# event_id: a UUIDv5 of the record under this namespace without its volatile fields (see sensors_event_ids).
EVENT_ID_NAMESPACE = uuid.UUID("6f1c3a52-2b7e-4f0e-9a43-5d0b8c1e7a21")
VOLATILE = ("_flush_time",)
# Record fields that make _ids more than "distinct_id is the user's or the anonymous id".
OPTIONAL_IDS = frozenset({"identities", "login_id", "anonymous_id"})
NO_UPDATES = ()  # a track record updates no person


def decode_request(body: bytes, query: Mapping[str, str], content_type: str, limit: int) -> tuple[list[Any], bool]:
    """The records of one request and whether it carried a single one (`data`) rather than a list."""
    params = dict(query)
    if body and "application/x-www-form-urlencoded" in content_type.lower():
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise BadRequest(400, "form body is not UTF-8") from None
        params.update({name: values[-1] for name, values in form.items()})
    compressed = params.get("gzip", "0") == "1"
    if params.get("data_list"):
        records = parse_json(_decode_field("data_list", params["data_list"], compressed, limit))
        if not isinstance(records, list):
            raise BadRequest(400, f"data_list must decode to a JSON array of records, got {json_type_name(records)}")
        return records, False
    if params.get("data"):
        record = parse_json(_decode_field("data", params["data"], compressed, limit))
        return (record, False) if isinstance(record, list) else ([record], True)
    raise BadRequest(400, "a Sensors request needs a `data` or `data_list` form/query field (base64 JSON)")


def _decode_field(name: str, value: str, compressed: bool, limit: int) -> bytes:
    # A query string may turn '+' into ' '; URL-safe alphabets and missing padding are tolerated as well.
    text = value.strip().replace(" ", "+").replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(400, f"`{name}` is not base64") from None
    if not compressed:
        return raw
    try:
        return gunzip(raw, limit)
    except BadRequest as exc:
        raise BadRequest(exc.status, f"`{name}` with gzip=1 is not base64 of gzip: {exc.reason}") from None


def map_records(records: list[Any], single: bool, url_project: str, app_id: str) -> Mapped:
    """Records -> envelopes and person updates; each record that cannot be mapped is listed in `rejected` (a single
    one raises)."""

    event_id = sensors_event_ids(app_id)
    projects = (None, "", url_project, app_id)  # the record projects _checked_kind accepts

    def map_one(index: int, record: Any) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        # a track record of this project, what SDKs mostly send: _checked_kind's answer without its checks one by one
        if type(record) is dict and record.get("type") == "track" and record.get("project") in projects:
            return _track_envelope(record, "track", event_id, app_id), NO_UPDATES
        kind = _checked_kind(record, url_project, app_id)
        if kind in PROFILE_OPS:
            return None, [map_profile(record, kind, event_id, index)]
        return _track_envelope(record, kind, event_id, app_id), []

    return map_each(records, single, map_one)


def _checked_kind(record: Any, url_project: str, app_id: str) -> str:
    if not isinstance(record, dict):
        raise BadRequest(400, f"a Sensors record is a JSON object, got {json_type_name(record)}")
    kind = record.get("type")
    if not isinstance(kind, str):
        raise BadRequest(400, f"type must be a string such as \"track\", got {json_type_name(kind)}", field="type")
    if kind in UNSUPPORTED:
        raise BadRequest(422, f"type {kind}: {UNSUPPORTED[kind]}", field="type")
    if kind not in TRACK_TYPES and kind not in PROFILE_OPS:
        raise BadRequest(400, f"type {str(kind)[:40]!r} is not a Sensors record type ({', '.join(TRACK_TYPES + tuple(PROFILE_OPS))}, ...)", field="type")
    project = record.get("project")
    if project not in (None, "", url_project, app_id):
        raise BadRequest(403, f"record project {str(project)[:60]!r} is not this URL's project (app {app_id!r})", field="project")
    return kind


def map_profile(record: dict[str, Any], kind: str, event_id: Callable[[dict[str, Any]], str], seq: int) -> dict[str, Any]:
    """A profile_* record -> a person-property update of the person its distinct_id (and identities) name."""
    properties = object_field(record, "properties")
    lib = object_field(record, "lib")
    ids = _ids(record, kind, properties, str(lib.get("$lib") or properties.get("$lib") or ""))
    values = {name: value for name, value in properties.items() if name not in DROPPED_PROPS and name not in ("$lib", "$lib_version")}
    return person_update(PROFILE_OPS[kind], ids, _time(record), seq, values, event_id(record), "sensors")


def _time(record: dict[str, Any]) -> int:
    ts = record.get("time")
    if not isinstance(ts, int) or isinstance(ts, bool) or ts <= 0:
        raise BadRequest(400, "time must be the client time in epoch milliseconds (a positive integer)", field="time")
    return ts


def map_record(record: Any, url_project: str, app_id: str) -> dict[str, Any]:
    """One track record -> its envelope (a profile record is refused: it is no event)."""
    kind = _checked_kind(record, url_project, app_id)
    if kind not in TRACK_TYPES:
        raise BadRequest(400, f"a {kind} record is a person update, not an event", field="type")
    return _track_envelope(record, kind, sensors_event_ids(app_id), app_id)


def _track_envelope(record: dict[str, Any], kind: str, event_id: Callable[[dict[str, Any]], str], app_id: str) -> MappedEnvelope:
    event = record.get("event")
    if not isinstance(event, str) or not event:
        raise BadRequest(400, f"a {kind} record needs an `event` name", field="event")
    # the checks of _time and object_field take their common case inline and call the helper otherwise
    ts = record.get("time")
    if type(ts) is not int or ts <= 0:
        ts = _time(record)
    properties = record.get("properties") or {}
    if type(properties) is not dict:
        properties = object_field(record, "properties")
    lib = record.get("lib") or {}
    if type(lib) is not dict:
        lib = object_field(record, "lib")
    lib_name = lib.get("$lib") or properties.get("$lib") or ""
    if type(lib_name) is not str:
        lib_name = str(lib_name)
    ids = _ids(record, kind, properties, lib_name)
    context, props = FIELDS.split(properties)
    if lib_name:
        if lib_name in PLATFORMS:
            context["platform"] = PLATFORMS[lib_name]
        context.setdefault("lib", lib_name)
    if "lib_version" not in context and lib.get("$lib_version"):
        context["lib_version"] = lib["$lib_version"]
    if (width := properties.get("$screen_width")) and (height := properties.get("$screen_height")):
        context["screen"] = f"{width}x{height}"
    if (width := properties.get("$viewport_width")) and (height := properties.get("$viewport_height")):
        context["viewport"] = f"{width}x{height}"
    name = EVENT_NAMES.get(event, event)
    if name == "click":
        for source, target in CLICK_PROPS.items():
            if source in props:
                props.setdefault(target, props.pop(source))
    elif name == "page_view" and "$url_path" in props:
        props.setdefault("path", props.pop("$url_path"))
    return MappedEnvelope(event_id=event_id(record), event=name, app_id=app_id, ts=ts, ids=ids, session_id="", context=context, props=props)


def _ids(record: dict[str, Any], kind: str, properties: dict[str, Any], lib_name: str) -> dict[str, str]:
    """Touchpoint ids. Anonymous ids are cookie ids from the web SDK and device ids from the others."""
    anonymous_type = "cookie_id" if lib_name == "js" else "device_id"
    distinct_id = record.get("distinct_id")
    if type(distinct_id) is str and 0 < len(distinct_id) <= MAX_ID_CHARS and kind != "track_signup" and record.keys().isdisjoint(OPTIONAL_IDS):
        # what SDKs mostly send (no identities, login_id or anonymous_id): the steps below give the distinct id as
        # the user's or as the anonymous one
        return {"user_id" if properties.get("$is_login_id") is True else anonymous_type: distinct_id}
    distinct_id = id_text(distinct_id, "distinct_id")
    if not distinct_id:
        raise BadRequest(400, "distinct_id is required (a non-empty string)", field="distinct_id")
    ids: dict[str, str] = {}
    if "identities" in record:  # older SDKs send none
        for key, value in object_field(record, "identities").items():
            id_type = IDENTITY_TYPES.get(key) or ("cookie_id" if key == "$identity_anonymous_id" and lib_name == "js" else None)
            id_type = id_type or ("device_id" if key == "$identity_anonymous_id" else key.removeprefix("$identity_"))
            if text := id_text(value, f"identities.{key[:40]}"):
                ids[id_type] = text
    # the optional ids: most records carry none of them, and an absent one needs no id_text call
    if (login_id := record.get("login_id")) is not None and (login_id := id_text(login_id, "login_id")):
        ids["user_id"] = login_id
    if (anonymous_id := record.get("anonymous_id")) is not None and (anonymous_id := id_text(anonymous_id, "anonymous_id")):
        ids.setdefault(anonymous_type, anonymous_id)
    if kind == "track_signup":  # distinct_id is the login id, original_id the anonymous id it replaces
        original_id = id_text(record.get("original_id"), "original_id")
        if not original_id:
            raise BadRequest(400, "track_signup needs original_id (the anonymous id before login)", field="original_id")
        ids["user_id"] = distinct_id
        ids.setdefault(anonymous_type, original_id)
    elif properties.get("$is_login_id") is True or distinct_id == ids.get("user_id"):
        ids["user_id"] = distinct_id
    elif distinct_id not in ids.values():
        ids.setdefault(anonymous_type, distinct_id)
    return ids


def sensors_event_ids(app_id: str) -> Callable[[dict[str, Any]], str]:
    """The event id of each record of one app's request. Sensors records carry no UUID. A UUIDv5 of the app and the
    record without `_flush_time` (the one field a re-send changes; `_track_id`, a per-record random number of the
    web/app SDKs, stays) gives a re-sent record the same event_id, so the warehouse's event_id dedup drops the
    copy. Two records identical in every field, to the millisecond, become one event: they cannot be told apart
    anyway."""
    return content_ids(EVENT_ID_NAMESPACE, app_id, VOLATILE)
