"""Context enrichment: operating system, browser and device type from the user agent (ua-parser, the
maintained uap-core rules), and per-session context so big repeated fields travel once per session.

The SDK sends `context.ua`, `screen`, `viewport`, ... with the first batch of a session only; later events
carry just `session_id`. The collector remembers the small derived fields per (app, session) and fills them
into later events; the raw UA string is kept only on the event that brought it.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache
from typing import Any

from ua_parser import parse as parse_user_agent

SESSION_FIELDS = ("platform", "os", "browser", "device_type", "screen", "viewport", "lib", "lib_version", "app_version")
_MOBILE_OS = {"iOS", "Android", "Windows Phone", "HarmonyOS", "KaiOS"}
MAX_UA_CHARS = 512


@lru_cache(maxsize=8192)
def describe_user_agent(ua: str) -> tuple[str, str, str]:
    """(os, browser, device_type) for a user-agent string; empty strings for what it does not tell."""
    result = parse_user_agent(ua[:MAX_UA_CHARS])
    os_name = result.os.family if result.os and result.os.family != "Other" else ""
    browser = result.user_agent.family if result.user_agent and result.user_agent.family != "Other" else ""
    device = result.device.family if result.device else ""
    if device == "Spider":
        device_type = "bot"
    elif "iPad" in device or "Tablet" in ua:
        device_type = "tablet"
    elif os_name in _MOBILE_OS or "Mobile" in ua:
        device_type = "mobile"
    elif os_name:
        device_type = "desktop"
    else:
        device_type = ""
    return os_name, browser, device_type


class SessionContexts:
    """A bounded LRU of per-session context. Each collector instance has its own: on a miss (another instance
    saw the session start) the request's User-Agent header still gives os/browser/device type."""

    def __init__(self, capacity: int = 100_000):
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, str], dict[str, str]] = OrderedDict()

    def remember(self, app_id: str, session_id: str, context: dict[str, Any]) -> None:
        values = {name: context[name] for name in SESSION_FIELDS if isinstance(context.get(name), str) and context[name]}
        if not values:
            return
        key = (app_id, session_id)
        entry = self._entries.get(key)
        if entry is None:
            self._entries[key] = values
            if len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        else:
            entry.update(values)
            self._entries.move_to_end(key)

    def recall(self, app_id: str, session_id: str) -> dict[str, str] | None:
        return self._entries.get((app_id, session_id))


def enrich_context(
    context: dict[str, Any], app_id: str, session_id: str, header_device: tuple[str, str, str], sessions: SessionContexts
) -> dict[str, Any]:
    """Fill os/browser/device_type and session fields into `context` (a fresh dict owned by the caller).
    `header_device` is `describe_user_agent()` of the request's User-Agent header, computed once per request."""
    ua = context.get("ua")
    if isinstance(ua, str) and ua:
        _fill(context, describe_user_agent(ua))
        if session_id:
            sessions.remember(app_id, session_id, context)
        return context
    known = sessions.recall(app_id, session_id) if session_id else None
    if known:
        for name, value in known.items():
            context.setdefault(name, value)
        return context
    _fill(context, header_device)
    if session_id:
        sessions.remember(app_id, session_id, context)
    return context


def _fill(context: dict[str, Any], device: tuple[str, str, str]) -> None:
    os_name, browser, device_type = device
    if os_name:
        context.setdefault("os", os_name)
    if browser:
        context.setdefault("browser", browser)
    if device_type:
        context.setdefault("device_type", device_type)
