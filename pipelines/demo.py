"""The demo `make demo` runs: generated events -> collector (or straight to Kafka when no collector runs) ->
streaming jobs (layering -> ods.<layer> -> dwd) -> warehouse, then row counts per table and measured freshness.

Some events are sent twice on purpose (an SDK retry after a lost response): the warehouse must still hold each
event once. Freshness is measured per event from the collector's `received_at` to the warehouse's `inserted_at`
(the insert is synchronous, so that is when the row became queryable).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from pipelines import messaging
from pipelines.config import Settings
from pipelines.envelope import primary_id
from pipelines.warehouse.client import Warehouse

DEMO_APP = "demo-shop"
EVENT_MIX = [("page_view", 50), ("click", 25), ("search", 8), ("product_view", 10), ("add_to_cart", 4), ("pay", 3)]
PLATFORMS = ["web", "h5", "ios", "android"]
DUPLICATE_SHARE = 0.02  # re-sent events, as an SDK retrying after a lost response would
ARRIVAL_TIMEOUT_S = 600.0
DEMO_RULES = Path(__file__).parent / "layering" / "examples" / "demo.yaml"


def sample_events(count: int, run_id: str, seed: int | None = None, now_ms: int | None = None) -> Iterator[dict]:
    # Seeded by the run unless told otherwise: event_id is the dedup key end to end, so two runs must not share ids.
    rng = random.Random(run_id if seed is None else seed)
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


def with_duplicates(events: list[dict], share: float, seed: int = 7) -> list[dict]:
    """The events plus re-sends of a random `share` of them, shuffled in among the rest."""
    rng = random.Random(seed)
    resent = rng.sample(events, int(len(events) * share))
    mixed = events + resent
    rng.shuffle(mixed)
    return mixed


# -- sending ----------------------------------------------------------------------------------------------------
def collector_url(settings: Settings) -> str | None:
    """The running collector's base URL, or None when none answers."""
    port_file = settings.state_dir / "collector.port"
    if not port_file.exists():
        return None
    url = f"http://127.0.0.1:{port_file.read_text().strip()}"
    try:
        return url if httpx.get(f"{url}/healthz", timeout=2).status_code == 200 else None
    except httpx.HTTPError:
        return None


def app_key(settings: Settings, app_id: str) -> str:
    for key, app in settings.collector_app_keys.items():
        if app == app_id:
            return key
    raise RuntimeError(f"no collector app key for {app_id!r} in TRACKFLOW_COLLECTOR_APP_KEYS")


def send_via_collector(settings: Settings, url: str, events: list[dict]) -> None:
    headers = {"X-App-Key": app_key(settings, DEMO_APP)}
    size = settings.collector_max_batch_events
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for start in range(0, len(events), size):
            for attempt in range(20):
                response = client.post("/v1/batch", json=events[start : start + size])
                if response.status_code != 429:  # the demo sends faster than an app's rate limit allows
                    break
                time.sleep(float(response.headers.get("retry-after", "0.5")))
            if response.status_code not in (200, 202):
                raise RuntimeError(f"collector answered {response.status_code}: {response.text[:300]}")


def send_to_kafka(settings: Settings, events: list[dict]) -> None:
    """Without a collector: what it would do (received_at, one message per person and request)."""
    producer = messaging.producer(settings)
    try:
        for start in range(0, len(events), 100):
            by_person: dict[str, list[dict]] = {}
            received_at = int(time.time() * 1000)
            for event in events[start : start + 100]:
                by_person.setdefault(primary_id(event["ids"])[1], []).append(dict(event, received_at=received_at))
            for person, batch in by_person.items():
                value = batch[0] if len(batch) == 1 else batch
                producer.send(messaging.RAW, key=person.encode(), value=json.dumps(value).encode())
        producer.flush()
    finally:
        producer.close()


# -- jobs and rules ---------------------------------------------------------------------------------------------
def ensure_jobs(settings: Settings, report: Callable[[str], None]) -> None:
    """Start the streaming jobs (as `trackflow up --with-jobs` does) unless they already run."""
    from dataclasses import replace

    from pipelines.stack import Stack
    from pipelines.stack.components import JOBS

    Stack(settings, [replace(JOBS, enabled=lambda _: True)]).up(report=report)


def ensure_demo_rules(settings: Settings, report: Callable[[str], None]) -> None:
    from pipelines.layering.control import apply, current_rules

    if current_rules(settings) is None:
        rules = apply(settings, DEMO_RULES.read_text())
        report(f"layering   published the demo rules (version {rules.version}): layers {', '.join(rules.layers)}")


# -- the run ----------------------------------------------------------------------------------------------------
def wait_for_rows(warehouse: Warehouse, run_id: str, expected: int, timeout_s: float = ARRIVAL_TIMEOUT_S) -> int:
    """Poll until the run's distinct events are all in the warehouse (never trusting Kafka end offsets)."""
    deadline = time.monotonic() + timeout_s
    stored = 0
    while time.monotonic() < deadline:
        stored = int(warehouse.scalar("SELECT count() FROM events WHERE props['demo_run'] = {run:String}", {"run": run_id}))
        if stored >= expected:
            break
        time.sleep(0.25)
    return stored


def freshness_ms(warehouse: Warehouse, run_id: str) -> tuple[float, float]:
    """p50, p95 of received_at -> inserted_at over the run's rows."""
    p50, p95 = warehouse.rows(
        "SELECT quantiles(0.5, 0.95)(dateDiff('millisecond', received_at, inserted_at)) FROM events "
        "WHERE props['demo_run'] = {run:String}",
        {"run": run_id},
    )[0][0]
    return float(p50), float(p95)


def run_demo(settings: Settings, count: int, report: Callable[[str], None] = print) -> dict[str, int]:
    run_id = uuid.uuid4().hex[:12]
    ensure_demo_rules(settings, report)
    ensure_jobs(settings, report)
    events = list(sample_events(count, run_id, now_ms=int(time.time() * 1000)))
    sends = with_duplicates(events, DUPLICATE_SHARE)

    started = time.monotonic()
    url = collector_url(settings)
    if url:
        send_via_collector(settings, url, sends)
        report(f"sent       {len(sends):,} events ({len(sends) - count:,} re-sends) to the collector at {url} (run {run_id})")
    else:
        send_to_kafka(settings, sends)
        report(f"produced   {len(sends):,} events ({len(sends) - count:,} re-sends) to {messaging.RAW}: no collector runs")

    warehouse = Warehouse(settings)
    stored = wait_for_rows(warehouse, run_id, count)
    elapsed = time.monotonic() - started
    report(f"arrived    {stored:,} of {count:,} events in {elapsed:.1f}s ({stored / elapsed:,.0f} events/s end to end)")
    if stored:
        p50, p95 = freshness_ms(warehouse, run_id)
        report(f"freshness  received -> queryable p50 {p50 / 1000:.2f}s, p95 {p95 / 1000:.2f}s")
    summary = {"sent (incl. re-sends)": len(sends), "distinct events": count, "in warehouse (events)": stored}
    for table, rows in warehouse.rows(
        "SELECT _table, count() FROM events WHERE props['demo_run'] = {run:String} GROUP BY _table ORDER BY _table",
        {"run": run_id},
    ):
        summary[f"  {table}"] = int(rows)
    if settings.cdp_sources.exists():  # the insight system's tags and audiences of these persons (docs/cdp.md)
        from pipelines.cdp.demo import run_cdp_demo

        run_cdp_demo(settings, warehouse, events, report)
    return summary

