"""The event envelope contract (DESIGN.md) and its mapping onto a detail-table row.

Collector, streaming jobs and the backfill loader all agree on this one mapping, so an event lands the same way
whichever path carried it.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

# Touchpoint ids in priority order: the first present one identifies the person until OneID says otherwise.
PRIMARY_ID_ORDER = ("user_id", "wx_unionid", "phone_hash", "wx_openid", "device_id", "idfa", "android_id", "cookie_id")

# Terminal and channel fields (context keys of the same names), stored in typed columns so terminal analysis reads
# them instead of re-parsing user agents, screens and URLs per query (sql/migrations/0003_terminal_columns.sql).
# The collector fills os/browser versions and device model/brand from the user agent (pipelines/collect/enrich.py)
# and protocol adapters map other vendors' preset properties onto these keys; what a sender leaves out is derived
# here, on every write path alike: screen size from `screen` ("1920x1080"), utm_* from props or the page URL's query,
# referrer_domain from `referrer`.
TERMINAL_TEXT = (
    "os_version", "browser_version", "device_model", "device_brand", "network_type", "carrier",
    "utm_source", "utm_medium", "utm_campaign", "referrer_domain",
)  # fmt: skip
TERMINAL_COLUMNS = (*TERMINAL_TEXT[:4], "screen_width", "screen_height", *TERMINAL_TEXT[4:])
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign")
MAX_TERMINAL_CHARS = 200  # a version, model or campaign longer than this is junk, not a value to group by
MAX_SCREEN_PIXELS = 65_535  # UInt16 columns
_SCREEN = re.compile(r"\s*(\d{1,5})\s*[x×*,]\s*(\d{1,5})")

# `oneid` is not among them: the detail tables fill it at write time from the identity mapping (column DEFAULT
# over the oneid_dict dictionary, sql/migrations/0064), so every writer stamps events alike.
DETAIL_COLUMNS = (
    "event_id", "event", "app_id", "ts", "received_at", "person_id", "ids", "session_id",
    "platform", "url", "referrer", "title", "os", "browser", "device_type", "app_version", "lib", "lib_version",
    "screen", "viewport", "ip", "collector_id", "layer", "props", *TERMINAL_COLUMNS,
)  # fmt: skip


def primary_id(ids: dict[str, Any]) -> tuple[str, str]:
    """(type, value) of the highest-priority touchpoint id present; ('', '') when there is none."""
    for id_type in PRIMARY_ID_ORDER:
        value = ids.get(id_type)
        if value:
            return id_type, str(value)
    for id_type, value in sorted(ids.items()):
        if value:
            return id_type, str(value)
    return "", ""


def partition_key(envelope: dict[str, Any]) -> str:
    """The Kafka key of an event (events.raw, ods.<layer>): its primary touchpoint id, else its event_id, so one
    person's events share a partition and keep their order. A lone id is the primary one whatever its type (the
    collector's normalize() drops empty ids), which spares the priority scan for most web events."""
    ids = envelope.get("ids") or {}
    if len(ids) == 1:
        only = next(iter(ids.values()))
        if only:
            return str(only)
    return primary_id(ids)[1] or str(envelope["event_id"])


def _millis(value: Any) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(value) / 1000, tz=dt.timezone.utc)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def detail_row(event: dict[str, Any], layer: str = "default") -> list[Any]:
    """One envelope -> the values of DETAIL_COLUMNS. Property values are kept as text (typed by the plan)."""
    ids = {str(k): str(v) for k, v in (event.get("ids") or {}).items() if v not in (None, "")}
    context = event.get("context") or {}
    id_type, id_value = primary_id(ids)
    received = event.get("received_at", event["ts"])
    return [
        uuid.UUID(str(event["event_id"])),
        event["event"],
        event["app_id"],
        _millis(event["ts"]),
        _millis(received),
        event.get("oneid") or (f"{id_type}:{id_value}" if id_value else ""),
        ids,
        _text(event.get("session_id")),
        _text(context.get("platform")),
        _text(context.get("url")),
        _text(context.get("referrer")),
        _text(context.get("title")),
        _text(context.get("os")),
        _text(context.get("browser")),
        _text(context.get("device_type")),
        _text(context.get("app_version")),
        _text(context.get("lib")),
        _text(context.get("lib_version")),
        _text(context.get("screen")),
        _text(context.get("viewport")),
        _text(event.get("ip")),
        _text(event.get("collector_id")),
        layer,
        {str(k): _prop_text(v) for k, v in (event.get("props") or {}).items() if v is not None},
        *terminal_values(context, event.get("props") or {}),
    ]


def _pixels(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None
    return number if 0 <= number <= MAX_SCREEN_PIXELS else None


def screen_size(context: dict[str, Any]) -> tuple[int, int]:
    """(width, height) in pixels: `screen_width`/`screen_height` where sent, else parsed from `screen`; 0 unknown."""
    width, height = _pixels(context.get("screen_width")), _pixels(context.get("screen_height"))
    if width is None or height is None:
        match = _SCREEN.match(str(context.get("screen") or ""))
        if match:
            width, height = _pixels(match[1]), _pixels(match[2])
    return (width or 0, height or 0) if width is not None and height is not None else (0, 0)


def _query_utm(url: str) -> dict[str, str]:
    if "utm_" not in url:  # most page URLs carry none: skip the parse
        return {}
    try:
        query = parse_qs(urlsplit(url).query)
    except ValueError:
        return {}
    return {name: query[name][0] for name in UTM_FIELDS if query.get(name)}


def domain_of(url: str) -> str:
    """The host of a URL, lower case, without a leading `www.` ('' for none or junk)."""
    if not url:
        return ""
    try:
        host = urlsplit(url if "//" in url else "//" + url).hostname or ""
    except ValueError:
        return ""
    return host[4:] if host.startswith("www.") else host


def terminal_values(context: dict[str, Any], props: dict[str, Any]) -> list[Any]:
    """The values of TERMINAL_COLUMNS for one event: sent context fields first, then what can be derived."""
    values = {name: _text(context.get(name))[:MAX_TERMINAL_CHARS] for name in TERMINAL_TEXT}
    from_url = None
    for name in UTM_FIELDS:
        if not values[name]:
            if props.get(name) not in (None, ""):
                values[name] = _text(props[name])[:MAX_TERMINAL_CHARS]
            else:
                from_url = _query_utm(_text(context.get("url"))) if from_url is None else from_url
                values[name] = from_url.get(name, "")[:MAX_TERMINAL_CHARS]
    if not values["referrer_domain"]:
        values["referrer_domain"] = domain_of(_text(context.get("referrer")))[:MAX_TERMINAL_CHARS]
    values["screen_width"], values["screen_height"] = screen_size(context)
    return [values[name] for name in TERMINAL_COLUMNS]


def _prop_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
