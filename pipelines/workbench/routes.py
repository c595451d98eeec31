"""HTTP routes of the workbench's data: apps and their catalog, saved reports, dashboards. Each handler runs its
store work in a worker thread (psycopg and the warehouse client block) and answers errors as JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipelines.analysis.api import Guard, Principal
from pipelines.config import Settings
from pipelines.jsonbody import json_object
from pipelines.plan.model import PlanError, load_plans, resolve_plan_dir
from pipelines.warehouse.client import Warehouse, WarehouseUnavailable
from pipelines.workbench import catalog, items
from pipelines.workbench.store import MetaStore, MetaUnavailable

BODY_BYTES = 1 << 20  # a report's request or a dashboard's layout is a few kilobytes


def _answer(work: Callable[[], tuple[int, object]]) -> Callable[[], Response]:
    """Run `work` -> (status, JSON body); the store's refusals become their status codes."""

    def run() -> Response:
        try:
            status, body = work()
        except items.Invalid as exc:
            return JSONResponse({"error": "invalid request", "errors": exc.errors}, status_code=422)
        except items.NotFound as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        except items.PermissionDenied as exc:
            return JSONResponse({"error": str(exc)}, status_code=403)
        except items.Conflict as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        except (MetaUnavailable, WarehouseUnavailable) as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        except PlanError as exc:
            return JSONResponse({"error": f"the plan files are invalid: {exc}"}, status_code=500)
        return Response(status_code=204) if body is None else JSONResponse(body, status_code=status)

    return run


@dataclass(frozen=True)
class Kind:
    """Reports and dashboards have the same routes over their own store functions."""

    table: str
    list: Callable
    get: Callable
    create: Callable
    change: Callable
    body: type
    change_body: type


KINDS = (
    Kind("reports", items.list_reports, items.get_report, items.create_report, items.change_report, items.ReportBody, items.ReportChange),
    Kind("dashboards", items.list_dashboards, items.get_dashboard, items.create_dashboard, items.change_dashboard, items.DashboardBody, items.DashboardChange),
)  # fmt: skip


def workbench_routes(settings: Settings, store: MetaStore, analyst: Warehouse, guarded: Guard) -> list[Route]:
    def plans():
        return load_plans(resolve_plan_dir(settings.plan_dir))

    def handler(work: Callable[..., tuple[int, object]], body_kind: type | None = None, role: str = "analyst"):
        """An endpoint calling work(connection, who, path params..., body) in a thread with a store connection."""

        async def endpoint(request: Request) -> Response:
            who: Principal = request.state.principal
            body = None
            if body_kind is not None:
                raw = await json_object(request, BODY_BYTES, f"{BODY_BYTES:,} bytes at most")
                if isinstance(raw, JSONResponse):
                    return raw
                try:
                    body = items.parsed(body_kind, raw)
                except items.Invalid as exc:
                    return JSONResponse({"error": "invalid request", "errors": exc.errors}, status_code=422)

            def with_connection():
                with store.connection() as connection:
                    return work(connection, who, *request.path_params.values(), *(() if body is None else (body,)))

            return await anyio.to_thread.run_sync(_answer(with_connection))

        return guarded(endpoint, role=role)

    async def app_list(_: Request) -> Response:
        def work():
            return 200, {"apps": catalog.apps(analyst, plans())}

        return await anyio.to_thread.run_sync(_answer(work))

    async def app_catalog(request: Request) -> Response:
        app_id = request.path_params["app_id"]

        def work():
            found = catalog.catalog(analyst, app_id, plans().get(app_id))
            if found is None:
                raise items.NotFound(f"{items.not_found('app', app_id)}: no tracking plan, no events in the last {catalog.SEEN_DAYS} days")
            return 200, found

        return await anyio.to_thread.run_sync(_answer(work))

    def kind_routes(kind: Kind) -> list[Route]:
        base = f"/v1/{kind.table}"

        def delete(connection, who, item_id):
            items.delete_item(connection, kind.table, item_id, who)
            return 204, None

        def share(connection, who, item_id, body):
            items.share_item(connection, kind.table, item_id, body.shared, who)
            return 200, kind.get(connection, item_id, who)

        return [
            Route(base, handler(lambda connection, who: (200, {kind.table: kind.list(connection, who)})), methods=["GET"]),
            Route(base, handler(lambda connection, who, body: (201, kind.create(connection, body, who)), kind.body), methods=["POST"]),
            Route(f"{base}/{{id}}", handler(lambda connection, who, item_id: (200, kind.get(connection, item_id, who))), methods=["GET"]),
            Route(f"{base}/{{id}}", handler(lambda connection, who, item_id, body: (200, kind.change(connection, item_id, body, who)), kind.change_body), methods=["PUT"]),
            Route(f"{base}/{{id}}", handler(delete), methods=["DELETE"]),
            Route(f"{base}/{{id}}/share", handler(share, items.Share, role="admin"), methods=["PUT"]),
        ]  # fmt: skip

    def duplicate(connection, who, dashboard_id):
        return 201, items.duplicate_dashboard(connection, dashboard_id, who)

    return [
        Route("/v1/apps", guarded(app_list), methods=["GET"]),
        Route("/v1/catalog/{app_id}", guarded(app_catalog), methods=["GET"]),
        *(route for kind in KINDS for route in kind_routes(kind)),
        Route("/v1/dashboards/{id}/duplicate", handler(duplicate), methods=["POST"]),
    ]
