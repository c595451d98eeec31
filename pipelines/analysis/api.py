"""The analysis HTTP API (Starlette): `POST /v1/query` with `{"model": ..., ...}`, the registered models at
`GET /v1/models`, OpenAPI at `/openapi.json` (both derived from the model registry, as the request validation is).

- Auth: `Authorization: Bearer <token>`; tokens from TRACKFLOW_API_TOKENS (comma-separated). With none
  configured one is generated for the data dir: `api_tokens` in `<data dir>/secrets/secrets.json` (mode 0600).
  These tokens act as role `analyst`. A layer above (the workbench, `ApiExtension`) adds users' tokens, session
  cookies with CSRF tokens, the `admin` role and its own routes and OpenAPI paths; `trackflow api` serves both.
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
from dataclasses import dataclass
from typing import Any, AsyncContextManager, Awaitable, Callable

import anyio
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from pipelines.analysis.runner import (
    InvalidPattern,
    Limits,
    QueryTimeout,
    ResultTooLarge,
    build_queries,
    execute,
    prepare,
)
from pipelines.analysis.person_filters import UnknownPersonNames
from pipelines.analysis.request import BREAKDOWN_TAGS, FILTER_TAGS
from pipelines.analysis.registry import MODELS
from pipelines.config import Settings
from pipelines.jsonbody import json_object
from pipelines.plan.api import plan_edit_routes, plan_routes
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
_BRANCHES = frozenset({"property_filter", *FILTER_TAGS.values(), "property_breakdown", *BREAKDOWN_TAGS.values()})
MAX_REPORTED_ERRORS = 20  # a body of thousands of bad items gets a short answer, not one line per item
MAX_MESSAGE_CHARS = 300  # messages may quote the input (an unknown `model` tag): never echo a whole body back


def validation_errors(exc: ValidationError) -> list[dict[str, str]]:
    """Pydantic errors as {field, message}, the field as a dotted path without the model-union tag. A check across
    fields (a model validator) names its field first in the message ("persons.step: ..."): that is the field."""
    out = []
    errors = exc.errors(include_url=False, include_input=False)
    for error in errors[:MAX_REPORTED_ERRORS]:
        loc, at_request = [], True
        for index, part in enumerate(map(str, error["loc"])):
            # The discriminated union's branch name is not a field of the request: at the top, or where a request
            # holds model requests (a chain's `steps.N.request`).
            at_request = part in MODELS.names() and (index == 0 or error["loc"][index - 1] == "request")
            if not at_request and part not in _BRANCHES:  # nor is a filter's or a breakdown's kind
                loc.append(part)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc.append("model")
        elif at_request and (named := _FIELD_FIRST.match(message)):
            loc, message = [*loc, named[1]], named[2]
        out.append({"field": ".".join(loc) or "request", "message": _shortened(message)})
    if len(errors) > MAX_REPORTED_ERRORS:
        out.append({"field": "request", "message": f"{len(errors) - MAX_REPORTED_ERRORS:,} more errors not listed"})
    return out


def _shortened(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE_CHARS else message[: MAX_MESSAGE_CHARS - 1] + "…"


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


UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Principal:
    """Whom a request acts for."""

    role: str  # "analyst" | "admin"
    username: str | None = None  # None: a configured API token (TRACKFLOW_API_TOKENS or the generated one)
    csrf_token: str | None = None  # signed in by a session cookie: unsafe methods must send it as X-CSRF-Token


# Guard(endpoint, role): the endpoint behind authentication (and CSRF for cookie sessions) and the role.
Guard = Callable[..., Callable[[Request], Awaitable[Response]]]


@dataclass(frozen=True)
class ApiExtension:
    """What a layer above the analysis API adds to it (the workbench, pipelines/workbench/app.py), so the analysis
    package never imports that layer."""

    # Who sends a request that no configured token signs (a user's token, a session cookie), or the 401 to answer.
    authenticate: Callable[[Request], Awaitable[Principal | Response]]
    # Its routes, given the guard; mounted after the API's own (a catch-all route may come last).
    routes: Callable[[Guard], list[BaseRoute]]
    # Its OpenAPI paths, component schemas and security schemes, merged into the one document.
    paths: dict[str, Any]
    schemas: dict[str, Any]
    security: dict[str, Any]
    # Runs around the app's life (opens and closes its store).
    lifespan: Callable[[], AsyncContextManager] | None = None


def openapi_document(
    paths: dict[str, Any] | None = None, schemas: dict[str, Any] | None = None, security: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The API's one OpenAPI document; `paths`, `schemas` and `security` (more ways to authenticate, each enough
    alone) are an extension's (the workbench's)."""
    schema = MODELS.request_adapter().json_schema()
    components = schema.pop("$defs", {})
    text = json.dumps(schema).replace("#/$defs/", "#/components/schemas/")
    components = json.loads(json.dumps(components).replace("#/$defs/", "#/components/schemas/"))
    components["AnalysisRequest"] = json.loads(text)
    for model in MODELS:
        components[model.request_type.__name__]["description"] = model.summary
    models = "\n".join(f"- `{model.name}`: {model.summary}" for model in MODELS)
    error = {"type": "object", "properties": {"error": {"type": "string"}}}
    document = {
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
                        "200": {"description": "the model's response plus `cached`, `request_hash`, `query_ms` and `sql`: each query's SQL text and parameters by query name"},
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
            **plan_openapi_paths(),
        },
    }
    document["components"]["schemas"].update(schemas or {})
    document["components"]["securitySchemes"].update(security or {})
    document["security"] += [{name: []} for name in security or {}]
    document["paths"].update(paths or {})
    return document


