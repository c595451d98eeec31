"""HTTP routes for the tracking plan and its health report, for a host app to mount (the analysis API, which
brings its own bearer-token auth and warehouse handle):

    GET /v1/plan/{app_id}                          the plan as JSON
    GET /v1/plan/{app_id}/health?days=7            tracking_health() report (only reads)
    GET /v1/plan/{app_id}/query?event=pay&days=30  event-analysis SQL and parameters for a declared point
    PUT /v1/plan/{app_id}                          replace the plan (the host app lets admins only): validated,
                                                   applied to the warehouse, written to the app's plan file as the
                                                   next version
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from pathlib import Path

import anyio
import yaml
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pipelines.config import Settings
from pipelines.plan import MAX_DAYS
from pipelines.plan.health import event_analysis_sql, tracking_health
from pipelines.jsonbody import json_object
from pipelines.plan.model import AppPlan, PlanError, load_plans, parse_plan, plan_to_dict, resolve_plan_dir
from pipelines.plan.store import PlanConflict, apply_plan
from pipelines.warehouse.client import Warehouse, WarehouseUnavailable


def plan_of(settings: Settings, app_id: str) -> AppPlan | JSONResponse:
    """The app's plan as its file says now, or the error response (404 no plan, 500 invalid plan files)."""
    try:
        plans = load_plans(resolve_plan_dir(settings.plan_dir))
    except PlanError as exc:
        return JSONResponse({"error": f"the plan files are invalid: {exc}"}, status_code=500)
    if app_id not in plans:
        return JSONResponse({"error": f"no tracking plan for app {app_id!r}"}, status_code=404)
    return plans[app_id]


def plan_routes(settings: Settings, warehouse: Warehouse) -> list[Route]:
    """`warehouse` is the handle the health report reads with: the API's analyst-role one (it only reads)."""

    def current_plan(request: Request) -> AppPlan | JSONResponse:
        return plan_of(settings, request.path_params["app_id"])

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


# A PlanError reads "<source>: <field path> ..." for most problems; the path's first part is one of these.
_PLAN_FIELD = re.compile(r"^plan: ((?:app_id|version|policy|events)\b[^\s:]*)")


def plan_field_errors(exc: PlanError) -> list[dict[str, str]]:
    message = str(exc)
    field = _PLAN_FIELD.match(message)
    return [{"field": field[1] if field else "plan", "message": message.removeprefix("plan: ")}]


def plan_edit_routes(settings: Settings, max_body_bytes: int) -> list[Route]:
    """PUT /v1/plan/{app_id}: the body is the plan as GET returns it; its `version` is the one it was read at (409
    when the plan changed since). Applied to the warehouse first (with a writer handle of its own, closed after),
    then written over the app's plan file, as version + 1, so the collector picks it up."""
    lock = threading.Lock()  # one edit at a time per process: read version, apply, write

    def save(app_id: str, body: dict) -> JSONResponse:
        with lock:
            current = plan_of(settings, app_id)
            if isinstance(current, JSONResponse):
                return current
            if body.get("app_id", app_id) != app_id:
                return JSONResponse({"error": "invalid plan", "errors": [
                    {"field": "app_id", "message": f"must be {app_id!r}, the app in the path"}]}, status_code=422)  # fmt: skip
            read_at = body.get("version")
            if not isinstance(read_at, int) or isinstance(read_at, bool):
                return JSONResponse({"error": "invalid plan", "errors": [
                    {"field": "version", "message": "the version the plan was read at (an integer)"}]}, status_code=422)  # fmt: skip
            if read_at != current.version:
                return JSONResponse(
                    {"error": f"the plan of {app_id} is at version {current.version}, not {read_at}: reload it and redo the change"},
                    status_code=409,
                )
            try:
                plan = parse_plan({**body, "app_id": app_id, "version": current.version + 1}, "plan")
            except PlanError as exc:
                return JSONResponse({"error": "invalid plan", "errors": plan_field_errors(exc)}, status_code=422)
            writer = Warehouse(settings)
            try:
                apply_plan(writer, plan)
            except PlanConflict:
                return JSONResponse(
                    {"error": f"version {plan.version} of {app_id} was applied before with other content; raise the version in {current.source}"},
                    status_code=409,
                )
            finally:
                writer.close()
            _write_atomically(Path(current.source), plan)
            return JSONResponse({"app_id": app_id, "version": plan.version})

    async def put(request: Request) -> JSONResponse:
        body = await json_object(request, max_body_bytes, "TRACKFLOW_API_MAX_BODY_BYTES", "body must be a plan: a JSON object")
        if isinstance(body, JSONResponse):
            return body
        try:
            return await anyio.to_thread.run_sync(save, request.path_params["app_id"], body)
        except WarehouseUnavailable as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)

    return [Route("/v1/plan/{app_id}", put, methods=["PUT"])]


def _write_atomically(path: Path, plan: AppPlan) -> None:
    """Readers (the collector reloads plan files) see the old file or the new one, never half of one."""
    text = (
        f"# Tracking plan of {plan.app_id}, saved by the workbench (PUT /v1/plan/{plan.app_id}). Raise `version` on "
        "every change.\n" + yaml.safe_dump(plan_to_dict(plan), sort_keys=False, allow_unicode=True)
    )
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
