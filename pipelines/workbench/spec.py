"""The workbench's OpenAPI paths and schemas, merged into the analysis API's one document
(pipelines.analysis.api.openapi_document) so the web app's typed client covers every call it makes."""

from __future__ import annotations

from typing import Any

from pipelines.workbench.items import MAX_ITEMS, PRESETS


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: list[str], **properties) -> dict:
    return {"type": "object", "required": required, "properties": properties}


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


STRING, INTEGER, BOOLEAN = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
NAME = {"type": "string", "minLength": 1, "maxLength": 200}
ROLE = {"type": "string", "enum": ["analyst", "admin"]}

SCHEMAS: dict[str, Any] = {
    "Error": _obj(["error"], error=STRING, reason={"type": "string", "enum": ["expired", "unauthenticated"]},
                  errors={"type": "array", "items": _obj(["field", "message"], field=STRING, message=STRING)}),
    "User": _obj(["username", "role"], username={"type": ["string", "null"]}, role=ROLE),
    "SignedIn": _obj(["user", "csrf_token"], user=_ref("User"), csrf_token={"type": ["string", "null"]}),
    "Login": _obj(["username", "password"], username=STRING, password=STRING),
    "App": _obj(["app_id", "in_plan", "seen"], app_id=STRING, in_plan=BOOLEAN, seen=BOOLEAN),
    "AppList": _obj(["apps"], apps={"type": "array", "items": _ref("App")}),
    "CatalogProperty": _obj(["name", "type", "in_plan", "seen"], name=STRING,
                            type={"type": "string", "enum": ["string", "number", "boolean", "datetime"]},
                            in_plan=BOOLEAN, seen=BOOLEAN),
    "CatalogEvent": _obj(["name", "description", "in_plan", "seen", "count_30d", "properties"], name=STRING,
                         description=STRING, in_plan=BOOLEAN, seen=BOOLEAN, count_30d=INTEGER,
                         properties={"type": "array", "items": _ref("CatalogProperty")}),
    "Catalog": _obj(["app_id", "events", "context_properties", "audiences", "tags", "person_properties"], app_id=STRING,
                    events={"type": "array", "items": _ref("CatalogEvent")},
                    context_properties={"type": "array", "items": _ref("CatalogProperty"),
                                        "description": "fields every event has (platform, os, utm_source, ...)"},
                    audiences={"type": "array", "items": _obj(["name", "version", "size"], name=STRING, version=INTEGER, size=INTEGER),
                               "description": "audiences a filter or breakdown may name (current version, its persons)"},
                    tags={"type": "array", "items": STRING, "description": "CDP tags a filter or breakdown may name"},
                    person_properties={"type": "array", "items": STRING,
                                       "description": "person properties (set by SDK profile/identify calls) a filter may name"}),
    "PlanSaved": _obj(["app_id", "version"], app_id=STRING, version=INTEGER),
    "Report": _obj(["id", "name", "model", "request", "owner", "shared", "version", "created_at", "updated_at"],
                   id=STRING, name=STRING, model=STRING, request=_ref("AnalysisRequest"), owner=STRING,
                   shared=BOOLEAN, version=INTEGER, created_at=STRING, updated_at=STRING),
    "ReportList": _obj(["reports"], reports={"type": "array", "items": _ref("Report")}),
    "ReportCreate": _obj(["name", "request"], name=NAME, request=_ref("AnalysisRequest")),
    "ReportUpdate": _obj(["name", "request", "version"], name=NAME, request=_ref("AnalysisRequest"), version=INTEGER),
    "Share": _obj(["shared"], shared=BOOLEAN),
    "TimeRange": {
        "description": "a fixed range (`from`/`to` as an analysis request's date_from/date_to) or a preset; "
        "either with an optional IANA `timezone`",
        "oneOf": [
            _obj(["from", "to"], **{"from": STRING, "to": STRING, "timezone": STRING}),
            _obj(["preset"], preset={"type": "string", "enum": list(PRESETS)}, timezone=STRING),
        ],
    },
    "DashboardItemPlacement": _obj(["report_id", "x", "y", "w", "h"], report_id=STRING,
                                   x={"type": "integer", "minimum": 0}, y={"type": "integer", "minimum": 0},
                                   w={"type": "integer", "minimum": 1}, h={"type": "integer", "minimum": 1}),
    "DashboardItem": {"allOf": [_ref("DashboardItemPlacement"), _obj(["report"], report=_ref("Report"))]},
    "Dashboard": _obj(["id", "name", "owner", "shared", "version", "time_range", "items", "created_at", "updated_at"],
                      id=STRING, name=STRING, owner=STRING, shared=BOOLEAN, version=INTEGER,
                      time_range=_ref("TimeRange"), items={"type": "array", "items": _ref("DashboardItem")},
                      created_at=STRING, updated_at=STRING),
    "DashboardList": _obj(["dashboards"], dashboards={"type": "array", "items": _ref("Dashboard")}),
    "DashboardCreate": _obj(["name"], name=NAME, time_range=_ref("TimeRange")),
    "DashboardUpdate": _obj(["name", "time_range", "items", "version"], name=NAME, time_range=_ref("TimeRange"),
                            items={"type": "array", "maxItems": MAX_ITEMS, "items": _ref("DashboardItemPlacement")},
                            version=INTEGER),
}  # fmt: skip

