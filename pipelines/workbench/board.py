"""The monitoring board's endpoints (issue 21): the chain collector -> broker -> jobs -> warehouse (and OneID beside
the jobs) with each stage's latest rate, lag and health, freshness and reconciliation over time, open alerts; each
narrowed to an app and a layer. Read through the API's analyst warehouse handle from the monitoring tables
(sql/migrations/0042) the alerts component and the reconciliation assets write; nothing here writes."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipelines.analysis.api import Guard
from pipelines.monitoring.store import open_alerts
from pipelines.warehouse.client import Warehouse, WarehouseUnavailable

NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
RECENT_MINUTES = 10  # a stage whose samples are older than this is "unknown": the alerts component is not writing
# FINAL: a minute written twice (an alerts component restarted within it, or two of them) counts its last write, as
# the table's ReplacingMergeTree keeps after a merge; before the merge argMax over the tied minute picked either.
LATEST_SQL = """
SELECT metric, labels, argMax(value, minute), max(minute) FROM monitoring_samples FINAL
WHERE minute >= now() - INTERVAL {recent:UInt32} MINUTE AND metric IN {metrics:Array(String)}
GROUP BY metric, labels
"""
FRESHNESS_SQL = """
SELECT minute, labels['layer'] AS layer,
       maxIf(value, metric = 'trackflow_pipeline_freshness_p50_seconds'), maxIf(value, metric = 'trackflow_pipeline_freshness_p95_seconds')
FROM monitoring_samples FINAL
WHERE minute >= now() - INTERVAL {hours:UInt32} HOUR
  AND metric IN ('trackflow_pipeline_freshness_p50_seconds', 'trackflow_pipeline_freshness_p95_seconds')
  AND ({layer:String} = '' OR labels['layer'] = {layer:String})
GROUP BY minute, layer ORDER BY minute, layer
"""
# A window may be reconciled more than once (a rerun): its latest check counts.
RECONCILIATION_SQL = """
SELECT window_start, window_end, cadence, app_id, layer, stage,
       argMax(expected, checked_at), argMax(observed, checked_at), argMax(difference, checked_at), argMax(verdict, checked_at)
FROM reconciliation
WHERE window_end >= now() - INTERVAL {hours:UInt32} HOUR
  AND ({app:String} = '' OR app_id = {app:String}) AND ({layer:String} = '' OR layer IN ('', {layer:String}))
GROUP BY window_start, window_end, cadence, app_id, layer, stage
ORDER BY window_end, cadence, app_id, stage, layer
"""
STAGES = (  # the chain's stages: (stage, title, metrics read for it)
    ("collector", "SDK → collector", ("trackflow_collector_up", "trackflow_collector_success_ratio", "trackflow_collector_spool_age_seconds")),
    ("broker", "Kafka broker", ("trackflow_kafka_up", "trackflow_kafka_consumer_lag_messages")),
    ("jobs", "Streaming jobs", ("trackflow_job_up", "trackflow_job_checkpoint_age_seconds")),
    ("warehouse", "Warehouse", ("trackflow_warehouse_up", "trackflow_pipeline_freshness_p95_seconds")),
    ("oneid", "OneID", ("trackflow_oneid_up", "trackflow_oneid_links_count", "trackflow_oneid_lookup_p95_seconds", "trackflow_oneid_actions_events")),
)
DROPPED = "trackflow_job_dedup_dropped_events"
RATE = "trackflow_pipeline_stage_events"
METRICS = [RATE, DROPPED] + [m for _, _, metrics in STAGES for m in metrics]


class Invalid(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.errors = [{"field": field, "message": message}]


def _name(request: Request, field: str) -> str:
    value = request.query_params.get(field, "")
    if value and not NAME.fullmatch(value):
        raise Invalid(field, "1-64 characters of A-Z a-z 0-9 _ . @ -")
    return value


def _hours(request: Request) -> int:
    raw = request.query_params.get("hours", "6")
    if not raw.isdigit() or not 1 <= int(raw) <= 168:
        raise Invalid("hours", "a whole number of hours from 1 to 168")
    return int(raw)


def _iso(value: dt.datetime) -> str:
    return value.replace(tzinfo=dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _rate_stage(stage: str, layer: str) -> bool:
    """Which stage counts make a chain stage's rate: events per minute in the last closed minute."""
    return stage.startswith("dwd.") and (not layer or stage == f"dwd.{layer}")


