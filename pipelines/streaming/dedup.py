"""Dropping re-sent events by event_id: per-person keyed state with a TTL, and when the warehouse must be asked.

The dwd job keeps, per person (ods key), the event_ids it has seen with the processing time it saw them, in keyed
state with a TTL of `ttl_ms` (pruned here by the same rule, so an entry lives exactly as long as Flink keeps it).
Every copy of an event carries the same ids, hence the same person key, hence reaches the same state.

State cannot know about copies written before it existed or outside its window. An earlier copy `c` of event `e`
was received no earlier than `e` happened (`e.ts`, normalised onto the server clock within `margin_ms`), so:
- copies seen by this job within the window are in the state whenever `e.ts - margin > now - ttl`;
- copies written by an earlier run of the job (before a crash or restart; the state was rewound to a checkpoint,
  the warehouse was not) have `received_at <= written_before`, the newest `received_at` the warehouse held when
  this run started writing; none can exist when `e.ts - margin > written_before`.
Only events failing either test are looked up in the warehouse (`needs_warehouse_check`): late re-sends and the
replay after a restart. Live traffic never costs a query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipelines.envelope import partition_key
from pipelines.streaming.batching import grouped


@dataclass(frozen=True)
class DedupWindow:
    ttl_ms: int
    margin_ms: int  # how far a normalised ts may be off the server clock (clock_skew_tolerance_ms)

    def prune(self, seen: dict[str, int], now_ms: int) -> dict[str, int]:
        horizon = now_ms - self.ttl_ms
        return {event_id: at for event_id, at in seen.items() if at >= horizon}

    def needs_warehouse_check(self, event: dict[str, Any], now_ms: int, written_before_ms: int) -> bool:
        return event["ts"] - self.margin_ms <= max(written_before_ms, now_ms - self.ttl_ms)


def by_person(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Events grouped by person key (the state's key), in arrival order within each person."""
    return grouped(events, partition_key)


def drop_seen(events: list[dict[str, Any]], seen: dict[str, int], now_ms: int) -> list[dict[str, Any]]:
    """The events whose event_id is not in `seen` (first copy only), recording them in `seen` as seen at `now_ms`."""
    fresh = []
    for event in events:
        event_id = event["event_id"]
        if event_id not in seen:
            seen[event_id] = now_ms
            fresh.append(event)
    return fresh
