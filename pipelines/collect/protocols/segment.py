"""Segment HTTP tracking API (Segment's and RudderStack's SDKs) -> native envelopes and person updates. Pure: no I/O;
the caller passes the receive time for messages that carry none.

Served under the /segment prefix (/segment/v1/track|page|screen|identify|alias|group|batch): Segment's /v1/batch
is the native batch endpoint's path, and a prefix keeps the two apart without looking into every native batch
(docs/collector.md, "Segment and RudderStack SDKs", says why). The write key is the app key: HTTP Basic auth
(user = write key, no password), or `writeKey` in the body for SDKs that send it there.

A message: {"type", "userId", "anonymousId", "event" (track), "name" (page/screen), "properties", "traits"
(identify/group), "previousId" (alias), "groupId" (group), "context": {app, device, os, page, campaign, network,
screen, library, userAgent, locale, timezone, traits}, "timestamp" / "originalTimestamp" / "sentAt" (ISO),
"messageId", "integrations"}.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from pipelines.collect.intake import BadRequest, MappedEnvelope, object_field, parse_json
from pipelines.collect.protocols import Mapped, content_ids, given_uuid, id_text, iso_millis, map_each, person_update
from pipelines.plan.validate import json_type_name

TYPES = ("track", "page", "screen", "identify", "alias", "group")
EVENT_ID_NAMESPACE = uuid.UUID("5e2c8a41-7b3d-4f6e-9c1a-2d4e6f8a0b3c")
WEB_LIBRARIES = ("analytics.js", "analytics-next", "@segment/analytics-next", "RudderLabs JavaScript SDK")
# Fields a re-send changes: left out of the content id of a message without a messageId.
VOLATILE = ("sentAt", "writeKey")
# Segment's context objects onto envelope context fields: {object: {key: field}}.
CONTEXT_FIELDS = {
    "app": {"version": "app_version"},
    "device": {"manufacturer": "device_brand", "model": "device_model"},
    "os": {"name": "os", "version": "os_version"},
    "page": {"url": "url", "referrer": "referrer", "title": "title"},
    "campaign": {"source": "utm_source", "medium": "utm_medium", "name": "utm_campaign"},
    "network": {"carrier": "carrier"},
    "screen": {"width": "screen_width", "height": "screen_height"},
    "library": {"name": "lib", "version": "lib_version"},
}
PLATFORMS = {"ios": "ios", "android": "android"}


def write_key(authorization: str, document: Any) -> str:
    """The write key: HTTP Basic auth's user (Segment's SDKs: base64 of "<key>:"), else the body's `writeKey`."""
    if authorization[:6].lower() == "basic ":
        try:
            user = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8").partition(":")[0]
        except (binascii.Error, ValueError):
            raise BadRequest(401, "the Authorization header is not Basic base64 of \"<write key>:\"") from None
        if user:
            return user
    if isinstance(document, dict) and isinstance(document.get("writeKey"), str):
        return document["writeKey"]
    return ""


def decode_request(body: bytes, kind: str) -> tuple[Any, list[Any], bool]:
    """(document, messages, single) of a request to /segment/v1/<kind>: batch (and import) bodies are {"batch":
    [...]}, the others one message whose type is the path's."""
    document = parse_json(body)
    if not isinstance(document, dict):
        raise BadRequest(400, f"a Segment body is a JSON object, got {json_type_name(document)}")
    if kind in ("batch", "import"):
        messages = document.get("batch")
        if not isinstance(messages, list):
            raise BadRequest(400, f"a Segment batch needs `batch`: an array of messages, got {json_type_name(messages)}", field="batch")
        return document, messages, False
    return document, [{**document, "type": document.get("type") or kind}], True


def map_messages(messages: list[Any], single: bool, key: str, app_id: str, document: dict[str, Any], now_ms: int) -> Mapped:
    """Messages (JSON values, as decode_request gives them) -> envelopes and person updates; a message that cannot
    be mapped is listed in `rejected` (a single one raises)."""
    batch_context = document.get("context") if isinstance(document.get("context"), dict) else {}
    content_id = content_ids(EVENT_ID_NAMESPACE, app_id, VOLATILE)
    contexts: dict[bytes, dict[str, Any]] = {}
    return map_each(messages, single, lambda index, message: map_message(message, key, app_id, batch_context, now_ms, index, content_id, contexts))