def plan_openapi_paths() -> dict[str, Any]:
    """The tracking-plan routes (pipelines/plan/api.py), behind the same authentication."""
    app_id = {"name": "app_id", "in": "path", "required": True, "schema": {"type": "string"}}
    days = {"name": "days", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 366}}
    plan = {"type": "object", "description": "a tracking plan: app_id, version, policy, events (docs/collector.md)",
            "additionalProperties": True}  # fmt: skip
    return {
        "/v1/plan/{app_id}": {
            "get": {
                "summary": "The app's tracking plan",
                "parameters": [app_id],
                "responses": {"200": {"description": "the plan", "content": {"application/json": {"schema": plan}}},
                              "404": {"description": "no plan for the app"}},
            },  # fmt: skip
            "put": {
                "summary": "Replace the app's tracking plan (admin): validated, written as the next version, applied",
                "description": "The body is the plan as GET returns it, `version` the version it was read at "
                "(409 if the plan changed since). The saved plan gets version + 1.",
                "parameters": [app_id],
                "requestBody": {"required": True, "content": {"application/json": {"schema": plan}}},
                "responses": {
                    "200": {"description": "`{app_id, version}` of the saved plan"},
                    "403": {"description": "admin role required"},
                    "404": {"description": "no plan for the app"},
                    "409": {"description": "the plan changed since it was read"},
                    "422": {"description": "invalid plan (`errors` lists {field, message})"},
                },
            },
        },
        "/v1/plan/{app_id}/health": {
            "get": {
                "summary": "Tracking-point health of the app's plan over the last `days` days",
                "parameters": [app_id, days],
                "responses": {"200": {"description": "tracking_health() report"}, "404": {"description": "no plan"}},
            }
        },
        "/v1/plan/{app_id}/query": {
            "get": {
                "summary": "Event-analysis SQL and parameters for a declared point",
                "parameters": [app_id, days, {"name": "event", "in": "query", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "`{sql, parameters}`"}, "404": {"description": "unknown event or app"}},
            }
        },
    }


def sql_that_ran(request) -> dict[str, dict[str, Any]]:
    """Each query of the request: its SQL with `{name:Type}` placeholders and their values (as JSON: dates and
    times as ISO text), for the workbench's "SQL" panel. Building is pure and cheap; nothing runs twice."""
    return {
        name: {"sql": query.sql, "parameters": json.loads(json.dumps(query.parameters, default=str))}
        for name, query in build_queries(request).items()
    }


def attach_heat_recorder(settings: Settings, analyst: Warehouse):
    """Record every analysis query's SQL, duration and read rows in query_log / query_heat (off the hot path)."""
    from pipelines.heat.catalog import Catalog
    from pipelines.heat.extract import Extractor
    from pipelines.heat.recorder import HeatRecorder

    writer = Warehouse(settings)
    return HeatRecorder(writer, Extractor(Catalog.from_warehouse(writer))).attach(analyst)


