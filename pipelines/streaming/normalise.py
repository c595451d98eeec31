"""Normalising an envelope before it becomes a detail row: types, names and time.

Client clocks are wrong often enough to matter (phones set by hand, emulators, time zones baked into epoch values).
The collector stamps `received_at` with its own clock; when the SDK also sends `sent_at` (its clock at send time),
`received_at - sent_at` is the client's clock error plus network time, and shifting `ts` by it gives the event time
on the server's clock. Without `sent_at`, an event "from the future" is clamped to `received_at`.

Everything here depends on the event alone, never on processing time, so a replayed event normalises to exactly
the same row (same `ts` => same partition and sort key) and idempotent writes stay idempotent.
"""

from __future__ import annotations

from typing import Any

SECONDS_CUTOFF = 100_000_000_000  # epoch values below this are seconds (year 5138 in ms; 1973 in s)
CLIENT_TS_PROP = "$client_ts"  # the client's original ts, kept when it was corrected


def epoch_ms(value: Any) -> int:
    number = float(value)
    return int(number * 1000) if abs(number) < SECONDS_CUTOFF else int(number)


def corrected_ts(ts_ms: int, received_ms: int | None, sent_ms: int | None, tolerance_ms: int) -> int:
    """Event time on the server's clock. Offsets within `tolerance_ms` are treated as network noise."""
    if received_ms is None:
        return ts_ms
    if sent_ms is not None:
        skew = received_ms - sent_ms
        if abs(skew) > tolerance_ms:
            ts_ms += skew
    if ts_ms > received_ms + tolerance_ms:
        ts_ms = received_ms
    return ts_ms


def normalise(event: dict[str, Any], skew_tolerance_ms: int) -> dict[str, Any]:
    """A cleaned copy: ms epochs, trimmed names, string ids, lower-case platform, corrected ts."""
    ts = epoch_ms(event["ts"])
    received = epoch_ms(event["received_at"]) if event.get("received_at") not in (None, "") else None
    sent = epoch_ms(event["sent_at"]) if event.get("sent_at") not in (None, "") else None
    fixed = corrected_ts(ts, received, sent, skew_tolerance_ms)

    result = dict(event)
    result["event_id"] = str(event["event_id"]).lower()
    result["event"] = str(event["event"]).strip()
    result["app_id"] = str(event["app_id"]).strip()
    result["ts"] = fixed
    result["received_at"] = received if received is not None else fixed
    result["ids"] = {str(k): str(v) for k, v in (event.get("ids") or {}).items() if v not in (None, "")}
    context = dict(event.get("context") or {})
    if context.get("platform"):
        context["platform"] = str(context["platform"]).strip().lower()
    result["context"] = context
    props = dict(event.get("props") or {})
    if fixed != ts:
        props[CLIENT_TS_PROP] = ts
    result["props"] = props
    return result
