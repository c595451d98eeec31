"""Fixtures of the push tests: one generated day of events (plus a few dirty ones) under an app of their own in
the session warehouse, the session's real PostgreSQL, and helpers to define pushes and read targets."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid

import pytest
import yaml

from pipelines.demogen import DemoSpec, generate_frame, insert_frame
from pipelines.envelope import DETAIL_COLUMNS, detail_row
from pipelines.push.definitions import Push, parse_pushes

APP = "push-test"
EVENTS = 24_000
DIRTY_PRICES = ["abc", "12,5", "n/a", "1e", "--"]
# Yesterday as seen a few minutes from now: the deadline test needs its partition due today, minutes from now.
DAY = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)).date() - dt.timedelta(days=1)

COLUMNS = [
    {"name": "event_id", "type": "uuid", "required": True},
    "event",
    {"name": "ts", "type": "timestamptz"},
    "person_id",
    "session_id",
    "platform",
    "url",
    {"name": "price", "source": "props['price']", "type": "double"},
    {"name": "props", "type": "json"},
]


def push_definition(name: str, **overrides) -> Push:
    document = {
        "name": name,
        "department": "tests",
        "source": {"table": "events", "filter": f"app_id = '{APP}'", "columns": COLUMNS},
        "target": {"kind": "postgres", "table": f"tests.{name}"},
        "chunking": {"by": "key_hash", "key": "event_id", "chunks": 8},
        "parallelism": 2,
        "dirty": {"max_rows": 10, "max_percent": 1},
        "schedule": {"cron": "0 2 * * *", "timezone": "UTC"},
        "deadline": "23:59 UTC",
    }
    for key, value in overrides.items():
        document[key] = value
    return parse_pushes(yaml.safe_dump({"pushes": [document]}), "test")[0]


@pytest.fixture(scope="session")
def push_day(warehouse) -> dt.date:
    """DAY filled with generated events of APP, plus len(DIRTY_PRICES) events whose price does not convert."""
    frame = generate_frame(DemoSpec(events=EVENTS, persons=2_000, days=1, end=DAY, app_id=APP, seed=8))
    insert_frame(warehouse, frame)
    noon = int(dt.datetime.combine(DAY, dt.time(12), dt.timezone.utc).timestamp() * 1000)
    dirty = [
        detail_row({"event_id": str(uuid.uuid4()), "event": "order", "app_id": APP, "ts": noon + n,
                    "ids": {"device_id": f"dirty{n}"}, "props": {"price": price, "product_id": "sku1"}})
        for n, price in enumerate(DIRTY_PRICES)
    ]  # fmt: skip
    # And one clean row whose text needs escaping in every format (tab, newline, backslash, quotes, non-ASCII).
    tricky = detail_row({"event_id": str(uuid.uuid4()), "event": "page_view", "app_id": APP, "ts": noon,
                         "ids": {"device_id": "tricky"}, "context": {"url": "https://shop.example/a\tb\nc\\d\"e'f\u00e9\u4e2d"},
                         "props": {"price": "1.5", "note": "\\N"}})  # fmt: skip
    warehouse.insert("dwd_default", dirty + [tricky], DETAIL_COLUMNS, settings={"async_insert": 0})
    return DAY


@pytest.fixture(scope="session")
def source_rows(warehouse, push_day) -> int:
    start = dt.datetime.combine(push_day, dt.time(), dt.timezone.utc)
    return int(
        warehouse.scalar(
            "SELECT count() FROM events WHERE app_id = {app:String} AND ts >= {start:DateTime64(3, 'UTC')} "
            "AND ts < {start:DateTime64(3, 'UTC')} + INTERVAL 1 DAY",
            {"app": APP, "start": start},
        )
    )


@pytest.fixture(scope="session")
def pg(stack, stack_settings):
    from pipelines.push.connection import connect

    with connect(stack_settings) as connection:
        yield connection


def target_summary(pg, table: str, day: dt.date) -> tuple[int, int]:
    """(rows, distinct event ids) of the partition in a PostgreSQL target."""
    return pg.execute(f"SELECT count(*), count(DISTINCT event_id) FROM {table} WHERE _push_date = %s", (day,)).fetchone()


def push_subprocess(settings, push: Push, day: dt.date, definitions_path) -> subprocess.Popen:
    """`trackflow push run` in a child process (to be killed), with its own definitions file."""
    definitions_path.write_text(yaml.safe_dump({"pushes": [push.model_dump(mode="json", exclude_defaults=False)]}))
    env = dict(os.environ, TRACKFLOW_PUSH_DEFINITIONS=str(definitions_path), COLUMNS="200")
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "push", "run", push.name, "--date", day.isoformat()],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
