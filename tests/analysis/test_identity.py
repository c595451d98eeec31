"""Analyses attribute history to the person's current OneID: after a merge, past events count as one person;
after a split, as two again, without rewriting any event."""

from __future__ import annotations

import time

from pipelines.analysis import run_query
from pipelines.envelope import DETAIL_COLUMNS, detail_row

from .conftest import T0, envelope

APP = "identity-app"
REQUEST = {
    "model": "event", "app_id": APP, "date_from": "2026-11-01", "date_to": "2026-11-03", "granularity": "day",
    "metrics": [{"event": "view", "math": "unique_persons"}],  # both events fall on the same day
}  # fmt: skip
MAP_COLUMNS = ["id_type", "id_value", "oneid", "anchor", "source", "rules", "version", "deleted"]


def unique_persons(analyst) -> int:
    return sum(s["values"][0] for s in run_query(REQUEST, analyst)["series"])


def publish(warehouse, rows) -> None:
    """Write mapping rows the way the OneID publishers do, then reload the dictionaries analyses read."""
    version = time.time_ns() // 1000
    warehouse.insert("oneid_map", [[*row, "test", "v1", version, deleted] for *row, deleted in rows], MAP_COLUMNS)
    for dictionary in ("oneid_dict", "oneid_hash_dict"):
        warehouse.command(f"SYSTEM RELOAD DICTIONARY {dictionary}")


def test_history_follows_merge_and_split(warehouse, analyst):
    events = [envelope("laptop-7", "view", T0 + 3_600_000, app=APP), envelope("phone-7", "view", T0 + 5 * 3_600_000, app=APP)]
    warehouse.insert("dwd_default", [detail_row(e) for e in events], DETAIL_COLUMNS)
    assert unique_persons(analyst) == 2

    publish(warehouse, [["device_id", "laptop-7", "O-seven", "device_id:laptop-7", 0],
                        ["device_id", "phone-7", "O-seven", "device_id:laptop-7", 0]])  # fmt: skip
    assert unique_persons(analyst) == 1

    publish(warehouse, [["device_id", "phone-7", "O-phone", "device_id:phone-7", 0]])
    assert unique_persons(analyst) == 2


def test_events_are_stamped_with_the_oneid_current_at_write_time(warehouse):
    publish(warehouse, [["device_id", "tablet-9", "O-nine", "device_id:tablet-9", 0]])
    linked, unknown = envelope("tablet-9", "view", T0, app=APP), envelope("kiosk-1", "view", T0, app=APP)
    warehouse.insert("dwd_default", [detail_row(linked), detail_row(unknown)], DETAIL_COLUMNS)
    stamped = dict(
        warehouse.rows(
            "SELECT toString(event_id), oneid FROM dwd_default WHERE event_id IN {ids:Array(UUID)}",
            {"ids": [linked["event_id"], unknown["event_id"]]},
        )
    )
    assert stamped == {linked["event_id"]: "O-nine", unknown["event_id"]: ""}
