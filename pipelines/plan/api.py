"""HTTP routes for the tracking plan and its health report, for a host app to mount (the analysis API, which
brings its own bearer-token auth and warehouse handle):

    GET /v1/plan/{app_id}                          the plan as JSON
    GET /v1/plan/{app_id}/health?days=7            tracking_health() report (only reads)
    GET /v1/plan/{app_id}/query?event=pay&days=30  event-analysis SQL and parameters for a declared point
"""

from __future__ import annotations


import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pipelines.config import Settings
from pipelines.plan import MAX_DAYS
from pipelines.plan.health import event_analysis_sql, tracking_health
from pipelines.plan.model import AppPlan, PlanError, load_plans, plan_to_dict, resolve_plan_dir
from pipelines.warehouse.client import Warehouse, WarehouseUnavailable


def plan_routes(settings: Settings, warehouse: Warehouse) -> list[Route]:
    """`warehouse` is the handle the health report reads with: the API's analyst-role one (it only reads)."""

    def current_plan(request: Request) -> AppPlan | JSONResponse:
        app_id = request.path_params["app_id"]
        try:
            plans = load_plans(resolve_plan_dir(settings.plan_dir))
        except PlanError as exc:
            return JSONResponse({"error": f"the plan files are invalid: {exc}"}, status_code=500)
        if app_id not in plans:
            return JSONResponse({"error": f"no tracking plan for app {app_id!r}"}, status_code=404)
        return plans[app_id]

    def days(request: Request, default: int) -> int | JSONResponse:
        raw = request.query_params.get("days", str(default))
        # ASCII digits, few of them: str.isdigit() also passes "²", and int() of 4,301+ digits raises (both a 500).
        if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(MAX_DAYS))) or not 1 <= int(raw) <= MAX_DAYS:
            return JSONResponse({"error": f"days must be a whole number from 1 to {MAX_DAYS}"}, status_code=400)
        return int(raw)

    async def show(request: Request) -> JSONResponse:
        plan = current_plan(request)
        return plan if isinstance(plan, JSONResponse) else JSONResponse(plan_to_dict(plan))

    async def health(request: Request) -> JSONResponse:
        plan, window = current_plan(request), days(request, 7)
        for answer in (plan, window):
            if isinstance(answer, JSONResponse):
                return answer

        try:
            return JSONResponse(await anyio.to_thread.run_sync(tracking_health, warehouse, plan, window))
        except WarehouseUnavailable as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)

    async def query(request: Request) -> JSONResponse:
        plan, window = current_plan(request), days(request, 30)
        for answer in (plan, window):
            if isinstance(answer, JSONResponse):
                return answer
        try:
            sql, parameters = event_analysis_sql(plan, request.query_params.get("event", ""), window)
        except KeyError as exc:
            return JSONResponse({"error": exc.args[0]}, status_code=404)
        return JSONResponse({"sql": sql, "parameters": parameters})

    return [
        Route("/v1/plan/{app_id}", show, methods=["GET"]),
        Route("/v1/plan/{app_id}/health", health, methods=["GET"]),
        Route("/v1/plan/{app_id}/query", query, methods=["GET"]),
    ]
