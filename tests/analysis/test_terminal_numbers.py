"""Terminal analysis counts persons through their dense numbers (sql/migrations/0090_person_numbers.sql) where the
warehouse has numbered them and through their keys where not: the figures equal the pandas reference with numbered
and unnumbered persons in the same rows, after a OneID merge of a numbered with an unnumbered person, and once
the merged person is numbered too. The numbering itself is the warehouse's refresh, run here on demand."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from pipelines.analysis import run_query
from pipelines.analysis.schema import PERSON_KEY

from . import reference_pages as refp
from .test_identity import publish
from .test_models import bounds
from .test_pages_terminals import _event, assert_terminals, loaded_frame

APP = "numbered-app"
TERMINALS = [{"platform": "ios", "os": "iOS", "os_version": "17.1"}, {"platform": "android", "os": "Android", "os_version": "14"}]


def _events(persons: range, now_ms: int) -> list[dict]:
    """Each person's events on both terminals for some, in sessions of their own and one shared session id."""
    out = []
    for p in persons:
        for k in range(1 + p % 3):
            terminal = TERMINALS[(p + k) % 2]
            session = "shared" if p % 5 == 0 else f"s{p}-{k % 2}"
            out.append(_event(f"n{p}", "page_view", now_ms - (p * 7 + k) * 60_000, dict(terminal), session, app=APP))
    return out


def _number_now(warehouse) -> None:
    """One refresh of the numbering, waited for, and the dictionary reloaded; the refresh left stopped."""
    warehouse.command("SYSTEM START VIEW person_numbering")
    warehouse.command("SYSTEM REFRESH VIEW person_numbering")
    warehouse.command("SYSTEM WAIT VIEW person_numbering")
    warehouse.command("SYSTEM STOP VIEW person_numbering")
    warehouse.command("SYSTEM RELOAD DICTIONARY person_number_dict")


def _numbered(warehouse) -> dict[bool, int]:
    """The app's persons with and without a number, as the dictionary has them."""
    return dict(warehouse.rows(
        f"SELECT dictHas('person_number_dict', key) AS numbered, count() FROM (SELECT DISTINCT {PERSON_KEY} AS key FROM events WHERE app_id = {{app:String}}) GROUP BY numbered",
        {"app": APP},
    ))  # fmt: skip


@pytest.fixture
def numbering_stopped(warehouse):
    warehouse.command("SYSTEM STOP VIEW person_numbering")
    yield
    warehouse.command("SYSTEM START VIEW person_numbering")


def test_persons_numbered_or_not_and_merged(warehouse, analyst, numbering_stopped):
    now_ms = int(time.time() * 1000)
    loaded_frame(warehouse, _events(range(0, 20), now_ms), APP)
    _number_now(warehouse)
    loaded_frame(warehouse, _events(range(20, 40), now_ms), APP)
    frame = warehouse.query_df(
        "SELECT concat('device_id:', ids['device_id']) AS person, toString(event_id) AS event_id, toString(event) AS event,"
        " toUnixTimestamp64Milli(ts) AS t, session_id, toString(platform) AS platform, toString(os) AS os,"
        " toString(os_version) AS os_version FROM events WHERE app_id = {app:String}",
        {"app": APP},
    )
    today = dt.datetime.fromtimestamp(now_ms / 1000, dt.timezone.utc).date()
    scope = {"model": "terminal", "app_id": APP, "date_from": (today - dt.timedelta(days=1)).isoformat(), "date_to": today.isoformat(), "max_rows": 1000}

    def check(persons: dict[str, str]) -> list[dict]:
        """Both requests' results, asserted equal to the reference with `persons` renamed (merged)."""
        results = []
        for dimensions in (["os", "os_version"], ["platform"]):
            request = {**scope, "dimensions": dimensions}
            expected = refp.terminals(frame.replace({"person": persons}), request, *bounds(request), dimensions)
            results.append(run_query(request, analyst))
            assert_terminals(results[-1], expected)
        return results

    assert _numbered(warehouse) == {True: 20, False: 20}
    before = check({})
    # n3 (numbered) and n33 (not) become one person, under a key neither had: counted through the set until numbered
    publish(warehouse, [["device_id", "n3", "O-n3n33", "device_id:n3", 0], ["device_id", "n33", "O-n3n33", "device_id:n3", 0]])
    merge = {"device_id:n3": "O-n3n33", "device_id:n33": "O-n3n33"}
    merged = check(merge)
    assert merged[1]["total"]["persons"] == before[1]["total"]["persons"] - 1 == 39
    assert _numbered(warehouse) == {True: 19, False: 20}
    _number_now(warehouse)
    assert _numbered(warehouse) == {True: 39}
    assert [r["rows_by_value"] for r in check(merge)] == [r["rows_by_value"] for r in merged]
    numbers = warehouse.rows("SELECT count(), uniqExact(number), uniqExact(person_key), min(number) FROM person_numbers")[0]
    assert numbers[0] == numbers[1] == numbers[2] and numbers[3] >= 1  # one number per key, no number twice
