"""PostHog capture API (posthog-js, posthog-python, the mobile SDKs) -> native envelopes and person updates. Pure: no
I/O; the caller passes the receive time for events that carry none.

Wire format: POST to /e/, /capture/, /batch/ or /i/v0/e/ (GET with `data=` works too) with a JSON body that is one
event, an array of events or {"batch": [...], "api_key", "sent_at"}; compressed as gzip (detected by its magic
bytes: posthog-js no longer marks it), `compression=base64`, or `compression=lz64` (lz-string's base64, posthog-js's
fallback); old posthog-js posts a form with `data=<base64 or lz64>`. The project key travels as `api_key` or `token`
(body, each event, or `properties.token`), or `?token=` / `?api_key=`. An event: {"event", "distinct_id" (or
`properties.distinct_id`), "properties", "timestamp" (ISO) or "offset" (ms before `sent_at`), "uuid", "$set",
"$set_once", "$unset"}.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs

from lzstring import LZString

from pipelines.collect.intake import BadRequest, MappedEnvelope, gunzip, object_field, parse_json
from pipelines.collect.protocols import ContextFields, Mapped, content_ids, given_uuid, id_text, iso_millis, map_each, person_update
from pipelines.plan.validate import json_type_name

GZIP_MAGIC = b"\x1f\x8b"
# lz-string decompression is quadratic in the worst case (each code may repeat the previous entry plus one char): a
# 16 KiB input can expand to ~25 MB at most, which is refused after the fact; bigger lz64 bodies are refused before.
MAX_LZ64_CHARS = 16 * 1024
EVENT_ID_NAMESPACE = uuid.UUID("0b7f1f0e-5a3c-4c1e-8a77-3e2d9c4b6a10")
# Fields a re-send changes: left out of the content id of an event without a uuid.
VOLATILE = ("sent_at", "offset")

EVENT_NAMES = {"$pageview": "page_view", "$screen": "page_view", "$identify": "identify", "$create_alias": "identify"}
# Events that only carry person properties: no event is stored for them, their properties are.
PERSON_ONLY = ("$set", "$set_once", "$unset")
# Person-property fields of an event (top level, or in its properties as posthog-js sends them) -> update ops.
PERSON_FIELDS = {"$set": "set", "$set_once": "set_once", "$unset": "unset"}
CONTEXT_FIELDS = {
    "$current_url": "url",
    "$referrer": "referrer",
    "title": "title",
    "$title": "title",
    "$os": "os",
    "$os_name": "os",
    "$os_version": "os_version",
    "$browser": "browser",
    "$browser_version": "browser_version",
    "$device_model": "device_model",
    "$device_manufacturer": "device_brand",
    "$network_carrier": "carrier",
    "$screen_width": "screen_width",
    "$screen_height": "screen_height",
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "$app_version": "app_version",
    "$raw_user_agent": "ua",
    "$lib": "lib",
    "$lib_version": "lib_version",
}
PLATFORMS = {"web": "web", "posthog-ios": "ios", "posthog-android": "android", "posthog-react-native": "app", "posthog-flutter": "app"}
# Client SDKs (their distinct_id is an anonymous one until identify); server SDKs send the ids their callers chose.
CLIENT_LIBS = set(PLATFORMS)
DROPPED_PROPS = frozenset({"token", "distinct_id", "$set", "$set_once", "$unset", "$geoip_disable", "$is_server", "$python_runtime",
                 "$python_version", "$os_distro", "$lib_custom_api_host", "$elements", "$elements_chain", "$session_id",
                 "$viewport_width", "$viewport_height", "$anon_distinct_id", "$device_id", "$user_id", "$is_identified"})  # fmt: skip
FIELDS = ContextFields(CONTEXT_FIELDS, DROPPED_PROPS)
# Parsed elements chains are cached (at most 8,192 of at most 2 KiB: 16 MiB); longer ones are parsed every time.
CACHED_CHAINS = 8192
MAX_CACHED_CHAIN = 2048
# Attributes that name an element stably, in the web SDK's order (sdk/js/src/index.ts STABLE_ATTRS).
STABLE_ATTRS = ("data-track", "data-testid", "data-id", "data-action", "name")
MAX_ELEMENT_STEPS = 6


def decode_request(body: bytes, query: Mapping[str, str], content_type: str, limit: int) -> tuple[list[Any], bool, dict[str, Any]]:
    """(events, single, request fields): the events of one request, whether it carried a single event, and the
    batch envelope's own fields (api_key, sent_at)."""
    compression = str(query.get("compression") or "").lower()
    payload: bytes | str = body
    if "application/x-www-form-urlencoded" in content_type.lower() or (not body and query.get("data")):
        try:
            form = {name: values[-1] for name, values in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        except UnicodeDecodeError:
            raise BadRequest(400, "form body is not UTF-8") from None
        fields = {**dict(query), **form}
        compression = str(fields.get("compression") or compression).lower()
        payload = str(fields.get("data") or "")
        if not payload:
            raise BadRequest(400, "a PostHog form request needs a `data` field")
        if compression not in ("lz64", "gzip", "gzip-js") and payload.lstrip()[:1] not in ("{", "["):
            compression = "base64"
    document = parse_json(_decompressed(payload, compression, limit))
    if isinstance(document, dict) and "batch" in document:
        if not isinstance(document["batch"], list):
            raise BadRequest(400, f"batch must be an array of events, got {json_type_name(document['batch'])}", field="batch")
        return document["batch"], False, {k: v for k, v in document.items() if k != "batch"}
    if isinstance(document, list):
        return document, False, {}
    return [document], True, {}


def _decompressed(payload: bytes | str, compression: str, limit: int) -> bytes:
    raw = payload.encode("latin-1", errors="replace") if isinstance(payload, str) else payload
    if raw[:2] == GZIP_MAGIC:
        return gunzip(raw, limit)
    if compression == "lz64":
        text = raw.decode("latin-1").strip().replace(" ", "+")
        if len(text) > MAX_LZ64_CHARS:
            raise BadRequest(413, f"an lz64 body above {MAX_LZ64_CHARS} characters is refused (lz-string can expand it "
                                  "quadratically); configure the SDK to send gzip")  # fmt: skip
        try:
            decoded = LZString.decompressFromBase64(text)
        except Exception:  # the library raises whatever its lookups hit on junk (KeyError, IndexError, TypeError, ...)
            decoded = None
        if not decoded:
            raise BadRequest(400, "body with compression=lz64 is not lz-string base64")
        data = decoded.encode("utf-8", errors="surrogatepass")
        if len(data) > limit:
            raise BadRequest(413, f"decompressed body exceeds {limit} bytes")
        return data
    if compression == "base64":
        text = raw.strip().replace(b" ", b"+").replace(b"-", b"+").replace(b"_", b"/")
        try:
            decoded_bytes = base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest(400, "body with compression=base64 is not base64") from None
        return gunzip(decoded_bytes, limit) if decoded_bytes[:2] == GZIP_MAGIC else decoded_bytes
    if compression in ("gzip", "gzip-js") and raw.lstrip()[:1] not in (b"{", b"["):
        raise BadRequest(400, f"body with compression={compression} is not gzip")
    return raw


# posthog-js asks at start for its remote config (GET /array/<key>/config) and its feature flags (POST /flags/, older
# versions /decide/). The collector has neither flags nor recordings, surveys or site apps: it answers that nothing is
# enabled, and that it takes gzip, so the SDK proceeds to capture with its defaults (docs/collector.md, PostHog).
REMOTE_CONFIG = {"supportedCompression": ["gzip", "gzip-js"], "hasFeatureFlags": False, "sessionRecording": False, "surveys": False,
                 "heatmaps": False, "autocaptureExceptions": False, "capturePerformance": False, "siteApps": []}  # fmt: skip
NO_FLAGS = {"flags": {}, "featureFlags": {}, "featureFlagPayloads": {}, "errorsWhileComputingFlags": False}


def remote_config(key: str) -> dict[str, Any]:
    return {"token": key, **REMOTE_CONFIG}


def flags_answer(key: str) -> dict[str, Any]:
    """/flags/ and /decide/: no flags, and (for /decide/, which also carried the config) the remote config."""
    return {**remote_config(key), **NO_FLAGS}


def request_key(events: list[Any], fields: Mapping[str, Any], query: Mapping[str, str]) -> str:
    """The project key of a request: the batch's or the URL's, else the first event's (api_key, token or
    properties.token)."""
    for source in (fields, query):
        for name in ("api_key", "token"):
            if isinstance(source.get(name), str) and source[name]:
                return source[name]
    for event in events[:1]:
        if isinstance(event, dict):
            properties = event.get("properties") if isinstance(event.get("properties"), dict) else {}
            for value in (event.get("api_key"), event.get("token"), properties.get("token")):
                if isinstance(value, str) and value:
                    return value
    return ""


def map_events(events: list[Any], single: bool, key: str, app_id: str, fields: Mapping[str, Any], now_ms: int) -> Mapped:
    """Events -> envelopes and person updates; an event that cannot be mapped is listed in `rejected` (a single
    one raises)."""
    sent_at = _sent_at(fields)
    content_id = content_ids(EVENT_ID_NAMESPACE, app_id, VOLATILE)
    return map_each(events, single, lambda index, event: map_event(event, key, app_id, sent_at, now_ms, index, content_id))


def _sent_at(fields: Mapping[str, Any]) -> int | None:
    try:
        return iso_millis(fields.get("sent_at"), "sent_at")
    except BadRequest:
        return None  # only used to place events that carry an offset instead of a timestamp


def map_event(
    event: Any, key: str, app_id: str, sent_at: int | None, now_ms: int, seq: int, content_id: Callable[[dict[str, Any]], str]
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    if not isinstance(event, dict):
        raise BadRequest(400, f"a PostHog event is a JSON object, got {json_type_name(event)}")
    name = event.get("event")
    if not isinstance(name, str) or not name:
        raise BadRequest(400, "event must be a non-empty string such as \"$pageview\"", field="event")
    properties = object_field(event, "properties")
    # a key sent with the event must be the request's (a falsy api_key counts as none; so does a null or empty token)
    if (sent_key := event.get("api_key")) and sent_key != key:
        raise BadRequest(403, f"event api_key is not this request's project key (app {app_id!r})", field="api_key")
    if (sent_key := event.get("token") or properties.get("token")) is not None and sent_key != "" and sent_key != key:
        raise BadRequest(403, f"event token is not this request's project key (app {app_id!r})", field="token")
    ts = _event_time(event, sent_at, now_ms)
    lib = str(properties.get("$lib") or "")
    ids = _ids(event, name, properties, lib)
    event_id = given_uuid(event.get("uuid")) or content_id(event)
    # most events carry no person properties: two key checks instead of three lookups in each dict
    if event.keys().isdisjoint(PERSON_FIELDS) and properties.keys().isdisjoint(PERSON_FIELDS):
        updates = []
    else:
        updates = _person_updates(event, properties, ids, ts, seq, event_id)
    if name in PERSON_ONLY:
        return None, updates
    context, props = FIELDS.split(properties)
    if lib in PLATFORMS:
        context["platform"] = PLATFORMS[lib]
    if isinstance(properties.get("$device_type"), str) and properties["$device_type"]:
        context["device_type"] = props.pop("$device_type").lower()
    if context.get("screen_width") and context.get("screen_height"):
        context["screen"] = f"{context['screen_width']}x{context['screen_height']}"
    if properties.get("$viewport_width") and properties.get("$viewport_height"):
        context["viewport"] = f"{properties['$viewport_width']}x{properties['$viewport_height']}"
    native = EVENT_NAMES.get(name, name)
    if name == "$autocapture":
        native = _autocapture(event, properties, props)
    if native == "page_view" and "$pathname" in props:
        props.setdefault("path", props.pop("$pathname"))
    if name == "$screen" and "$screen_name" in props:
        props.setdefault("path", props.pop("$screen_name"))
    session = properties.get("$session_id")
    session_id = session if isinstance(session, str) else ""
    return MappedEnvelope(event_id=event_id, event=native, app_id=app_id, ts=ts, ids=ids, session_id=session_id, context=context, props=props), updates


def _event_time(event: dict[str, Any], sent_at: int | None, now_ms: int) -> int:
    ts = iso_millis(event.get("timestamp"), "timestamp")
    if ts is not None:
        return ts
    offset = event.get("offset")
    if isinstance(offset, int) and not isinstance(offset, bool) and 0 <= offset < 10**11:
        return (sent_at or now_ms) - offset
    return sent_at or now_ms


def _ids(event: dict[str, Any], name: str, properties: dict[str, Any], lib: str) -> dict[str, str]:
    """Touchpoint ids. A client SDK's distinct_id is its anonymous id ($device_id) until identify() makes it the
    user's; $identify and $create_alias carry both, which is the link OneID joins."""
    anonymous_type = "cookie_id" if lib == "web" else "device_id"
    distinct_id = id_text(event.get("distinct_id") or properties.get("distinct_id"), "distinct_id")
    if not distinct_id:
        raise BadRequest(400, "distinct_id is required (top level or in properties)", field="distinct_id")
    ids: dict[str, str] = {}
    if name == "$create_alias":  # distinct_id is the id before (usually anonymous), properties.alias the one after
        alias = id_text(properties.get("alias"), "properties.alias")
        if not alias:
            raise BadRequest(400, "$create_alias needs properties.alias (the id to link distinct_id to)", field="properties.alias")
        return {"user_id": alias, anonymous_type: distinct_id}
    device = id_text(properties.get("$device_id"), "properties.$device_id")
    # most events carry no $anon_distinct_id (posthog-js sends it with $identify only): no id_text call for an absent one
    anonymous = "" if (value := properties.get("$anon_distinct_id")) is None else id_text(value, "properties.$anon_distinct_id")
    identified = (
        name == "$identify"
        or properties.get("$is_identified") is True
        or (device and distinct_id != device)
        or (lib not in CLIENT_LIBS and not device)
    )
    if identified:
        ids["user_id"] = distinct_id
    else:
        ids[anonymous_type] = distinct_id
    for value in (anonymous, device):
        if value and value != distinct_id:
            ids.setdefault(anonymous_type, value)
    return ids


def _person_updates(event: dict[str, Any], properties: dict[str, Any], ids: dict[str, str], ts: int, seq: int, event_id: str) -> list[dict[str, Any]]:
    """$set / $set_once (top level, or in properties as posthog-js sends them) and $unset (a list of names). Each
    update's id derives from the event's, so a re-sent event updates nothing twice. The person is the event's
    (its highest-priority id: the user's once identified)."""
    updates = []
    for field_name, op in PERSON_FIELDS.items():
        value = event.get(field_name, properties.get(field_name))
        if value in (None, {}, []):
            continue
        if op == "unset":
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise BadRequest(400, f"$unset must be an array of property names, got {json_type_name(value)}", field="$unset")
            value = dict.fromkeys(value)
        update_id = str(uuid.uuid5(uuid.UUID(event_id), field_name))
        updates.append(person_update(op, ids, ts, seq, value, update_id, "posthog"))
    return updates


def _autocapture(event: dict[str, Any], properties: dict[str, Any], props: dict[str, Any]) -> str:
    """An autocaptured click becomes the native `click` with the element key the heatmaps use (`element_path`,
    docs/collector.md); other autocaptured interactions (change, submit) keep PostHog's name."""
    chain = properties.get("$elements_chain") or event.get("elements_chain")
    if isinstance(chain, str) and chain:
        found = _chain_target(chain) if len(chain) <= MAX_CACHED_CHAIN else _target(parse_elements_chain(chain))
    elif isinstance(properties.get("$elements"), list):
        found = _target([item for item in properties["$elements"] if isinstance(item, dict)])
    else:
        found = {}
    for name, value in found.items():
        props.setdefault(name, value)
    kind = properties.get("$event_type")
    if kind in (None, "click"):
        props.pop("$event_type", None)
        return "click"
    return "$autocapture"


@lru_cache(maxsize=CACHED_CHAINS)  # clicks repeat on the same elements: a chain is parsed once per collector
def _chain_target(chain: str) -> dict[str, str]:
    return _target(parse_elements_chain(chain))


def _target(elements: list[dict[str, Any]]) -> dict[str, str]:
    """The click properties of an element list (clicked element first): element_path, element_text, href."""
    if not elements:
        return {}
    target = elements[0]
    found = {"element_path": element_path(elements)}
    text = target.get("text") or target.get("$el_text")
    if text:
        found["element_text"] = str(text)[:256]
    href = target.get("href") or target.get("attr__href")
    if href:
        found["href"] = str(href)
    return found


# One element of a chain: `tag.class1.class2` then, after a colon, attributes `name="value"` (a value may hold
# escaped quotes and semicolons); elements are separated by `;`.
_ELEMENT = re.compile(r'([^;:"]*)(?::((?:[^;"]|"(?:\\.|[^"\\])*")*))?;?')
_ATTRIBUTE = re.compile(r'([^\s="]+)="((?:\\.|[^"\\])*)"')
_ESCAPE = re.compile(r"\\(.)")


def parse_elements_chain(chain: str) -> list[dict[str, str]]:
    """posthog-js's `$elements_chain`: elements from the clicked one up, `;`-separated, each
    `tag.class1.class2:name="value"name="value"...` (quotes in values escaped as \\")."""
    elements = []
    for match in _ELEMENT.finditer(chain):
        head, rest = match.group(1), match.group(2) or ""
        if not head and not rest:
            continue
        element = {"tag_name": head.split(".", 1)[0]}
        for name, value in _ATTRIBUTE.findall(rest):
            element[name] = _ESCAPE.sub(r"\1", value)
        elements.append(element)
    return elements


def element_path(elements: list[dict[str, Any]]) -> str:
    """The web SDK's element key (sdk/js/src/index.ts elementPath): from the clicked element up to the nearest one
    with an id, at most 6 steps, each `tag#id`, `tag[attr="value"]` for a stable attribute, else `tag` or
    `tag:nth-of-type(n)`. PostHog reports every element's nth-of-type but not whether it has same-tag siblings:
    the first of several is `tag` here where the web SDK writes `tag:nth-of-type(1)`."""
    parts = []
    for element in elements[:MAX_ELEMENT_STEPS]:
        tag = str(element.get("tag_name") or "").lower()
        if not tag:
            continue
        attributes = element.get("attributes") if isinstance(element.get("attributes"), dict) else {}
        attribute = {**attributes, **{k: v for k, v in element.items() if isinstance(k, str) and k.startswith("attr__")}}
        element_id = attribute.get("attr__id")
        if element_id:
            parts.append(f"{tag}#{element_id}")
            break
        stable = next((name for name in STABLE_ATTRS if attribute.get(f"attr__{name}")), None)
        if stable:
            parts.append(f'{tag}[{stable}="{attribute[f"attr__{stable}"]}"]')
            continue
        nth = str(element.get("nth-of-type") or element.get("nth_of_type") or "")
        parts.append(f"{tag}:nth-of-type({nth})" if nth.isdigit() and int(nth) > 1 else tag)
    return ">".join(reversed(parts))