def create_app(
    settings: Settings,
    api: ApiSettings | None = None,
    warehouse: Warehouse | None = None,
    record_heat: bool = True,
    extension: ApiExtension | None = None,
) -> Starlette:
    api = api or ApiSettings()
    tokens, token_source = _tokens(settings, api)
    analyst = warehouse or Warehouse(settings, role="analyst")
    limits = Limits(timeout_s=api.query_timeout_s, max_result_rows=api.max_result_rows)
    cache = ResponseCache(api.cache_entries, api.cache_ttl_s)

    async def principal(request: Request) -> Principal | Response:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and any(hmac.compare_digest(given.encode(), t.encode()) for t in tokens):
            return Principal(role="analyst")
        if extension is not None:
            return await extension.authenticate(request)
        return _error(401, "missing or wrong bearer token (Authorization: Bearer <token>)", reason="unauthenticated")

    def guarded(endpoint, role: str = "analyst"):
        async def check(request: Request):
            who = await principal(request)
            if isinstance(who, Response):
                return who
            if who.csrf_token is not None and request.method in UNSAFE_METHODS:
                sent = request.headers.get("x-csrf-token", "")
                if not hmac.compare_digest(sent.encode(), who.csrf_token.encode()):
                    return _error(403, "missing or wrong CSRF token")
            if role == "admin" and who.role != "admin":
                return _error(403, "admin role required")
            request.state.principal = who
            return await endpoint(request)

        return check

    @guarded
    async def query(request: Request) -> JSONResponse:
        body = await json_object(
            request, api.max_body_bytes, "TRACKFLOW_API_MAX_BODY_BYTES", "body must be a JSON object with a `model` field"
        )
        if isinstance(body, JSONResponse):
            return body
        refresh = body.pop("refresh", False)
        if not isinstance(refresh, bool):
            return _error(422, "invalid request", errors=[{"field": "refresh", "message": "must be true or false"}])
        try:
            # Person-level names are checked and audience versions pinned before the cache key is taken.
            parsed = await anyio.to_thread.run_sync(prepare, body, analyst, limits)
            key = request_hash(parsed)
            if not refresh and (hit := cache.get(key)) is not None:
                return JSONResponse({**hit, "cached": True, "request_hash": key})
            response = await anyio.to_thread.run_sync(execute, parsed, analyst, limits)
        except ValidationError as exc:
            return _error(422, "invalid request", errors=validation_errors(exc))
        except UnknownPersonNames as exc:
            return _error(422, "invalid request", errors=exc.errors)
        except QueryTimeout as exc:
            return _error(504, str(exc))
        except (ResultTooLarge, InvalidPattern) as exc:
            return _error(422, str(exc))
        except WarehouseUnavailable as exc:
            return _error(503, str(exc))
        except Exception as exc:  # a warehouse error (e.g. too many result rows): report it, do not crash
            return _error(502, f"warehouse error: {str(exc).splitlines()[0][:500]}")
        response = {**response, "sql": sql_that_ran(parsed)}
        cache.put(key, response)
        return JSONResponse({**response, "cached": False, "request_hash": key})

    async def openapi(_: Request) -> JSONResponse:
        return JSONResponse(openapi_document(extension.paths, extension.schemas, extension.security) if extension else openapi_document())

    @guarded
    async def models(_: Request) -> JSONResponse:
        return JSONResponse({"models": MODELS.describe()})

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        recorder = attach_heat_recorder(settings, analyst) if record_heat else None
        try:
            if extension is not None and extension.lifespan is not None:
                async with extension.lifespan():
                    yield
            else:
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
            # Tracking plan and tracking-point health, behind the same tokens; editing the plan is the admin's.
            *(
                Route(route.path, guarded(route.endpoint), methods=route.methods)
                for route in plan_routes(settings, analyst)
            ),
            *(
                Route(route.path, guarded(route.endpoint, role="admin"), methods=route.methods)
                for route in plan_edit_routes(settings, api.max_body_bytes)
            ),
            *(extension.routes(guarded) if extension is not None else ()),
        ]
    )
    app.state.token_source = token_source
    app.state.cache = cache
    return app