SECURITY: dict[str, Any] = {
    "session": {"type": "apiKey", "in": "cookie", "name": "tf_session",
                "description": "the session of POST /v1/auth/login; POST/PUT/PATCH/DELETE also send X-CSRF-Token"},
}  # fmt: skip
ERROR = _json(_ref("Error"))
ID = {"name": "id", "in": "path", "required": True, "schema": STRING}
APP_ID = {"name": "app_id", "in": "path", "required": True, "schema": STRING}


def _operation(summary: str, ok: tuple[str, str | None], body: str | None = None, params=(), errors=(), **extra) -> dict:
    """`ok` is (status, response schema name or None for no body); `errors` the error statuses it may answer
    besides 401 and 503 (which every authenticated call may)."""
    status, schema = ok
    described = {"400": "body is not a JSON object", "403": "not allowed (owner only, admin role, or CSRF token)",
                 "404": "unknown id", "409": "stale version: reload and redo the change",
                 "422": "invalid body (`errors` lists {field, message})", "429": "too many failed sign-ins (Retry-After)"}  # fmt: skip
    operation = {
        "summary": summary,
        "parameters": list(params),
        "responses": {
            status: {"description": "ok", **({"content": _json(_ref(schema))} if schema else {})},
            **{code: {"description": described[code], "content": ERROR} for code in errors},
            "401": {"description": "signed out, session expired (`reason`) or wrong token", "content": ERROR},
            "503": {"description": "the metadata store or the warehouse is not reachable", "content": ERROR},
        },
        **extra,
    }
    if body:
        operation["requestBody"] = {"required": True, "content": _json(_ref(body))}
    return operation


CHANGE = ("400", "403", "404", "409", "422")
PATHS: dict[str, Any] = {
    "/v1/auth/login": {"post": _operation(
        "Sign in: sets the HttpOnly session cookie `tf_session`; send `csrf_token` as X-CSRF-Token on changes",
        ("200", "SignedIn"), "Login", errors=("400", "422", "429"), security=[])},
    "/v1/auth/me": {"get": _operation("Who is signed in, and the session's CSRF token", ("200", "SignedIn"))},
    "/v1/auth/logout": {"post": _operation("Sign out: ends the session", ("204", None), errors=("403",))},
    "/v1/apps": {"get": _operation("Apps with a tracking plan or events in the last 30 days", ("200", "AppList"))},
    "/v1/catalog/{app_id}": {"get": _operation(
        "The app's events and typed properties, from its tracking plan and the last 30 days of events",
        ("200", "Catalog"), params=[APP_ID], errors=("404",))},
    "/v1/reports": {
        "get": _operation("My reports and shared ones (an admin: all)", ("200", "ReportList")),
        "post": _operation("Save a report: `request` is validated as POST /v1/query does (field errors prefixed `request.`)",
                           ("201", "Report"), "ReportCreate", errors=("400", "403", "422")),
    },
    "/v1/reports/{id}": {
        "get": _operation("One report", ("200", "Report"), params=[ID], errors=("404",)),
        "put": _operation("Change a report (owner only)", ("200", "Report"), "ReportUpdate", params=[ID], errors=CHANGE),
        "delete": _operation("Delete a report (owner only); it leaves every dashboard", ("204", None), params=[ID], errors=("403", "404")),
    },
    "/v1/reports/{id}/share": {"put": _operation(
        "Share or unshare a report read-only (admin)", ("200", "Report"), "Share", params=[ID], errors=("403", "404", "422"))},
    "/v1/dashboards": {
        "get": _operation("My dashboards and shared ones (an admin: all)", ("200", "DashboardList")),
        "post": _operation("Create an empty dashboard", ("201", "Dashboard"), "DashboardCreate", errors=("400", "403", "422")),
    },
    "/v1/dashboards/{id}": {
        "get": _operation("One dashboard with its reports", ("200", "Dashboard"), params=[ID], errors=("404",)),
        "put": _operation("Rename, re-range, rearrange (owner only)", ("200", "Dashboard"), "DashboardUpdate",
                          params=[ID], errors=CHANGE),
        "delete": _operation("Delete a dashboard (owner only)", ("204", None), params=[ID], errors=("403", "404")),
    },
    "/v1/dashboards/{id}/duplicate": {"post": _operation(
        "Copy a dashboard I can read; the copy is mine", ("201", "Dashboard"), params=[ID], errors=("403", "404"))},
    "/v1/dashboards/{id}/share": {"put": _operation(
        "Share or unshare a dashboard read-only (admin)", ("200", "Dashboard"), "Share", params=[ID], errors=("403", "404", "422"))},
}  # fmt: skip

