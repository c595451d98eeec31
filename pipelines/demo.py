"""The demo job `make demo` runs: sample events -> Kafka `events.raw` -> read back -> warehouse, with a summary.

It exercises every engine of the local stack end to end; the streaming jobs replace its read-and-insert step
once they run (see docs/architecture.md).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterator

from kafka import TopicPartition

from pipelines import messaging
from pipelines.config import Settings
from pipelines.envelope import DETAIL_COLUMNS, detail_row, primary_id
from pipelines.warehouse.client import Warehouse

DEMO_APP = "demo-shop"
EVENT_MIX = [("page_view", 50), ("click", 25), ("search", 8), ("product_view", 10), ("add_to_cart", 4), ("pay", 3)]
PLATFORMS = ["web", "h5", "ios", "android"]
READ_TIMEOUT_S = 60.0


def sample_events(count: int, run_id: str, seed: int = 7, now_ms: int | None = None) -> Iterator[dict]:
    rng = random.Random(seed)
    names, weights = zip(*EVENT_MIX)
    now_ms = now_ms or int(time.time() * 1000)
    persons = max(1, count // 20)
    for _ in range(count):
        person = rng.randrange(persons)
        ids = {"device_id": f"dev-{person}"}
        if person % 3 == 0:
            ids["user_id"] = f"u-{person}"
        yield {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "event": rng.choices(names, weights)[0],
            "app_id": DEMO_APP,
            "ts": now_ms - rng.randrange(7 * 86_400_000),
            "ids": ids,
            "session_id": f"s-{person}-{rng.randrange(5)}",
            "context": {"platform": rng.choice(PLATFORMS), "url": f"https://shop.example/p/{rng.randrange(100)}"},
            "props": {"demo_run": run_id, "price": round(rng.uniform(1, 500), 2)},
        }


def run_demo(settings: Settings, count: int, report: Callable[[str], None] = print) -> dict[str, int]:
    run_id = uuid.uuid4().hex[:12]
    producer = messaging.producer(settings)
    for event in sample_events(count, run_id):
        key = primary_id(event["ids"])[1].encode()
        producer.send(messaging.RAW, key=key, value=json.dumps(event).encode())
    producer.flush()
    producer.close()
    report(f"produced   {count:,} events to {messaging.RAW} (run {run_id})")

    rows = [detail_row(event) for event in read_run(settings, run_id, count)]
    report(f"consumed   {len(rows):,} events back from {messaging.RAW}")

    warehouse = Warehouse(settings)
    for start in range(0, len(rows), 50_000):
        warehouse.insert("dwd_default", rows[start : start + 50_000], DETAIL_COLUMNS)
    stored = warehouse.scalar("SELECT count() FROM events WHERE props['demo_run'] = {run:String}", {"run": run_id})
    by_event = warehouse.rows(
        "SELECT event, count() FROM events WHERE props['demo_run'] = {run:String} GROUP BY event ORDER BY 2 DESC",
        {"run": run_id},
    )
    for event, n in by_event:
        report(f"           {event:<14} {n:>8,}")
    return {"produced": count, "consumed": len(rows), "in warehouse": int(stored)}


def read_run(settings: Settings, run_id: str, expected: int) -> list[dict]:
    """Read events.raw from the start until this run's events are all seen (never trusting end offsets, which
    the embedded broker reports wrong)."""
    consumer = messaging.consumer(settings, group_id=None, consumer_timeout_ms=1000)
    partitions = [TopicPartition(messaging.RAW, p) for p in consumer.partitions_for_topic(messaging.RAW) or []]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    found: dict[str, dict] = {}
    deadline = time.monotonic() + READ_TIMEOUT_S
    try:
        while len(found) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500, max_records=10_000).values():
                for message in batch:
                    event = json.loads(message.value)
                    if (event.get("props") or {}).get("demo_run") == run_id:
                        found[event["event_id"]] = event
    finally:
        consumer.close()
    return list(found.values())
