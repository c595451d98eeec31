"""Fixtures of the analysis tests: a generated event set (random persons plus hand-made edge cases) loaded once
into the session warehouse under its own app id, and the same events as a pandas frame for the references."""

from __future__ import annotations

import random
import uuid

import pandas as pd
import pytest

from pipelines.envelope import DETAIL_COLUMNS, detail_row

APP = "ref-app"
DAY_MS = 86_400_000
T0 = 1_793_491_200_000  # 2026-11-01 00:00 UTC
EVENTS = ["view", "search", "cart", "order", "pay"]


def envelope(person: str, event: str, ts: int, app: str = APP, **props) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event": event,
        "app_id": app,
        "ts": ts,
        "ids": {"device_id": person},
        "context": {"platform": "web" if hash(person) % 2 else "ios"},
        "props": props,
    }


def random_events(seed: int = 11, persons: int = 300) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for p in range(persons):
        person = f"d{p}"
        t = T0 + rng.randrange(10 * DAY_MS)
        for _ in range(rng.choice([1, 1, 2, 3, 5, 8, 13])):
            # Coarse time steps (whole minutes) make timestamp ties and exact window edges common.
            t += rng.choice([0, 0, 60_000, 3_600_000, 6 * 3_600_000, DAY_MS, 3 * DAY_MS])
            out.append(
                envelope(
                    person,
                    rng.choice(EVENTS),
                    t,
                    product_id=f"sku{rng.randrange(3)}",
                    price=rng.choice([5, 10, 99.5, 250]),
                    channel=rng.choice(["ads", "seo", "o'brien\\'"]),
                )
            )
    return out


def edge_case_events() -> list[dict]:
    """Ties, window edges, timezone boundaries, repeated steps, one-event persons."""
    e = []
    e += [envelope("tie", "view", T0 + DAY_MS, product_id="sku1"), envelope("tie", "cart", T0 + DAY_MS, product_id="sku1")]
    e += [envelope("edge", "view", T0 + 2 * DAY_MS), envelope("edge", "cart", T0 + 3 * DAY_MS)]  # exactly 1 day apart
    e += [envelope("late", "view", T0 + 2 * DAY_MS), envelope("late", "cart", T0 + 3 * DAY_MS + 1)]  # 1 ms over
    # 23:30 and 00:30 UTC: one day in UTC, two in Asia/Shanghai (UTC+8): no, the reverse: 07:30 and 08:30 local.
    e += [envelope("tz", "view", T0 + 3 * DAY_MS + 15 * 3_600_000 + 1_800_000), envelope("tz", "view", T0 + 3 * DAY_MS + 16 * 3_600_000 + 1_800_000)]
    e += [envelope("repeat", "view", T0 + 4 * DAY_MS + i * 60_000) for i in range(4)]
    e += [envelope("single", "pay", T0 + 5 * DAY_MS, price=42)]
    return e


@pytest.fixture(scope="session")
def ref_events() -> list[dict]:
    return random_events() + edge_case_events()


@pytest.fixture(scope="session")
def loaded(warehouse, ref_events):
    """The reference events in the warehouse (loaded once per session)."""
    warehouse.insert("dwd_default", [detail_row(e) for e in ref_events], DETAIL_COLUMNS, settings={"async_insert": 0})
    return ref_events


@pytest.fixture(scope="session")
def frame(ref_events) -> pd.DataFrame:
    """The same events as the references see them: person, event, ts (ms), properties as text."""
    rows = []
    for e in ref_events:
        rows.append(
            {
                "person": "device_id:" + e["ids"]["device_id"],
                "event_id": e["event_id"],
                "event": e["event"],
                "t": e["ts"],
                "platform": e["context"]["platform"],
                **{k: str(v) for k, v in e["props"].items()},
            }
        )
    return pd.DataFrame(rows)