def map_message(
    message: Any, key: str, app_id: str, batch_context: dict[str, Any], now_ms: int, seq: int, content_id: Callable[[dict[str, Any]], str],
    contexts: dict[bytes, dict[str, Any]],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One message -> (envelope, person updates). `contexts`, shared by the messages of one request, keeps the
    envelope context made of each `context` (by its JSON): an SDK's batch repeats one device's context."""
    if not isinstance(message, dict):
        raise BadRequest(400, f"a Segment message is a JSON object, got {json_type_name(message)}")
    kind = message.get("type")
    if kind not in TYPES:
        raise BadRequest(400, f"type must be one of {', '.join(TYPES)}, got {str(kind)[:40]!r}", field="type")
    if message.get("writeKey") not in (None, "", key):
        raise BadRequest(403, f"message writeKey is not this request's write key (app {app_id!r})", field="writeKey")
    context = object_field(message, "context")
    if batch_context:
        context = {**batch_context, **context}
    # The message's own dict, not a copy: only its envelope uses it after its event_id is made (just below).
    properties = object_field(message, "properties")
    traits = object_field(message, "traits")
    device = context.get("device")
    if not isinstance(device, dict):
        device = {}
    ids = _ids(message, kind, context, device)
    ts = _time(message, now_ms)
    event_id = given_uuid(message.get("messageId")) or content_id(message)
    name, props = _event(message, kind, properties, traits)
    envelope_context = _context(context, device, properties) if kind == "page" else _known_context(context, device, contexts)
    if kind == "page":
        if "path" in properties:
            props.setdefault("path", properties["path"])
        elif isinstance(context.get("page"), dict) and context["page"].get("path"):
            props.setdefault("path", context["page"]["path"])
    if "locale" in context or "timezone" in context:  # most messages carry neither
        for extra in ("locale", "timezone"):
            if isinstance(context.get(extra), str) and context[extra]:
                props.setdefault(extra, context[extra])
    updates = []
    if kind == "identify" and traits:
        update_id = str(uuid.uuid5(uuid.UUID(event_id), "traits"))
        updates.append(person_update("set", ids, ts, seq, dict(traits), update_id, "segment"))
    envelope = MappedEnvelope(event_id=event_id, event=name, app_id=app_id, ts=ts, ids=ids, session_id="", context=envelope_context, props=props)
    return envelope, updates


def _ids(message: dict[str, Any], kind: str, context: dict[str, Any], device: dict[str, Any]) -> dict[str, str]:
    library = context.get("library") if isinstance(context.get("library"), dict) else {}
    anonymous_type = "cookie_id" if library.get("name") in WEB_LIBRARIES else "device_id"
    ids: dict[str, str] = {}
    if user := id_text(message.get("userId"), "userId"):
        ids["user_id"] = user
    if anonymous := id_text(message.get("anonymousId"), "anonymousId"):
        ids[anonymous_type] = anonymous
    if (device_id := id_text(device.get("id"), "context.device.id")) and device_id != anonymous:
        ids.setdefault("device_id", device_id)
    if kind == "alias":  # previousId is the id before (usually anonymous), userId the one after
        previous = id_text(message.get("previousId"), "previousId")
        if not previous or "user_id" not in ids:
            raise BadRequest(400, "alias needs previousId and userId", field="previousId")
        ids.setdefault(anonymous_type, previous)
    if not ids:
        raise BadRequest(400, "a Segment message needs userId or anonymousId", field="userId")
    return ids


def _time(message: dict[str, Any], now_ms: int) -> int:
    for name in ("timestamp", "originalTimestamp", "sentAt"):
        ts = iso_millis(message.get(name), name)
        if ts is not None:
            return ts
    return now_ms


def _event(message: dict[str, Any], kind: str, properties: dict[str, Any], traits: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The native event name and props of a message: track keeps its name, page and screen are page views, identify
    and alias are the native `identify` (the call that links ids), group is `group` with the group's traits."""
    if kind == "track":
        name = message.get("event")
        if not isinstance(name, str) or not name:
            raise BadRequest(400, "a track message needs an `event` name", field="event")
        return name, properties
    if kind in ("page", "screen"):
        page_name = message.get("name")
        props = {k: v for k, v in properties.items() if k not in ("url", "referrer", "title", "path")}
        if isinstance(page_name, str) and page_name:
            props.setdefault("page_name" if kind == "page" else "path", page_name)
        if isinstance(message.get("category"), str):
            props.setdefault("page_category", message["category"])
        return "page_view", props
    if kind == "group":
        group_id = id_text(message.get("groupId"), "groupId")
        if not group_id:
            raise BadRequest(400, "a group message needs groupId", field="groupId")
        return "group", {"group_id": group_id, **{f"group_{name}": value for name, value in traits.items()}}
    return "identify", {}


def _known_context(context: dict[str, Any], device: dict[str, Any], contexts: dict[bytes, dict[str, Any]]) -> dict[str, Any]:
    """_context of a message that is no page call, made once per distinct `context` of a request (by its JSON: equal
    JSON, equal JSON values, since orjson writes what it read back unchanged)."""
    try:
        seen = orjson.dumps(context)
    except orjson.JSONEncodeError:  # not what orjson reads (an integer above 64 bits from a Python caller)
        return _context(context, device, None)
    if (known := contexts.get(seen)) is None:
        known = contexts[seen] = _context(context, device, None)
    return dict(known)


def _context(context: dict[str, Any], device: dict[str, Any], page_properties: dict[str, Any] | None) -> dict[str, Any]:
    """The envelope context of a message's `context` (its `device` object passed: the caller has it) and, for a page
    call, its own properties."""
    result: dict[str, Any] = {}
    for section in context.keys() & CONTEXT_FIELDS.keys():  # a message has a few of the sections: skip the others
        part = context[section]
        if isinstance(part, dict):
            for name, field in CONTEXT_FIELDS[section].items():
                value = part.get(name)
                if value is not None and value != "" and not isinstance(value, (dict, list)):
                    result[field] = value
    if page_properties:  # a page call's own properties describe its page best
        for name in ("url", "referrer", "title"):
            if page_properties.get(name) not in (None, "") and not isinstance(page_properties[name], (dict, list)):
                result[name] = page_properties[name]
    device_type = str(device.get("type") or "").lower() if device else ""
    if device_type in PLATFORMS:
        result["platform"] = PLATFORMS[device_type]
    elif result.get("lib") in WEB_LIBRARIES:
        result["platform"] = "web"
    network = context.get("network")
    if isinstance(network, dict):
        if network.get("wifi") is True:
            result["network_type"] = "wifi"
        elif network.get("cellular") is True:
            result["network_type"] = "cellular"
    user_agent = context.get("userAgent")
    if isinstance(user_agent, str) and user_agent:
        result["ua"] = user_agent
    if result.get("screen_width") and result.get("screen_height"):
        result["screen"] = f"{result['screen_width']}x{result['screen_height']}"
    return result
