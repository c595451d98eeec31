"""The API server with the workbench: the analysis API (`pipelines.analysis.api.create_app`) extended with users'
tokens and session cookies, the workbench's routes and OpenAPI paths, and the built web app. `trackflow api` and
the stack component `api` serve this app."""

from __future__ import annotations

import contextlib
import logging

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from pipelines.analysis.api import ApiExtension, ApiSettings, create_app as create_analysis_app
from pipelines.config import Settings
from pipelines.warehouse.client import Warehouse
from pipelines.workbench import spec, store as meta
from pipelines.workbench.audiences import audience_routes
from pipelines.workbench.auth import Authenticator, auth_routes
from pipelines.workbench.board import board_routes
from pipelines.workbench.routes import workbench_routes
from pipelines.workbench.settings import WorkbenchSettings
from pipelines.workbench.static import default_dist, static_routes

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    api: ApiSettings | None = None,
    warehouse: Warehouse | None = None,
    record_heat: bool = True,
    workbench: WorkbenchSettings | None = None,
) -> Starlette:
    workbench = workbench or WorkbenchSettings()
    analyst = warehouse or Warehouse(settings, role="analyst")
    store = meta.MetaStore(settings)
    dist = workbench.web_dist if str(workbench.web_dist) not in ("", ".") else default_dist()

    @contextlib.asynccontextmanager
    async def lifespan():
        # Migrate at start (idempotent) so an API run without `trackflow up` finds its tables; an unreachable store
        # leaves the analysis endpoints serving and the workbench's answering 503.
        try:
            await anyio.to_thread.run_sync(meta.prepare, settings)
        except Exception as exc:
            log.warning("metadata store not prepared: %s", exc)
        try:
            yield
        finally:
            store.close()

    extension = ApiExtension(
        authenticate=Authenticator(store, workbench),
        routes=lambda guarded: [
            *auth_routes(store, workbench, guarded),
            *workbench_routes(settings, store, analyst, guarded),
            *board_routes(analyst, guarded),
            *audience_routes(settings, store, analyst, guarded),
            *static_routes(dist),  # last: its catch-all serves the app's own paths
        ],
        paths=spec.PATHS,
        schemas=spec.SCHEMAS,
        security=spec.SECURITY,
        lifespan=lifespan,
    )
    app = create_analysis_app(settings, api, analyst, record_heat, extension)

    async def json_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    app.add_exception_handler(HTTPException, json_error)  # 404/405 of paths and methods no route takes
    app.state.meta_store = store
    return app
