"""Late re-sends and file re-loads on the drill stack (tests/faults/harness.py): the event_id is the key, so an
event acknowledged again hours later with a new client time, or a file loaded again after more inserts than the
warehouse's deduplication window remembers, adds no row: distinct event_ids = `SELECT count() FROM events`."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from tests.faults.harness import APP_KEY, DrillStack, stored, wait_until

pytestmark = [pytest.mark.fault, pytest.mark.timeout(420)]

DEVICES = 97
HOUR_MS = 3_600_000


def click(seq: int, run: str, ts: int) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event": "click",
        "ts": ts,
        "ids": {"device_id": f"drill-{seq % DEVICES}"},
        "context": {"platform": "web", "url": "https://shop.example/"},
        "props": {"x": seq, "y": 1, "demo_run": run},
    }


def acknowledge(stack: DrillStack, events: list[dict]) -> None:
    with httpx.Client(timeout=10, headers={"X-App-Key": APP_KEY}) as client:
        for start in range(0, len(events), 50):
            chunk = events[start : start + 50]
            answer = client.post(f"{stack.collector_url()}/v1/batch", json=chunk)
            assert answer.status_code == 200 and answer.json().get("accepted") == len(chunk), answer.text


def test_late_resends_with_a_new_client_time_are_stored_once(drill_stack: DrillStack):
    run = uuid.uuid4().hex
    two_hours_ago = int(time.time() * 1000) - 2 * HOUR_MS  # an offline queue's events
    events = [click(seq, run, two_hours_ago - seq) for seq in range(500)]
    acknowledge(drill_stack, events)
    wait_until(lambda: len(stored(drill_stack, run)[0]) >= len(events), 150, "the first copies")

    # The same events again, re-stamped an hour later, then one sentinel per device: a device's sentinel follows its
    # re-sends through the same partitions and writer, so once every sentinel is stored every re-send was decided.
    acknowledge(drill_stack, [dict(event, ts=event["ts"] + HOUR_MS) for event in events])
    sentinels = [click(seq, run, int(time.time() * 1000)) for seq in range(DEVICES)]
    acknowledge(drill_stack, sentinels)
    wait_until(lambda: len(stored(drill_stack, run)[0]) >= len(events) + len(sentinels), 150, "the sentinels")
    time.sleep(3)  # a late duplicate shows up within this
    per_id, rows = stored(drill_stack, run)
    assert rows == len(per_id) == len(events) + len(sentinels)
    assert set(per_id) == {e["event_id"] for e in events + sentinels}


def test_a_file_loaded_again_after_a_thousand_other_inserts_adds_nothing(drill_stack: DrillStack, tmp_path):
    from pipelines.envelope import DETAIL_COLUMNS, detail_row
    from pipelines.warehouse.client import Warehouse

    run = uuid.uuid4().hex
    day = int(time.time() * 1000) - 24 * HOUR_MS
    path = tmp_path / "backfill.jsonl"
    path.write_text("".join(json.dumps(dict(click(seq, run, day + seq), app_id="demo-shop")) + "\n" for seq in range(300)))
    first = drill_stack.cli("warehouse", "load", str(path))
    assert "300 events written" in first.stdout, first.stdout

    warehouse = Warehouse(drill_stack.settings)
    try:  # small blocks into the same table and day partition: the file's insert tokens fall out of the window
        filler = dict(click(0, "filler", day), app_id="demo-shop")
        for _ in range(1_001):
            warehouse.insert("dwd_default", [detail_row(dict(filler, event_id=str(uuid.uuid4())))], DETAIL_COLUMNS,
                             settings={"async_insert": 0})  # fmt: skip
    finally:
        warehouse.close()
    again = drill_stack.cli("warehouse", "load", str(path))
    assert "0 events written" in again.stdout and "300 already stored" in again.stdout, again.stdout
    per_id, rows = stored(drill_stack, run)
    assert rows == len(per_id) == 300