# The monitoring board (pipelines/workbench/board.py): read-only, any signed-in role.
NUMBER_OR_NULL = {"type": ["number", "null"]}
BOARD_FILTERS = [{"name": name, "in": "query", "required": False, "schema": STRING, "description": what}
                 for name, what in (("app_id", "only this app"), ("layer", "only this layer"))]  # fmt: skip
SCHEMAS |= {
    "ChainStage": _obj(["stage", "title", "rate_per_min", "rate_unit", "lag", "lag_unit", "health", "detail"],
                       stage={"type": "string", "enum": ["collector", "broker", "jobs", "warehouse", "oneid"]}, title=STRING,
                       rate_per_min=NUMBER_OR_NULL, rate_unit=STRING, lag=NUMBER_OR_NULL, lag_unit=STRING,
                       health={"type": "string", "enum": ["ok", "degraded", "down", "unknown"]},
                       detail={"type": "object", "additionalProperties": NUMBER_OR_NULL}),
    "Chain": _obj(["at", "app_id", "layer", "stages", "apps", "layers"], at={"type": ["string", "null"]},
                  app_id={"type": ["string", "null"]}, layer={"type": ["string", "null"]},
                  stages={"type": "array", "items": _ref("ChainStage")},
                  apps={"type": "array", "items": STRING}, layers={"type": "array", "items": STRING}),
    "FreshnessPoint": _obj(["minute", "layer", "p50_s", "p95_s"], minute=STRING, layer=STRING, p50_s={"type": "number"}, p95_s={"type": "number"}),
    "ReconciliationWindow": _obj(["window_end", "cadence", "links", "mismatched_links", "mismatched_events"], window_end=STRING,
                                 cadence=STRING, links=INTEGER, mismatched_links=INTEGER, mismatched_events=INTEGER),
    "ReconciliationLink": _obj(["window_start", "window_end", "cadence", "app_id", "layer", "stage", "expected", "observed", "difference", "verdict"],
                               window_start=STRING, window_end=STRING, cadence=STRING, app_id=STRING, layer=STRING, stage=STRING,
                               expected=INTEGER, observed=INTEGER, difference=INTEGER, verdict=STRING),
    "MonitoringHistory": _obj(["hours", "freshness", "reconciliation", "mismatches"], hours=INTEGER,
                              freshness={"type": "array", "items": _ref("FreshnessPoint")},
                              reconciliation={"type": "array", "items": _ref("ReconciliationWindow")},
                              mismatches={"type": "array", "items": _ref("ReconciliationLink")}),
    "OpenAlert": _obj(["rule", "priority", "fingerprint", "labels", "state", "since", "value"], rule=STRING, priority=STRING,
                      fingerprint=STRING, labels={"type": "object", "additionalProperties": STRING},
                      state={"type": "string", "enum": ["firing", "silenced", "acknowledged"]}, since=STRING, value={"type": "number"}),
    "OpenAlerts": _obj(["alerts"], alerts={"type": "array", "items": _ref("OpenAlert")}),
}  # fmt: skip
PATHS |= {
    "/v1/monitoring/chain": {"get": _operation(
        "The chain collector -> broker -> jobs -> warehouse: each stage's latest rate, lag and health (monitoring_samples)",
        ("200", "Chain"), params=BOARD_FILTERS, errors=("422",))},
    "/v1/monitoring/history": {"get": _operation(
        "Freshness p50/p95 per layer and minute, reconciliation per window and its mismatched links, over `hours`",
        ("200", "MonitoringHistory"), errors=("422",),
        params=[*BOARD_FILTERS, {"name": "hours", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 168, "default": 6}}])},
    "/v1/monitoring/alerts": {"get": _operation(
        "Open alerts (firing, silenced, acknowledged) from alert_history", ("200", "OpenAlerts"), params=BOARD_FILTERS, errors=("422",))},
}  # fmt: skip

