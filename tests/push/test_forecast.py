"""Deadline forecast levels (P1-P3) from a run's throughput, without engines: a stub answers the two state queries."""

from __future__ import annotations

import datetime as dt

import pytest

from pipelines.push.deadline import forecast
from tests.push.conftest import push_definition

DAY = dt.date(2026, 11, 20)
DEADLINE = dt.datetime(2026, 11, 21, 9, 30, tzinfo=dt.timezone.utc)
MARGIN = dt.timedelta(minutes=15)


class StateStub:
    """Answers latest_run (runs ... ORDER BY started_at) and typical_duration (... state = 'done')."""

    def __init__(self, run=None, last_duration=None):
        self.run, self.last_duration = run, last_duration

    def execute(self, sql, params):
        answer = (self.last_duration,) if "state = 'done'" in sql else self.run
        return type("Cursor", (), {"fetchone": lambda _: answer if answer and answer[0] is not None else None})()


def running(started_min_ago: float, done: int, planned: int, now: dt.datetime):
    return ("running", planned, done, now - dt.timedelta(minutes=started_min_ago), None, now)


@pytest.mark.parametrize(
    "done, level",
    [
        (900, "P1"),  # 90 rows/min, 9,100 to go: 101 min, deadline in 60 -> 41 min late
        (1_200, "P2"),  # 120 rows/min: 73 min -> 13 min late
        (1_500, "P3"),  # 150 rows/min: 57 min -> only 3 min to spare
        (5_000, None),  # 500 rows/min: 10 min -> on time
    ],
)
def test_running_push_levels(done, level):
    now = DEADLINE - dt.timedelta(minutes=60)
    push = push_definition("p", deadline="09:30 UTC")
    result = forecast(push, StateStub(running(10, done, 10_000, now)), now, MARGIN, DAY)
    assert result.level == level, result.message
    assert result.rows_per_s == pytest.approx(done / 600)


def test_not_started_levels():
    push = push_definition("p", deadline="09:30 UTC")
    late = forecast(push, StateStub(), DEADLINE + dt.timedelta(minutes=1), MARGIN, DAY)
    assert late.level == "P1" and "has passed" in late.message
    tight = forecast(push, StateStub(last_duration=dt.timedelta(minutes=45)), DEADLINE - dt.timedelta(minutes=30), MARGIN, DAY)
    assert tight.level == "P2" and "last run took 45 min" in tight.message
    relaxed = forecast(push, StateStub(last_duration=dt.timedelta(minutes=10)), DEADLINE - dt.timedelta(minutes=30), MARGIN, DAY)
    assert relaxed.level is None
