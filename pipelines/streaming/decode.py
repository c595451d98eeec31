"""Kafka message -> envelopes, and the dead letters for what cannot be one.

The collector may put one event or a batch (a JSON array of events) in a message, and the layering job writes
batches as `{"layer", "key", "events": [...]}` (pipelines.layering.publish); all decode to a list. A bad
message or a bad event inside a batch becomes a DeadLetter for `events.quarantine` — never an exception that kills
the job, never a silent drop. The good events of a batch still go through.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import orjson

REQUIRED_FIELDS = ("event_id", "event", "app_id", "ts")
# What the dwd job needs on top: the layer jobs/layering routed the event to. An event put on an ods topic by anyone
# else has none and is dead-lettered, not guessed into a table.
ROUTED_FIELDS = REQUIRED_FIELDS + ("layer",)
MAX_PAYLOAD_CHARS = 4096  # a dead letter keeps the start of the payload: enough to debug, bounded in size


@dataclass(frozen=True)
class DeadLetter:
    stage: str  # the job that rejected it: layering | dwd
    reason: str
    payload: str
    app_id: str = ""
    event: str = ""
    rejected_at: int = 0  # epoch ms

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


def dead_letter(stage: str, reason: str, payload: Any) -> DeadLetter:
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False, default=str)
    fields = payload if isinstance(payload, dict) else {}
    return DeadLetter(
        stage=stage,
        reason=reason,
        payload=text[:MAX_PAYLOAD_CHARS],
        app_id=str(fields.get("app_id") or ""),
        event=str(fields.get("event") or ""),
        rejected_at=int(time.time() * 1000),
    )


def envelope_problem(event: Any, required: tuple[str, ...] = REQUIRED_FIELDS) -> str | None:
    """Why `event` is not a usable envelope, or None. Checks only what every later stage relies on."""
    if not isinstance(event, dict):
        return f"not a JSON object but {type(event).__name__}"
    missing = [name for name in required if event.get(name) in (None, "")]
    if missing:
        return f"missing {', '.join(missing)}"
    try:
        uuid.UUID(str(event["event_id"]))
    except ValueError:
        return f"event_id {str(event['event_id'])[:64]!r} is not a UUID"
    if not isinstance(event["ts"], (int, float, str)) or isinstance(event["ts"], bool):
        return "ts is not a number"
    try:
        float(event["ts"])
    except ValueError:
        return f"ts {str(event['ts'])[:32]!r} is not a number"
    for section in ("ids", "context", "props"):
        if event.get(section) is not None and not isinstance(event[section], dict):
            return f"{section} is not a JSON object"
    return None


def decode_message(
    value: str | bytes, stage: str, required: tuple[str, ...] = REQUIRED_FIELDS
) -> tuple[list[dict[str, Any]], list[DeadLetter]]:
    """One Kafka message value -> (valid envelopes, dead letters)."""
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        return [], [dead_letter(stage, f"invalid JSON: {exc}", text)]
    if isinstance(decoded, dict) and isinstance(decoded.get("events"), list):
        decoded = decoded["events"]
    items = decoded if isinstance(decoded, list) else [decoded]
    events, rejected = [], []
    for item in items:
        problem = envelope_problem(item, required)
        if problem:
            rejected.append(dead_letter(stage, problem, item))
        else:
            events.append(item)
    return events, rejected
