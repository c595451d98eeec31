"""Deadline prediction for pushes: from the running throughput, when will each push finish, and will that be
before its deadline? Alerts are raised before the deadline is missed, not after.

Levels (the seed documents' P1-P3):
- P1: the deadline has passed and the partition has not arrived, or the running push is predicted to be more
  than 30 minutes late;
- P2: the running push is predicted to miss the deadline (by up to 30 minutes), or it has made no progress for
  a minute, or its last run failed, or it has not started and its last successful run took longer than the time
  left;
- P3: at risk - predicted to finish less than `push_alert_margin_s` before the deadline.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from zoneinfo import ZoneInfo

from pipelines.push import state
from pipelines.push.definitions import Push

LATE_P1 = dt.timedelta(minutes=30)
STALL_AFTER = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Forecast:
    push: str
    department: str
    day: dt.date
    deadline: dt.datetime
    state: str  # running | done | not started
    rows_done: int
    planned_rows: int
    rows_per_s: float
    predicted_finish: dt.datetime | None
    level: str | None  # P1 | P2 | P3 | None
    message: str

    def as_json(self) -> dict:
        data = asdict(self)
        for key in ("day", "deadline", "predicted_finish"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def due_partition(push: Push, now: dt.datetime) -> dt.date:
    """The partition whose deadline comes next: yesterday's, in the deadline's timezone."""
    local = now.astimezone(ZoneInfo(push.deadline.timezone))
    day = local.date() - dt.timedelta(days=1)
    return day if push.deadline.due(day) >= now else day + dt.timedelta(days=1)


def latest_run(connection, push: str, day: dt.date):
    return connection.execute(
        f"SELECT state, planned_rows, rows_done, started_at, finished_at, progress_at FROM {state.SCHEMA}.runs "
        "WHERE push = %s AND day = %s ORDER BY started_at DESC LIMIT 1",
        (push, day),
    ).fetchone()


def typical_duration(connection, push: str) -> dt.timedelta | None:
    """How long the push's last successful run took, start to finish."""
    row = connection.execute(
        f"SELECT finished_at - started_at FROM {state.SCHEMA}.runs WHERE push = %s AND state = 'done' "
        "ORDER BY finished_at DESC LIMIT 1",
        (push,),
    ).fetchone()
    return row[0] if row else None


def forecast(push: Push, connection, now: dt.datetime, margin: dt.timedelta, day: dt.date | None = None) -> Forecast | None:
    if push.deadline is None:
        return None
    day = day or due_partition(push, now)
    deadline = push.deadline.due(day)
    run = latest_run(connection, push.name, day)
    base = dict(push=push.name, department=push.department, day=day, deadline=deadline)
    if run is None or run[0] == "failed":
        what = "not started" if run is None else "failed"
        idle = dict(base, state=what, rows_done=0, planned_rows=0, rows_per_s=0.0)
        if now > deadline:
            return Forecast(**idle, predicted_finish=None, level="P1",
                            message=f"{push.name} {day}: {what} and its deadline {deadline:%Y-%m-%d %H:%M %Z} has passed")  # fmt: skip
        # Not running: if it started now and took as long as its last successful run, would it make it?
        typical = typical_duration(connection, push.name)
        if typical is not None and now + typical > deadline:
            return Forecast(**idle, predicted_finish=now + typical, level="P2",
                            message=f"{push.name} {day}: {what}; its last run took {typical.total_seconds() / 60:.0f} min, "
                                    f"the deadline {deadline:%Y-%m-%d %H:%M %Z} is {(deadline - now).total_seconds() / 60:.0f} min away")  # fmt: skip
        return Forecast(**idle, predicted_finish=None, level="P2" if what == "failed" else None, message=f"{push.name} {day}: {what}")
    run_state, planned, done, started, finished, progress_at = run
    if run_state == "done":
        late = finished > deadline
        return Forecast(**base, state="done", rows_done=done, planned_rows=planned, rows_per_s=0.0, predicted_finish=finished,
                        level="P1" if late else None,
                        message=f"{push.name} {day}: arrived {finished:%Y-%m-%d %H:%M:%S %Z}" + (" after its deadline" if late else ""))  # fmt: skip
    elapsed = max((now - started).total_seconds(), 1e-3)
    rate = done / elapsed
    remaining = max(planned - done, 0)
    predicted = now + dt.timedelta(seconds=remaining / rate) if rate > 0 else None
    level, why = None, "on time"
    if now > deadline:
        level, why = "P1", "deadline passed while still running"
    elif predicted is None:
        if now - started > STALL_AFTER:
            level, why = "P2", f"no rows written for {elapsed:.0f}s"
    elif predicted - deadline > LATE_P1:
        level, why = "P1", f"predicted {(predicted - deadline).total_seconds() / 60:.0f} min late"
    elif predicted > deadline:
        level, why = "P2", f"predicted {(predicted - deadline).total_seconds() / 60:.1f} min late"
    elif deadline - predicted < margin:
        level, why = "P3", f"predicted only {(deadline - predicted).total_seconds() / 60:.1f} min before the deadline"
    finish = f"{predicted:%Y-%m-%d %H:%M:%S %Z}" if predicted else "unknown"
    message = (
        f"{push.name} ({push.department}) {day}: {why}; {done:,}/{planned:,} rows at {rate:,.0f} rows/s, "
        f"finish {finish}, deadline {deadline:%Y-%m-%d %H:%M %Z}"
    )
    return Forecast(**base, state="running", rows_done=done, planned_rows=planned, rows_per_s=rate,
                    predicted_finish=predicted, level=level, message=message)  # fmt: skip


def forecasts(pushes: list[Push], connection, now: dt.datetime, margin: dt.timedelta) -> list[Forecast]:
    return [f for push in pushes if (f := forecast(push, connection, now, margin)) is not None]


def send_alert(url: str, item: Forecast, timeout_s: float = 5.0) -> None:
    import httpx

    response = httpx.post(url, json={"source": "trackflow.push", "level": item.level, **item.as_json()}, timeout=timeout_s)
    response.raise_for_status()
