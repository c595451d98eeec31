"""The event envelope contract (DESIGN.md) and its mapping onto a detail-table row.

Collector, streaming jobs and the backfill loader all agree on this one mapping, so an event lands the same way
whichever path carried it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

# Touchpoint ids in priority order: the first present one identifies the person until OneID says otherwise.
PRIMARY_ID_ORDER = ("user_id", "wx_unionid", "phone_hash", "wx_openid", "device_id", "idfa", "android_id", "cookie_id")

# `oneid` is not among them: the detail tables fill it at write time from the identity mapping (column DEFAULT
# over the oneid_dict dictionary, sql/migrations/0064), so every writer stamps events alike.
DETAIL_COLUMNS = (
    "event_id", "event", "app_id", "ts", "received_at", "person_id", "ids", "session_id",
    "platform", "url", "referrer", "title", "os", "browser", "device_type", "app_version", "lib", "lib_version",
    "screen", "viewport", "ip", "collector_id", "layer", "props",
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
    ]


def _prop_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
