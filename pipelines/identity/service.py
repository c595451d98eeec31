"""The OneID lookup service (Starlette): answers from the in-memory index, never from the warehouse.

  GET  /v1/oneid?type=device_id&value=abc      -> {"type", "value", "oneid"}            (404 if unknown)
  POST /v1/oneid/lookup {"ids": [{"type", "value"}, ...]} -> {"results": [{"type", "value", "oneid"|null}]}
  GET  /v1/oneid/{oneid}                       -> the person: ids with first/last seen (a retired id redirects;
                                                  404 with a reason when none of its ids is left)
  GET  /health                                 -> index size (no token)
  GET  /metrics                                -> Prometheus: lookups by endpoint and status, their latency (no token)
Every /v1 request needs `Authorization: Bearer <token>` with a token from TRACKFLOW_ONEID_TOKENS. Values are
normalised with the same rules as the job ("ABC " and "abc" are one device id where the rules say lower case).
"""

from __future__ import annotations

import threading
import time
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipelines.config import Settings
from pipelines.identity.index import OneIdIndex, follow_changes
from pipelines.identity.metrics import LookupMetrics
from pipelines.identity.rules import Rules, load_rules
from pipelines.serving import freeze_startup_heap


def _json(payload, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


def create_app(settings: Settings, index: OneIdIndex, rules: Rules | None = None, follow: bool = False, cold_start: bool = False) -> Starlette:
    rules = rules or load_rules(settings.identity_rules)
    accepted = {f"Bearer {token}".encode() for token in settings.oneid_tokens}
    metrics = LookupMetrics()
    max_batch = settings.oneid_max_batch

    def authorised(request: Request) -> bool:
        # Raw header scan: cheaper than building Starlette's Headers object on the hot path.
        for name, value in request.scope["headers"]:
            if name == b"authorization":
                return value in accepted
        return False

    def node_of(id_type: str, value) -> tuple[str | None, str | None]:
        if not id_type or value in (None, ""):
            return None, "type and value are required"
        node, reason = rules.normalise(str(id_type), value)
        return node, None if node else f"not an identity ({reason})"

    class ByValue:
        """GET /v1/oneid?type=&value= as a bare ASGI endpoint: the hot path of the service. Skipping Starlette's
        Request/Response objects (and their header and query parsing) about doubles what one core answers; the
        other endpoints are ordinary Starlette handlers."""

        async def __call__(self, scope, receive, send) -> None:
            started = time.perf_counter()
            status, payload = self.answer(scope)
            metrics.observe("value", status, time.perf_counter() - started)
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})  # fmt: skip
            await send({"type": "http.response.body", "body": payload})

        @staticmethod
        def answer(scope) -> tuple[int, bytes]:
            if not any(name == b"authorization" and value in accepted for name, value in scope["headers"]):
                return 401, b'{"error":"missing or wrong bearer token"}'
            params = dict(parse_qsl(scope["query_string"].decode("latin-1")))
            id_type, value = params.get("type", ""), params.get("value", "")
            node, problem = node_of(id_type, value)
            if node is None:
                return (400 if problem.startswith("type") else 404), orjson.dumps({"error": problem})
            oneid = index.lookup(node)
            if oneid is None:
                return 404, orjson.dumps({"error": f"no OneID for {id_type} {value!r}"})
            return 200, orjson.dumps({"type": id_type, "value": value, "oneid": oneid})

    async def batch(request: Request) -> Response:
        if not authorised(request):
            return _error(401, "missing or wrong bearer token")
        try:
            body = orjson.loads(await request.body())
            items = body["ids"]
            assert isinstance(items, list)
        except (orjson.JSONDecodeError, KeyError, TypeError, AssertionError):
            return _error(400, 'expected {"ids": [{"type": ..., "value": ...}, ...]}')
        if len(items) > max_batch:
            return _error(413, f"at most {max_batch} ids per request")
        results = []
        for item in items:
            id_type, value = (item.get("type"), item.get("value")) if isinstance(item, dict) else (None, None)
            node, _ = node_of(id_type, value)
            results.append({"type": id_type, "value": value, "oneid": index.lookup(node) if node else None})
        return _json({"results": results})

    async def person(request: Request) -> Response:
        if not authorised(request):
            return _error(401, "missing or wrong bearer token")
        requested = request.path_params["oneid"]
        found = index.person(requested)
        if found is None:
            return _error(404, f"no person {requested!r}")
        if not found["ids"]:
            # Every id moved to other persons (or expired) without a redirect: an empty person is not an answer.
            return _error(404, f"OneID {requested!r} holds no ids any more: they moved to other persons or expired")
        return _json({**found, "requested": requested})

    def timed(endpoint: str, handler):
        """The handler, with its answer counted and timed (lookup latency, docs/monitoring.md)."""

        async def answer(request: Request) -> Response:
            started = time.perf_counter()
            response = await handler(request)
            metrics.observe(endpoint, response.status_code, time.perf_counter() - started)
            return response

        return answer

    async def exposition(request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def health(request: Request) -> Response:
        return _json({"status": "ok", "ids": len(index.nodes), "persons": len(index.persons), "applied": index.applied})

    @asynccontextmanager
    async def lifespan(app):
        stop = threading.Event()
        if cold_start:
            from pipelines.identity.store import read_current_map
            from pipelines.warehouse.client import Warehouse

            warehouse = Warehouse(settings)
            try:
                index.load(*read_current_map(warehouse))
            finally:
                warehouse.close()
        if follow:
            ready = threading.Event()
            thread = threading.Thread(target=follow_changes, args=(index, settings, stop, ready), daemon=True, name="identity.changes")
            thread.start()
            ready.wait(30)
        # The index is millions of long-lived objects: a full collection over it is a multi-millisecond pause that
        # every request in flight waits for (the p99 of a paced run).
        freeze_startup_heap()
        yield
        stop.set()

    return Starlette(
        routes=[
            Route("/v1/oneid", ByValue(), methods=["GET"]),
            Route("/v1/oneid/lookup", timed("batch", batch), methods=["POST"]),
            Route("/v1/oneid/{oneid}", timed("person", person), methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/metrics", exposition, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


SERVICE_NAME = "oneid-service"  # its port file in the state dir: `settings.bound_port(SERVICE_NAME, ...)` finds it


class ListenError(RuntimeError):
    """The service cannot bind its address (port taken, unknown host)."""


def serve(settings: Settings, host: str | None = None, port: int | None = None, report=print) -> None:
    """Cold start from the warehouse, follow identity.changes, serve until interrupted. Port 0 takes a free port;
    the bound port is printed and recorded in the state dir (removed again on exit), as the stack does."""
    import socket

    import uvicorn

    host = host or settings.oneid_service_host
    port = settings.oneid_service_port if port is None else port
    try:
        listener = socket.create_server((host, port))
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound = listener.getsockname()[1]
    port_file = settings.state_dir / f"{SERVICE_NAME}.port"
    port_file.parent.mkdir(parents=True, exist_ok=True)
    port_file.write_text(str(bound))
    report(f"OneID lookup service on http://{host}:{bound}")
    app = create_app(settings, OneIdIndex(), follow=True, cold_start=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    try:
        server.run(sockets=[listener])
    finally:
        listener.close()
        port_file.unlink(missing_ok=True)
