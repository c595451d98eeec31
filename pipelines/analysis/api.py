"""The analysis HTTP API (Starlette): `POST /v1/query` with `{"model": ..., ...}`, the registered models at
`GET /v1/models`, OpenAPI at `/openapi.json` (both derived from the model registry, as the request validation is).

- Auth: `Authorization: Bearer <token>`; tokens from TRACKFLOW_API_TOKENS (comma-separated). With none
  configured one is generated for the data dir: `api_tokens` in `<data dir>/secrets/secrets.json` (mode 0600).
- Queries run as the read-only `analyst` warehouse user, through the warehouse client (query heat sees them),
  with a per-query timeout and a result-row limit.
- Responses are cached by a hash of the validated request; `"refresh": true` in the body bypasses the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import threading
import time
from collections import OrderedDict
from typing import Any

import anyio
import orjson
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pipelines.analysis.runner import (
    InvalidPattern,
    Limits,
    QueryTimeout,
    ResultTooLarge,
    parse_request,
    run_query,
)
from pipelines.analysis.registry import MODELS
from pipelines.config import Settings
from pipelines.plan.api import plan_routes
from pipelines.secrets import generated
from pipelines.secrets import path_for as secrets_path
from pipelines.warehouse.client import Warehouse, WarehouseUnavailable


class ApiSettings(BaseSettings):
    """Settings of the analysis API (environment variables TRACKFLOW_API_*)."""

    model_config = SettingsConfigDict(env_prefix="TRACKFLOW_API_", extra="ignore")

    tokens: str = Field("", description="comma-separated bearer tokens; empty: generate one at start")
    query_timeout_s: float = Field(30.0, gt=0, description="per-query time limit (ClickHouse max_execution_time)")
    max_result_rows: int = Field(100_000, gt=0, description="most rows one query may return")
    cache_ttl_s: float = Field(300.0, ge=0, description="how long a cached response is served")
    cache_entries: int = Field(256, ge=0, description="responses kept in the cache")
    max_body_bytes: int = Field(4 << 20, gt=0, description="largest request body (413 above)")


class ResponseCache:
    """LRU of responses by request hash, each valid for `ttl_s`."""

    def __init__(self, entries: int, ttl_s: float):
        self.entries, self.ttl_s = entries, ttl_s
        self._items: OrderedDict[str, tuple[float, dict]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> dict | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or time.monotonic() - item[0] > self.ttl_s:
                self._items.pop(key, None)
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: str, response: dict) -> None:
        if not self.entries:
            return
        with self._lock:
            self._items[key] = (time.monotonic(), response)
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)


_FIELD_FIRST = re.compile(r"([A-Za-z_][\w.\[\]]*): (.+)", re.S)
MAX_REPORTED_ERRORS = 20  # a body of thousands of bad items gets a short answer, not one line per item
MAX_MESSAGE_CHARS = 300  # messages may quote the input (an unknown `model` tag): never echo a whole body back


def validation_errors(exc: ValidationError) -> list[dict[str, str]]:
    """Pydantic errors as {field, message}, the field as a dotted path without the model-union tag. A check across
    fields (a model validator) names its field first in the message ("persons.step: ..."): that is the field."""
    out = []
    errors = exc.errors(include_url=False, include_input=False)
    for error in errors[:MAX_REPORTED_ERRORS]:
        loc = [str(part) for part in error["loc"]]
        if loc and loc[0] in MODELS.names():
            loc = loc[1:]  # the discriminated union's branch name is not a field of the request
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = ["model"]
        elif not loc and (named := _FIELD_FIRST.match(message)):
            loc, message = [named[1]], named[2]
        out.append({"field": ".".join(loc) or "request", "message": _shortened(message)})
    if len(errors) > MAX_REPORTED_ERRORS:
        out.append({"field": "request", "message": f"{len(errors) - MAX_REPORTED_ERRORS:,} more errors not listed"})
    return out


def _shortened(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE_CHARS else message[: MAX_MESSAGE_CHARS - 1] + "…"


def json_media_type(content_type: str | None) -> bool:
    """No Content-Type, application/json or a +json type (parameters such as charset aside)."""
    media = (content_type or "application/json").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def request_hash(request) -> str:
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()


def _tokens(settings: Settings, api: ApiSettings) -> tuple[list[str], str]:
    configured = [t.strip() for t in api.tokens.split(",") if t.strip()]
    if configured:
        return configured, "TRACKFLOW_API_TOKENS"
    # Generated once per data dir beside the stack's other secrets, so a restart keeps the operator's token.
    return [generated(settings.data_dir, ["api_tokens"])["api_tokens"]], str(secrets_path(settings.data_dir))


def _error(status: int, message: str, **extra) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def openapi_document() -> dict[str, Any]:
    schema = MODELS.request_adapter().json_schema()
    components = schema.pop("$defs", {})
    text = json.dumps(schema).replace("#/$defs/", "#/components/schemas/")
    components = json.loads(json.dumps(components).replace("#/$defs/", "#/components/schemas/"))
    components["AnalysisRequest"] = json.loads(text)
    for model in MODELS:
        components[model.request_type.__name__]["description"] = model.summary
    models = "\n".join(f"- `{model.name}`: {model.summary}" for model in MODELS)
    error = {"type": "object", "properties": {"error": {"type": "string"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Trackflow analysis API", "version": "1", "description": "See docs/analysis.md for each model."},
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/v1/query": {
                "post": {
                    "summary": f"Run one analysis ({', '.join(MODELS.names())})",
                    "description": f"The request's `model` names the analysis:\n{models}",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {
                            "allOf": [{"$ref": "#/components/schemas/AnalysisRequest"}],
                            "properties": {"refresh": {"type": "boolean", "description": "bypass the result cache"}},
                        }}},
                    },  # fmt: skip
                    "responses": {
                        "200": {"description": "the model's response plus `cached`, `request_hash`, `query_ms`"},
                        "400": {"description": "body is not a JSON object (RFC 8259, UTF-8, finite numbers, nesting to 1,024 levels)", "content": {"application/json": {"schema": error}}},
                        "401": {"description": "missing or wrong bearer token"},
                        "413": {"description": "request body over TRACKFLOW_API_MAX_BODY_BYTES", "content": {"application/json": {"schema": error}}},
                        "415": {"description": "Content-Type other than application/json", "content": {"application/json": {"schema": error}}},
                        "422": {"description": "invalid request (`errors` lists {field, message}) or result over the row limit"},
                        "504": {"description": "the query exceeded the time limit"},
                    },
                }
            },
            "/v1/models": {
                "get": {
                    "summary": "The analysis models: name, summary, whether they list persons, request JSON schema",
                    "responses": {"200": {"description": "`{\"models\": [{model, summary, lists_persons, request_schema}]}`"}},
                }
            },
            "/healthz": {"get": {"summary": "liveness", "security": [], "responses": {"200": {"description": "ok"}}}},
        },
    }


def attach_heat_recorder(settings: Settings, analyst: Warehouse):
    """Record every analysis query's SQL, duration and read rows in query_log / query_heat (off the hot path)."""
    from pipelines.heat.catalog import Catalog
    from pipelines.heat.extract import Extractor
    from pipelines.heat.recorder import HeatRecorder

    writer = Warehouse(settings)
    return HeatRecorder(writer, Extractor(Catalog.from_warehouse(writer))).attach(analyst)


