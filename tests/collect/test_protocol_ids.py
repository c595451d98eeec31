"""Content ids of protocol records that carry no UUID of their own, through the batch path the collector uses (one id
state per request): a record re-sent in another request, at another position and with its volatile fields changed,
gets the same event_id (the warehouse's dedup key), and that id is the UUIDv5 docs/collector.md describes, computed
here with the standard library's json and hashlib as an independent reference."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from pipelines.collect.protocols import posthog, segment, sensors
from tests.collect.conftest import APP_ID, APP_KEY

NOW = 1_765_000_000_000


def sensors_record(n: int, **fields) -> dict:
    return {"type": "track", "event": "$WebClick", "time": NOW + n, "distinct_id": "anon-1", "_track_id": 1000 + n,
            "lib": {"$lib": "js", "$lib_version": "1.26.0"}, "properties": {"$url": "https://shop.example/p", "$page_x": n}, **fields}  # fmt: skip


def posthog_event(n: int, **fields) -> dict:
    return {"event": "add_to_cart", "distinct_id": "anon-1", "timestamp": f"2025-12-06T05:46:40.{n:03d}Z",
            "properties": {"$lib": "web", "$device_id": "anon-1", "n": n}, **fields}  # fmt: skip


def segment_message(n: int, **fields) -> dict:
    return {"type": "track", "event": "Order Completed", "anonymousId": "anon-1", "timestamp": f"2025-12-06T05:46:40.{n:03d}Z",
            "properties": {"n": n}, **fields}  # fmt: skip


# protocol: (namespace, volatile fields, record maker, the values a re-send changes, records -> event ids)
PROTOCOLS = {
    "sensors": (sensors.EVENT_ID_NAMESPACE, sensors.VOLATILE, sensors_record, {"_flush_time": NOW + 9_000},
                lambda records, app: [e["event_id"] for e in sensors.map_records(records, False, APP_KEY, app).events]),
    "posthog": (posthog.EVENT_ID_NAMESPACE, posthog.VOLATILE, posthog_event, {"sent_at": "2025-12-06T05:50:00Z", "offset": 5},
                lambda records, app: [e["event_id"] for e in posthog.map_events(records, False, APP_KEY, app, {}, NOW).events]),
    "segment": (segment.EVENT_ID_NAMESPACE, segment.VOLATILE, segment_message, {"sentAt": "2025-12-06T05:50:00Z", "writeKey": APP_KEY},
                lambda records, app: [e["event_id"] for e in segment.map_messages(records, False, APP_KEY, app, {}, NOW).events]),
}  # fmt: skip


def reference_id(namespace: uuid.UUID, app_id: str, record: dict, volatile: tuple[str, ...]) -> str:
    stable = {name: value for name, value in record.items() if name not in volatile}
    name = app_id.encode() + b"\n" + json.dumps(stable, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return str(uuid.UUID(bytes=hashlib.sha1(namespace.bytes + name).digest()[:16], version=5))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_re_sent_record_gets_its_first_id_in_another_request(protocol):
    namespace, volatile, make, resend_changes, event_ids = PROTOCOLS[protocol]
    first = event_ids([make(0), make(1), make(2)], APP_ID)
    assert len(set(first)) == 3  # three records, three ids
    # the SDK re-sends record 1 (its send time changed) after two new records, in a request of its own
    again = event_ids([make(3), make(4), make(1, **resend_changes)], APP_ID)
    assert again[2] == first[1] and len(set(again)) == 3
    assert event_ids([make(1)], "other-app") != [first[1]]  # the app is part of the id
    assert [reference_id(namespace, APP_ID, make(n), volatile) for n in range(3)] == first