def chain(warehouse: Warehouse, app: str, layer: str) -> dict[str, Any]:
    latest = warehouse.rows(LATEST_SQL, {"recent": RECENT_MINUTES, "metrics": METRICS})
    values: dict[str, list[tuple[dict, float]]] = {}
    at = None
    apps, layers = set(), set()
    for metric, labels, value, minute in latest:
        values.setdefault(metric, []).append((labels, float(value)))
        at = max(at or minute, minute)
        if labels.get("app_id"):
            apps.add(labels["app_id"])
        if labels.get("layer"):
            layers.add(labels["layer"])
        if labels.get("stage", "").startswith("dwd."):
            layers.add(labels["stage"][4:])

    def series(metric: str, **match: str) -> list[float]:
        return [v for labels, v in values.get(metric, []) if all(not want or labels.get(k) == want for k, want in match.items())]

    def rate(pick) -> float | None:
        found = [v for labels, v in values.get(RATE, []) if pick(labels.get("stage", "")) and (not app or labels.get("app_id") == app)]
        return sum(found) if found else None

    def health(up: list[float], degraded: bool = False) -> str:
        if not up:
            return "unknown"
        return "down" if min(up) < 1 else ("degraded" if degraded else "ok")

    success = series("trackflow_collector_success_ratio")
    lag = series("trackflow_kafka_consumer_lag_messages")
    checkpoint = series("trackflow_job_checkpoint_age_seconds")
    fresh = series("trackflow_pipeline_freshness_p95_seconds", layer=layer)
    spool = series("trackflow_collector_spool_age_seconds")
    dropped = series(DROPPED, app_id=app, layer=layer)
    links = series("trackflow_oneid_links_count")
    lookup = series("trackflow_oneid_lookup_p95_seconds")
    # The OneID job's health is among the jobs'; `oneid serve` answering is this stage's (no service: unknown).
    actions = {labels.get("action"): v for labels, v in values.get("trackflow_oneid_actions_events", [])}
    stages = [
        {"stage": "collector", "title": STAGES[0][1], "rate_per_min": rate(lambda s: s == "collected"), "rate_unit": "events/min",
         "lag": max(spool) if spool else None, "lag_unit": "s spooled",
         "health": health(series("trackflow_collector_up"), bool(success) and min(success) < 0.95),
         "detail": {"success_ratio": min(success) if success else None}},
        {"stage": "broker", "title": STAGES[1][1], "rate_per_min": rate(lambda s: s == "raw"), "rate_unit": "events/min",
         "lag": sum(lag) if lag else None, "lag_unit": "messages", "health": health(series("trackflow_kafka_up")),
         "detail": {"max_partition_lag": max(lag) if lag else None}},
        {"stage": "jobs", "title": STAGES[2][1], "rate_per_min": rate(lambda s: _rate_stage(s, layer)), "rate_unit": "events/min",
         "lag": max(checkpoint) if checkpoint else None, "lag_unit": "s since checkpoint", "health": health(series("trackflow_job_up")),
         "detail": {"jobs_running": sum(series("trackflow_job_up")) if series("trackflow_job_up") else None,
                    "dedup_dropped_per_min": sum(dropped) if dropped else None}},
        {"stage": "warehouse", "title": STAGES[3][1], "rate_per_min": rate(lambda s: _rate_stage(s, layer)), "rate_unit": "events/min",
         "lag": max(fresh) if fresh else None, "lag_unit": "s freshness p95", "health": health(series("trackflow_warehouse_up")),
         "detail": {}},
        {"stage": "oneid", "title": STAGES[4][1], "rate_per_min": sum(links) if links else None, "rate_unit": "links/min",
         # Lookups answer from memory in well under a millisecond: shown in ms, which seconds would round to 0.
         "lag": max(lookup) * 1000 if lookup else None, "lag_unit": "ms lookup p95", "health": health(series("trackflow_oneid_up")),
         "detail": {"merges_per_min": actions.get("merge"), "splits_per_min": actions.get("split")}},
    ]  # fmt: skip
    return {"at": _iso(at) if at else None, "app_id": app or None, "layer": layer or None, "stages": stages,
            "apps": sorted(apps), "layers": sorted(layers)}  # fmt: skip