def create_app(
    settings: Settings, api: ApiSettings | None = None, warehouse: Warehouse | None = None, record_heat: bool = True
) -> Starlette:
    api = api or ApiSettings()
    tokens, token_source = _tokens(settings, api)
    analyst = warehouse or Warehouse(settings, role="analyst")
    limits = Limits(timeout_s=api.query_timeout_s, max_result_rows=api.max_result_rows)
    cache = ResponseCache(api.cache_entries, api.cache_ttl_s)

    def authorised(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        return scheme.lower() == "bearer" and any(hmac.compare_digest(given.encode(), t.encode()) for t in tokens)

    def guarded(endpoint):
        async def check_token(request: Request):
            if not authorised(request):
                return _error(401, "missing or wrong bearer token (Authorization: Bearer <token>)")
            return await endpoint(request)

        return check_token

    async def read_body(request: Request) -> bytes | None:
        """The body, or None past max_body_bytes (read no further)."""
        if int(request.headers.get("content-length") or 0) > api.max_body_bytes:
            return None
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > api.max_body_bytes:
                return None
        return bytes(body)

    @guarded
    async def query(request: Request) -> JSONResponse:
        if (raw := await read_body(request)) is None:
            return _error(413, f"request body over {api.max_body_bytes:,} bytes (TRACKFLOW_API_MAX_BODY_BYTES)")
        if not json_media_type(request.headers.get("content-type")):
            return _error(415, f"Content-Type {request.headers['content-type']!r}: send the request as application/json")
        try:
            # orjson, as the collector and the OneID service: strict RFC 8259 in UTF-8 (no NaN or Infinity), numbers
            # that fit a double, nesting to 1,024 levels - each refused with a position, never a RecursionError or
            # the ValueError of Python's 4,300-digit int limit that json.loads raises.
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return _error(400, f"body is not JSON: {exc}")
        if not isinstance(body, dict):
            return _error(400, "body must be a JSON object with a `model` field")
        refresh = body.pop("refresh", False)
        if not isinstance(refresh, bool):
            return _error(422, "invalid request", errors=[{"field": "refresh", "message": "must be true or false"}])
        try:
            parsed = parse_request(body)
        except ValidationError as exc:
            return _error(422, "invalid request", errors=validation_errors(exc))
        key = request_hash(parsed)
        if not refresh and (hit := cache.get(key)) is not None:
            return JSONResponse({**hit, "cached": True, "request_hash": key})
        try:
            response = await anyio.to_thread.run_sync(run_query, parsed, analyst, limits)
        except QueryTimeout as exc:
            return _error(504, str(exc))
        except (ResultTooLarge, InvalidPattern) as exc:
            return _error(422, str(exc))
        except WarehouseUnavailable as exc:
            return _error(503, str(exc))
        except Exception as exc:  # a warehouse error (e.g. too many result rows): report it, do not crash
            return _error(502, f"warehouse error: {str(exc).splitlines()[0][:500]}")
        cache.put(key, response)
        return JSONResponse({**response, "cached": False, "request_hash": key})

    async def openapi(_: Request) -> JSONResponse:
        return JSONResponse(openapi_document())

    @guarded
    async def models(_: Request) -> JSONResponse:
        return JSONResponse({"models": MODELS.describe()})

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        recorder = attach_heat_recorder(settings, analyst) if record_heat else None
        try:
            yield
        finally:
            if recorder is not None:
                recorder.close()

    app = Starlette(
        lifespan=lifespan,
        routes=[
            Route("/v1/query", query, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            # Tracking plan and tracking-point health, behind the same tokens.
            *(
                Route(route.path, guarded(route.endpoint), methods=route.methods)
                for route in plan_routes(settings, analyst)
            ),
        ]
    )
    app.state.token_source = token_source
    app.state.cache = cache
    return app
