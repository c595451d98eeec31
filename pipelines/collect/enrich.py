"""Context enrichment: operating system, browser, their versions, device type, model and brand from the user agent
(ua-parser, the maintained uap-core rules), and per-session context so big repeated fields travel once per session.

The SDK sends `context.ua`, `screen`, `viewport`, ... with the first batch of a session only; later events
carry just `session_id`. The collector remembers the small derived fields per (app, session) and fills them
into later events; the raw UA string is kept only on the event that brought it.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache
from typing import Any

from ua_parser import parse as parse_user_agent

SESSION_FIELDS = (
    "platform", "os", "browser", "device_type", "screen", "viewport", "lib", "lib_version", "app_version",
    "os_version", "browser_version", "device_model", "device_brand", "screen_width", "screen_height", "network_type", "carrier",
)  # fmt: skip
_MOBILE_OS = {"iOS", "Android", "Windows Phone", "HarmonyOS", "KaiOS"}
MAX_UA_CHARS = 512


def _version(part) -> str:
    """"17.1.2" from a parsed os/user agent's major, minor and patch ('' when the parser has no major)."""
    numbers = [part.major, part.minor, part.patch] if part and part.major else []
    return ".".join(n for n in numbers if n) if numbers else ""


@lru_cache(maxsize=8192)
def describe_user_agent(ua: str) -> dict[str, str]:
    """os, browser, device_type, os_version, browser_version, device_model and device_brand of a user-agent string:
    only what it tells (the parser's "Other" and empty values left out)."""
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
    described = {
        "os": os_name,
        "browser": browser,
        "device_type": device_type,
        "os_version": _version(result.os) if os_name else "",
        "browser_version": _version(result.user_agent) if browser else "",
        # A desktop's "device" is the parser's placeholder ("Other", or the brand-less "Mac"): no model to report.
        "device_model": (result.device.model or "") if result.device and result.device.brand else "",
        "device_brand": (result.device.brand or "") if result.device else "",
    }
    return {name: value for name, value in described.items() if value}


class SessionContexts:
    """A bounded LRU of per-session context. Each collector instance has its own: on a miss (another instance
    saw the session start) the request's User-Agent header still gives os/browser/device type."""

    def __init__(self, capacity: int = 100_000):
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, str], dict[str, str]] = OrderedDict()

    def remember(self, app_id: str, session_id: str, context: dict[str, Any]) -> None:
        values = {name: context[name] for name in SESSION_FIELDS if isinstance(context.get(name), (str, int)) and context[name]}
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
    context: dict[str, Any], app_id: str, session_id: str, header_device: dict[str, str], sessions: SessionContexts
) -> dict[str, Any]:
    """Fill the user agent's fields (describe_user_agent) and session fields into `context` (a fresh dict owned by the caller).
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


def _fill(context: dict[str, Any], device: dict[str, str]) -> None:
    """What the sender set wins (an app SDK knows its device model better than a web view's user agent)."""
    for name, value in device.items():
        context.setdefault(name, value)