# Audiences (pipelines/workbench/audiences.py, issue 20): defined by a rule or from a result's persons, versions in the warehouse.
AUDIENCE_NAME_PARAM = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}}
NULLABLE_STRING, NULLABLE_INTEGER = {"type": ["string", "null"]}, {"type": ["integer", "null"]}
SCHEMAS |= {
    "AudienceRule": {"type": "object", "description": "a rule: {tag, op, value} | {audience, op} | {event, filters, at_least, days} | "
                     "{all: [rules]} | {any: [rules]} | {not: rule} (docs/cdp.md)"},
    "AudienceDefinition": _obj(["app_id", "rule"], app_id=STRING, rule=_ref("AudienceRule")),
    "AudienceCreate": _obj(["name"], name=AUDIENCE_NAME_PARAM["schema"], description=STRING,
                           kind={"type": "string", "enum": ["static", "dynamic"]},
                           schedule={"type": ["string", "null"], "enum": ["hourly", "daily", "weekly", None]},
                           rule=_ref("AudienceDefinition"),
                           result={"type": "object", "description": "a POST /v1/query request with its `persons` cell selector"}),
    "AudienceSize": _obj(["created", "version", "size"], created=STRING, version=INTEGER, size=INTEGER),
    "Audience": _obj(["name", "description", "owner", "kind", "definition", "schedule", "created_at", "refreshed_at",
                      "last_error", "version", "size", "computed_at"],
                     name=STRING, description=STRING, owner=NULLABLE_STRING,
                     kind={"type": "string", "description": "static | dynamic (defined here); synced | rule | saved | chain (warehouse only)"},
                     definition={"type": ["object", "null"], "description": "{rule: AudienceDefinition} | {result: request}; null: synced"},
                     schedule=NULLABLE_STRING, created_at=NULLABLE_STRING, refreshed_at=NULLABLE_STRING,
                     last_error=NULLABLE_STRING, version=NULLABLE_INTEGER, size=NULLABLE_INTEGER, computed_at=NULLABLE_STRING,
                     size_history={"type": "array", "items": _ref("AudienceSize")}),
    "AudienceList": _obj(["audiences"], audiences={"type": "array", "items": _ref("Audience")}),
    "AudienceExport": {"oneOf": [_obj(["table"], table={"type": "string", "description": "[schema.]table in the push database"}),
                                 _obj(["format"], format={"type": "string", "enum": ["csv", "parquet"]})]},
    "AudienceExported": _obj(["audience", "version", "rows", "target"], audience=STRING, version=INTEGER, rows=INTEGER, target=STRING),
    "AudienceMembers": _obj(["name", "version", "limit", "offset", "members"], name=STRING, version=INTEGER, limit=INTEGER,
                            offset=INTEGER, members={"type": "array", "items": STRING}),
}  # fmt: skip
PAGE_PARAMS = [{"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 100}},
               {"name": "offset", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0, "default": 0}}]  # fmt: skip
PATHS |= {
    "/v1/audiences": {
        "get": _operation("Audiences: defined here, and synced ones (definition null), each with its current version and size",
                          ("200", "AudienceList")),
        "post": _operation("Define an audience (a rule, or a result's persons) and compute its first version; an unknown tag, "
                           "audience or event, or more persons than cdp_max_audience_persons, is refused naming it",
                           ("201", "Audience"), "AudienceCreate", errors=("400", "403", "409", "422")),
    },
    "/v1/audiences/{name}": {
        "get": _operation("One audience with its size history", ("200", "Audience"), params=[AUDIENCE_NAME_PARAM], errors=("404",)),
        "delete": _operation("Drop an audience's definition (owner or admin); its versions stay in the warehouse",
                             ("204", None), params=[AUDIENCE_NAME_PARAM], errors=("403", "404")),
    },
    "/v1/audiences/{name}/refresh": {"post": _operation(
        "Recompute a dynamic audience now (owner or admin): a new version, or the refusal (the previous version stays)",
        ("200", "Audience"), params=[AUDIENCE_NAME_PARAM], errors=("403", "404", "409", "422"))},
    "/v1/audiences/{name}/export": {"post": _operation(
        "Export the current version to a PostgreSQL table of the push database or a CSV/Parquet file (push files folder)",
        ("200", "AudienceExported"), "AudienceExport", params=[AUDIENCE_NAME_PARAM], errors=("400", "422"))},
    "/v1/audiences/{name}/members": {"get": _operation(
        "A page of the current version's OneIDs", ("200", "AudienceMembers"), params=[AUDIENCE_NAME_PARAM, *PAGE_PARAMS],
        errors=("404", "422"))},
}  # fmt: skip