def history(warehouse: Warehouse, hours: int, app: str, layer: str) -> dict[str, Any]:
    freshness = [{"minute": _iso(m), "layer": lay, "p50_s": float(p50), "p95_s": float(p95)}
                 for m, lay, p50, p95 in warehouse.rows(FRESHNESS_SQL, {"hours": hours, "layer": layer})]  # fmt: skip
    windows: dict[tuple, dict] = {}
    mismatches = []
    for start, end, cadence, app_id, lay, stage, expected, observed, difference, verdict in warehouse.rows(
        RECONCILIATION_SQL, {"hours": hours, "app": app, "layer": layer}
    ):
        window = windows.setdefault((end, cadence), {"window_end": _iso(end), "cadence": cadence, "links": 0, "mismatched_links": 0, "mismatched_events": 0})
        window["links"] += 1
        if verdict != "ok":
            window["mismatched_links"] += 1
            window["mismatched_events"] += abs(int(difference))
            mismatches.append({"window_start": _iso(start), "window_end": _iso(end), "cadence": cadence, "app_id": app_id, "layer": lay,
                               "stage": stage, "expected": int(expected), "observed": int(observed), "difference": int(difference), "verdict": verdict})  # fmt: skip
    return {"hours": hours, "freshness": freshness, "reconciliation": list(windows.values()), "mismatches": mismatches[-50:][::-1]}


def alerts(warehouse: Warehouse, app: str, layer: str) -> dict[str, Any]:
    found = []
    for alert in open_alerts(warehouse):
        labels = dict(alert.labels)
        if (app and labels.get("app_id", app) != app) or (layer and labels.get("layer", layer) != layer):
            continue
        state = "silenced" if alert.silenced else ("acknowledged" if alert.acknowledged else "firing")
        found.append({"rule": alert.rule, "priority": alert.priority, "fingerprint": alert.fingerprint, "labels": labels,
                      "state": state, "since": _iso(dt.datetime.fromtimestamp(alert.since, dt.timezone.utc).replace(tzinfo=None)),
                      "value": alert.value})  # fmt: skip
    found.sort(key=lambda a: (a["priority"], a["since"]))
    return {"alerts": found}


def board_routes(analyst: Warehouse, guarded: Guard) -> list[Route]:
    def endpoint(work):
        async def run(request: Request) -> Response:
            def answer() -> Response:
                try:
                    return JSONResponse(work(request))
                except Invalid as exc:
                    return JSONResponse({"error": "invalid request", "errors": exc.errors}, status_code=422)
                except WarehouseUnavailable as exc:
                    return JSONResponse({"error": str(exc)}, status_code=503)

            return await anyio.to_thread.run_sync(answer)

        return guarded(run)

    return [
        Route("/v1/monitoring/chain", endpoint(lambda r: chain(analyst, _name(r, "app_id"), _name(r, "layer"))), methods=["GET"]),
        Route("/v1/monitoring/history", endpoint(lambda r: history(analyst, _hours(r), _name(r, "app_id"), _name(r, "layer"))), methods=["GET"]),
        Route("/v1/monitoring/alerts", endpoint(lambda r: alerts(analyst, _name(r, "app_id"), _name(r, "layer"))), methods=["GET"]),
    ]
