"""HTTP routes of audiences (`/v1/audiences...`, in the workbench's server and OpenAPI document: spec.py): list,
define (a rule or a result's persons), read with size history, refresh, delete, export, and page members. Each
handler does its store and warehouse work in a worker thread and answers refusals as JSON naming the problem."""

from __future__ import annotations

from typing import Callable

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipelines.analysis.api import Guard, Principal
from pipelines.audiences import definitions as audiences, export
from pipelines.config import Settings
from pipelines.errors import ServiceUnavailable
from pipelines.jsonbody import json_object
from pipelines.warehouse.client import Warehouse
from pipelines.workbench.store import MetaStore

BODY_BYTES = 1 << 20


def _answer(work: Callable[[], tuple[int, object]]) -> Response:
    try:
        status, body = work()
    except audiences.Invalid as exc:
        return JSONResponse({"error": "invalid request", "errors": exc.errors}, status_code=422)
    except export.ExportError as exc:
        return JSONResponse({"error": str(exc)}, status_code=422)
    except audiences.NotFound as exc:
        return JSONResponse({"error": str(exc)}, status_code=404)
    except audiences.Forbidden as exc:
        return JSONResponse({"error": str(exc)}, status_code=403)
    except audiences.Conflict as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    except ServiceUnavailable as exc:
        return JSONResponse({"error": str(exc)}, status_code=503)
    return Response(status_code=204) if body is None else JSONResponse(body, status_code=status)


def _who(principal: Principal) -> tuple[str, bool]:
    if principal.username is None:
        raise audiences.Forbidden("audiences need a user account: use a user's token (`trackflow users token`)")
    return principal.username, principal.role == "admin"


def _page(request: Request) -> tuple[int, int]:
    try:
        limit, offset = int(request.query_params.get("limit", 100)), int(request.query_params.get("offset", 0))
    except ValueError:
        raise audiences.Invalid([{"field": "limit", "message": "limit and offset are whole numbers"}]) from None
    if not 1 <= limit <= audiences.MAX_MEMBERS_PAGE or not 0 <= offset <= 10**9:
        raise audiences.Invalid([{"field": "limit", "message": f"limit 1..{audiences.MAX_MEMBERS_PAGE:,}, offset 0..10^9"}])
    return limit, offset


def audience_routes(settings: Settings, store: MetaStore, analyst: Warehouse, guarded: Guard) -> list[Route]:
    # Members are written, and exports streamed (with the push writers' output settings), by the warehouse's writer
    # role; everything else reads through the analyst handle.
    writer = Warehouse(settings)
    most = settings.cdp_max_audience_persons

    def endpoint(work: Callable, with_body: bool = False):
        """An endpoint calling work(connection, request, body) in a thread with a metadata store connection."""

        async def handle(request: Request) -> Response:
            body = None
            if with_body:
                body = await json_object(request, BODY_BYTES, f"{BODY_BYTES:,} bytes at most")
                if isinstance(body, JSONResponse):
                    return body

            def run() -> tuple[int, object]:
                with store.connection() as connection:
                    return work(connection, request, body)

            return await anyio.to_thread.run_sync(lambda: _answer(run))

        return guarded(handle)

    def name(request: Request) -> str:
        return request.path_params["name"]

    def listing(connection, request, _):
        return 200, {"audiences": audiences.list_all(connection, analyst)}

    def create(connection, request, body):
        owner, _ = _who(request.state.principal)
        return 201, audiences.create(connection, writer, analyst, audiences.parse_body(body), owner, most)

    def get(connection, request, _):
        return 200, audiences.get(connection, analyst, name(request))

    def refresh(connection, request, _):
        return 200, audiences.refresh(connection, writer, analyst, name(request), _who(request.state.principal), most)

    def delete(connection, request, _):
        audiences.delete(connection, name(request), _who(request.state.principal))
        return 204, None

    def export_to(connection, request, body):
        if set(body) == {"table"} and isinstance(body["table"], str):
            return 200, export.to_table(settings, writer, name(request), body["table"]).as_dict()
        if set(body) == {"format"} and body["format"] in ("csv", "parquet"):
            return 200, export.to_file(settings, writer, name(request), body["format"]).as_dict()
        raise audiences.Invalid([{"field": "body", "message": 'either {"table": "[schema.]name"} or {"format": "csv" | "parquet"}'}])

    def members(connection, request, _):
        limit, offset = _page(request)
        return 200, audiences.members(analyst, name(request), limit, offset)

    return [
        Route("/v1/audiences", endpoint(listing), methods=["GET"]),
        Route("/v1/audiences", endpoint(create, with_body=True), methods=["POST"]),
        Route("/v1/audiences/{name}", endpoint(get), methods=["GET"]),
        Route("/v1/audiences/{name}", endpoint(delete), methods=["DELETE"]),
        Route("/v1/audiences/{name}/refresh", endpoint(refresh), methods=["POST"]),
        Route("/v1/audiences/{name}/export", endpoint(export_to, with_body=True), methods=["POST"]),
        Route("/v1/audiences/{name}/members", endpoint(members), methods=["GET"]),
    ]
