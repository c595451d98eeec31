"""Push definitions: the repository's pushes.yaml is valid, mistakes are one clear line naming push and field,
and the Dagster code location generates an asset, job and schedule per push."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from pipelines.push.definitions import PushDefinitionError, load_pushes, parse_pushes
from pipelines.push.throttle import Throttle

ROOT = Path(__file__).resolve().parents[2]
VALID = {
    "name": "orders",
    "department": "finance",
    "source": {"table": "events", "columns": ["event_id", {"name": "ts", "type": "timestamptz"}]},
    "target": {"kind": "postgres", "table": "finance.orders"},
    "deadline": "09:30 Asia/Shanghai",
}


def parse_one(**changes):
    document = {**VALID, **changes}
    return parse_pushes(yaml.safe_dump({"pushes": [document]}), "pushes.yaml")[0]


def test_repository_definitions_are_valid():
    pushes = load_pushes(ROOT / "pushes.yaml")
    assert {p.target.kind for p in pushes} >= {"postgres", "parquet"}
    assert all(p.deadline for p in pushes)


def test_deadline_is_the_day_after_the_partition_in_its_timezone():
    push = parse_one()
    due = push.deadline.due(dt.date(2026, 11, 20))
    assert due.isoformat() == "2026-11-21T09:30:00+08:00"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"target": {"kind": "postgres"}}, "push 'orders' > target: Value error, kind postgres needs `table`"),
        ({"deadline": "9.30 Shanghai"}, "push 'orders' > deadline: '9.30 Shanghai' is not 'HH:MM Zone/Name'"),
        ({"deadline": "09:30 Mars/Olympus"}, "push 'orders' > deadline > timezone: unknown timezone 'Mars/Olympus'"),
        ({"schedule": {"cron": "every day"}}, "push 'orders' > schedule > cron: 'every day' is not a valid cron expression"),
        ({"write_mode": "upsert"}, "write_mode upsert needs `key`"),
        ({"key": ["nope"]}, "key columns ['nope'] are not among the source columns"),
        ({"name": "Orders-2"}, "push 'Orders-2' > name: 'Orders-2' is not a lower-case identifier"),
        ({"parallelism": 0}, "push 'orders' > parallelism: Input should be greater than or equal to 1"),
        ({"colour": "red"}, "push 'orders' > colour: Extra inputs are not permitted"),
    ],
)
def test_mistakes_are_reported_with_push_and_field(changes, message):
    with pytest.raises(PushDefinitionError) as caught:
        parse_one(**changes)
    assert message.replace("Value error, ", "") in str(caught.value)
    assert str(caught.value).startswith("pushes.yaml: ")


def test_repeated_push_names_and_broken_yaml():
    with pytest.raises(PushDefinitionError, match="push names repeated: orders"):
        parse_pushes(yaml.safe_dump({"pushes": [VALID, VALID]}))
    with pytest.raises(PushDefinitionError, match="not valid YAML"):
        parse_pushes("pushes: [")
    with pytest.raises(PushDefinitionError, match="expected a mapping with a `pushes:` list"):
        parse_pushes("- a")


def test_throttle_paces_rows_across_callers():
    now = [0.0]
    slept = []
    throttle = Throttle(1000, clock=lambda: now[0], sleep=lambda s: (slept.append(s), now.__setitem__(0, now[0] + s)))
    for _ in range(5):
        throttle.take(500)  # 2,500 rows: the first second's 1,000 are a burst, the rest wait 1.5 s in all
    assert sum(slept) == pytest.approx(1.5)


def test_code_location_has_an_asset_job_and_schedule_per_push():
    from dagster_project import pushes
    from dagster_project.definitions import defs

    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    names = {p.name for p in load_pushes(ROOT / "pushes.yaml")}
    assert {f"push_{n}" for n in names} <= keys
    assert "reconciliation_hourly" in keys
    schedules = {s.name for s in defs.schedules}
    assert {f"push_{n}_schedule" for n in names} <= schedules
    assert "push_deadline_sensor" in {s.name for s in defs.sensors}
    # the pushes module owns the pushes only; reconciliation is the monitoring module's, with its own schedules
    assert {a.key.to_user_string() for a in pushes.defs.assets} == {f"push_{n}" for n in names}
    assert "reconcile_hourly_schedule" in schedules
