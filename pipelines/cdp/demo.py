"""The demo's "insight system" (洞察系统): a PostgreSQL database (`trackflow_insight` on the stack's server) holding
tags and segments of the demo shop's persons, which cdp.yaml's `insight_tags` and `insight_segments` sources sync.

`make demo` (pipelines/demo.py) calls `run_cdp_demo` after its events are in the warehouse: it gives the demo persons
OneIDs through the identity graph (their events' links, then the offline recompute, as the daily asset does), fills
the insight tables with the persons' own user and device ids plus a few ids the shop never saw (so the run shows
unmapped ids counted), and runs every source of cdp.yaml once.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Callable

INSIGHT_DATABASE = "trackflow_insight"
LEVELS = ("bronze", "silver", "gold", "platinum")
CITIES = ("Shanghai", "Beijing", "Shenzhen", "Hangzhou", "Chengdu")
SEGMENTS = ("high_value", "churn_risk", "bargain_hunters", None)  # None: in no segment
STRANGERS = 3  # ids of each table the shop never saw

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS insight;
CREATE TABLE IF NOT EXISTS insight.person_tags (
    user_id text PRIMARY KEY, member_level text, city text, updated_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS insight.device_segments (device_id text PRIMARY KEY, segment text, rfm_score integer);
"""


def seed_insight(settings, user_ids: list[str], device_ids: list[str], seed: int = 20) -> tuple[int, int]:
    """(Re)fill the insight tables: tags for every user id, a segment for every device id; returns their row counts.
    A tag row is rewritten (with a new updated_at) only when its values change, as the insight system would."""
    from pipelines.push.connection import connect, ensure_database

    rng = random.Random(seed)
    now = dt.datetime.now(dt.timezone.utc)
    users = sorted(user_ids) + [f"crm-only-{k}" for k in range(STRANGERS)]
    devices = sorted(device_ids) + [f"store-kiosk-{k}" for k in range(STRANGERS)]
    tags = [(u, rng.choice(LEVELS), rng.choice(CITIES), now - dt.timedelta(minutes=rng.randrange(1, 600))) for u in users]
    segments = [(d, rng.choice(SEGMENTS), rng.randrange(1, 6)) for d in devices]
    ensure_database(settings, INSIGHT_DATABASE)
    with connect(settings, INSIGHT_DATABASE) as connection, connection.transaction():
        connection.execute(SCHEMA)
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO insight.person_tags VALUES (%s, %s, %s, %s) ON CONFLICT (user_id) DO UPDATE SET "
                "member_level = excluded.member_level, city = excluded.city, updated_at = excluded.updated_at "
                "WHERE (person_tags.member_level, person_tags.city) IS DISTINCT FROM (excluded.member_level, excluded.city)",
                tags,
            )
            connection.execute("TRUNCATE insight.device_segments")
            cursor.executemany("INSERT INTO insight.device_segments VALUES (%s, %s, %s)", segments)
    return len(tags), len(segments)


def ensure_oneids(settings, warehouse, events: list[dict], report: Callable[[str], None]) -> None:
    """The demo persons' OneIDs: their events' links into oneid_edges, then the offline recompute publishes the
    mapping (the daily Dagster asset's run; `trackflow oneid recompute` by hand)."""
    from pipelines.identity.backfill import record_event_links
    from pipelines.identity.daily import kafka_sender, run_daily

    links = record_event_links(warehouse, events)
    result = run_daily(settings, warehouse, dt.datetime.now(dt.timezone.utc).date(), kafka_sender(settings))
    report(f"oneid      {links:,} links recorded; recompute published {result.published.get('map_rows', 0):,} mapping rows")


def run_cdp_demo(settings, warehouse, events: list[dict], report: Callable[[str], None] = print) -> bool:
    """Seed the insight system from the demo events' persons and sync every cdp.yaml source; False if one failed."""
    from pipelines.cdp.sync import run_source
    from pipelines.warehouse.client import Warehouse

    ensure_oneids(settings, warehouse, events, report)
    users = {e["ids"]["user_id"] for e in events if "user_id" in e.get("ids", {})}
    devices = {e["ids"]["device_id"] for e in events if "device_id" in e.get("ids", {})}
    tag_rows, segment_rows = seed_insight(settings, sorted(users), sorted(devices))
    report(f"insight    {INSIGHT_DATABASE}: {tag_rows:,} person tag rows, {segment_rows:,} device segment rows")
    analyst = Warehouse(settings, role="analyst")
    try:
        results = run_source(settings, warehouse, analyst)
    finally:
        analyst.close()
    for result in results:
        report(f"cdp        {result.summary()}")
    return all(result.ok for result in results)
