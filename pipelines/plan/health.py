"""Tracking point health (点位检测): per declared event, when it was last seen, its volume, the share of its
events that failed the plan and the most frequent violations; plus events seen that the plan does not declare.

`tracking_health()` is the API (plain dicts, ready for JSON); `trackflow plan health` prints it.
`event_analysis_sql()` turns a declared point into a ready event-analysis query.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pipelines.plan.model import AppPlan
from pipelines.warehouse.client import Warehouse

TOP_REASONS = 3


def tracking_health(warehouse: Warehouse, plan: AppPlan, days: int = 7) -> dict[str, Any]:
    params = {"app": plan.app_id, "days": days}
    seen = {
        event: (volume, last_seen)
        for event, volume, last_seen in warehouse.rows(
            "SELECT event, count(), max(ts) FROM events WHERE app_id = {app:String} AND ts >= now() - toIntervalDay({days:UInt32}) GROUP BY event",
            params,
        )
    }
    invalid = {
        event: (count, last_seen)
        for event, count, last_seen in warehouse.rows(
            "SELECT event, count(), max(quarantined_at) FROM quarantine FINAL "
            "WHERE app_id = {app:String} AND status = 'quarantined' AND quarantined_at >= now() - toIntervalDay({days:UInt32}) GROUP BY event",
            params,
        )
    }
    reasons: dict[str, list[dict[str, Any]]] = {}
    for event, reason, count in warehouse.rows(
        "SELECT event, reason, count() AS n FROM quarantine FINAL ARRAY JOIN reason_keys AS reason "
        "WHERE app_id = {app:String} AND status = 'quarantined' AND quarantined_at >= now() - toIntervalDay({days:UInt32}) "
        "GROUP BY event, reason ORDER BY event, n DESC, reason",
        params,
    ):
        if len(reasons.setdefault(event, [])) < TOP_REASONS:
            reasons[event].append({"reason": reason, "count": count})

    points = []
    for name in sorted(plan.events):
        volume, last_ok = seen.get(name, (0, None))
        bad, last_bad = invalid.get(name, (0, None))
        last = max((t for t in (last_ok, last_bad) if t is not None), default=None)
        total = volume + bad
        points.append(
            {
                "event": name,
                "last_seen": _iso(last),
                "volume": volume,
                "invalid": bad,
                "invalid_rate": round(bad / total, 4) if total else 0.0,
                "top_violations": reasons.get(name, []),
                "status": "silent" if total == 0 else ("unhealthy" if bad / total > 0.05 else "ok"),
            }
        )
    undeclared = sorted(
        {event for event in seen if event not in plan.events} | {event for event in invalid if event not in plan.events}
    )
    return {
        "app_id": plan.app_id,
        "plan_version": plan.version,
        "days": days,
        "points": points,
        "undeclared_events": [
            {"event": event, "volume": seen.get(event, (0, None))[0], "quarantined": invalid.get(event, (0, None))[0]} for event in undeclared
        ],
    }


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def event_analysis_sql(plan: AppPlan, event: str, days: int = 30) -> tuple[str, dict[str, Any]]:
    """A daily event-analysis query (events and distinct people per day) for one declared point, as SQL with
    bound parameters, for the analysis service or an analyst to run as is."""
    if event not in plan.events:
        raise KeyError(f"{event!r} is not declared in the {plan.app_id} plan (v{plan.version})")
    sql = (
        "SELECT toDate(ts) AS day, count() AS events, uniqExact(person_id) AS people\n"
        "FROM events\n"
        "WHERE app_id = {app_id:String} AND event = {event:String} AND ts >= today() - {days:UInt32}\n"
        "GROUP BY day\nORDER BY day"
    )
    return sql, {"app_id": plan.app_id, "event": event, "days": days}
