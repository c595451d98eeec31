"""Saved reports and dashboards in the metadata store: what a body may hold, who may read and change what, and
optimistic versions.

- Only the owner changes or deletes an item (PermissionDenied -> 403); an admin shares it read-only for everyone.
- A user reads their own items and shared ones; an admin reads all (to find what to share). Unreadable -> 404.
- A PUT names the version it read; a stale one is a Conflict (409), the stored item unchanged.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Annotated, Any

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints, ValidationError

from pipelines.analysis.api import Principal, validation_errors
from pipelines.analysis.request import QueryScope
from pipelines.analysis.runner import parse_request

MAX_ITEMS = 100  # reports on one dashboard
PRESETS = (
    "today", "yesterday", "last_7_days", "last_14_days", "last_30_days", "last_90_days", "last_180_days",
    "last_365_days", "this_month", "last_month",
)  # fmt: skip
DEFAULT_RANGE = {"preset": "last_30_days"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what _new_id makes; anything else is no item (and never reaches SQL)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Coordinate = Annotated[StrictInt, Field(ge=0, le=10_000)]
Extent = Annotated[StrictInt, Field(ge=1, le=10_000)]


class Invalid(ValueError):
    """A body with field errors (422)."""

    def __init__(self, errors: list[dict[str, str]]):
        super().__init__("invalid request")
        self.errors = errors


class NotFound(LookupError):
    pass


class PermissionDenied(PermissionError):
    pass


class Conflict(RuntimeError):
    pass


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReportBody(_Body):
    name: Name
    request: dict[str, Any]


class ReportChange(ReportBody):
    version: StrictInt


class DashboardBody(_Body):
    name: Name
    time_range: dict[str, Any] = Field(default_factory=lambda: dict(DEFAULT_RANGE))


class Item(_Body):
    report_id: Annotated[str, StringConstraints(pattern=f"^{ID.pattern}$")]
    x: Coordinate
    y: Coordinate
    w: Extent
    h: Extent


class DashboardChange(DashboardBody):
    items: list[Item] = Field(max_length=MAX_ITEMS)
    version: StrictInt


class Share(_Body):
    shared: StrictBool


def parsed(kind: type[_Body], body: dict) -> _Body:
    """The body as `kind`, its analysis request and time range checked too, or Invalid with every field error."""
    try:
        value = kind.model_validate(body)
    except ValidationError as exc:
        raise Invalid(validation_errors(exc)) from None
    errors = []
    if isinstance(value, ReportBody | DashboardBody) and _CONTROL.search(value.name):
        errors.append({"field": "name", "message": "no control characters (tabs, line breaks, ...)"})
    if isinstance(value, ReportBody):
        try:
            parse_request(value.request)
        except ValidationError as exc:
            errors += [{**e, "field": f"request.{e['field']}"} for e in validation_errors(exc)]
        if not errors and (where := _nul_at(value.request)) is not None:
            # PostgreSQL's jsonb holds no NUL character: refused here by name, not a 500 from the store.
            errors.append({"field": ".".join(["request", *where]), "message": "no NUL characters (\\u0000)"})
    if isinstance(value, DashboardBody):
        errors += time_range_errors(value.time_range)
    if errors:
        raise Invalid(errors)
    return value


def _nul_at(value: Any, path: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """The path of the first key or string holding a NUL character, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        here = (*path, str(key))
        if isinstance(key, str) and "\x00" in key:
            return here
        if (found := _nul_at(child, here)) is not None:
            return found
    return None


def time_range_errors(value: dict[str, Any]) -> list[dict[str, str]]:
    """{"preset": one of PRESETS} or {"from", "to"} read as an analysis request's date_from/date_to; either with an
    optional IANA "timezone"."""
    keys = set(value) - {"timezone"}
    if keys == {"preset"}:
        if value["preset"] not in PRESETS:
            return [{"field": "time_range.preset", "message": f"one of {', '.join(PRESETS)}"}]
        fixed = {"date_from": "2026-01-01", "date_to": "2026-01-02"}  # only the timezone is left to check
    elif keys == {"from", "to"}:
        fixed = {"date_from": value["from"], "date_to": value["to"]}
    else:
        return [{"field": "time_range", "message": 'either {"preset": ...} or {"from": ..., "to": ...} (and "timezone")'}]
    try:
        QueryScope.model_validate({"app_id": "-", "timezone": value.get("timezone", "UTC"), **fixed})
    except ValidationError as exc:
        renamed = {"date_from": "from", "date_to": "to"}
        return [{**e, "field": f"time_range.{renamed.get(e['field'], e['field'])}"} for e in validation_errors(exc)]
    return []


# -- the store ----------------------------------------------------------------------------------------------------
REPORT_COLUMNS = "id, name, model, request, owner, shared, version, created_at, updated_at"
DASHBOARD_COLUMNS = "id, name, owner, shared, version, time_range, created_at, updated_at"


def _new_id() -> str:
    return secrets.token_urlsafe(12)


def _iso(value: dt.datetime) -> str:
    return value.isoformat()


def _report(row) -> dict[str, Any]:
    id_, name, model, request, owner, shared, version, created, updated = row
    return {"id": id_, "name": name, "model": model, "request": request, "owner": owner, "shared": shared,
            "version": version, "created_at": _iso(created), "updated_at": _iso(updated)}  # fmt: skip


def _account(who: Principal) -> str:
    if who.username is None:
        raise PermissionDenied("saving reports and dashboards needs a user account: use a user's token (`trackflow users token`)")
    return who.username


def _readable(who: Principal) -> tuple[str, tuple]:
    """WHERE condition and its parameters for the items `who` may read."""
    if who.role == "admin":
        return "TRUE", ()
    return "(shared OR owner = %s)", (who.username or "",)


def not_found(kind: str, item_id: str) -> NotFound:
    shown = item_id if len(item_id) <= 64 else item_id[:63] + "…"  # an answer never echoes a long input back
    return NotFound(f"no {kind} {shown!r}")


def _owned_row(connection, table: str, item_id: str, who: Principal, lock: bool = False):
    """(owner, version) of an item the caller may change; NotFound / PermissionDenied otherwise. `table` is one of
    this module's two names, never input."""
    if not ID.fullmatch(item_id):
        raise not_found(table[:-1], item_id)
    where, params = _readable(who)
    row = connection.execute(
        f"SELECT owner, version FROM {table} WHERE id = %s AND {where}{' FOR UPDATE' if lock else ''}", (item_id, *params)
    ).fetchone()
    if row is None:
        raise not_found(table[:-1], item_id)
    if row[0] != who.username:
        raise PermissionDenied(f"only its owner ({row[0]}) changes this {table[:-1]}")
    return row


def list_reports(connection, who: Principal) -> list[dict]:
    where, params = _readable(who)
    rows = connection.execute(f"SELECT {REPORT_COLUMNS} FROM reports WHERE {where} ORDER BY updated_at DESC, id", params)
    return [_report(row) for row in rows.fetchall()]


def get_report(connection, report_id: str, who: Principal) -> dict:
    if not ID.fullmatch(report_id):
        raise not_found("report", report_id)
    where, params = _readable(who)
    row = connection.execute(f"SELECT {REPORT_COLUMNS} FROM reports WHERE id = %s AND {where}", (report_id, *params)).fetchone()
    if row is None:
        raise not_found("report", report_id)
    return _report(row)


def create_report(connection, body: ReportBody, who: Principal) -> dict:
    row = connection.execute(
        f"INSERT INTO reports (id, name, model, request, owner) VALUES (%s, %s, %s, %s, %s) RETURNING {REPORT_COLUMNS}",
        (_new_id(), body.name, body.request["model"], Jsonb(body.request), _account(who)),
    ).fetchone()
    return _report(row)


def change_report(connection, report_id: str, body: ReportChange, who: Principal) -> dict:
    with connection.transaction():
        _, version = _owned_row(connection, "reports", report_id, who, lock=True)
        if version != body.version:
            raise Conflict(f"report {report_id!r} is at version {version}, not {body.version}: reload it and redo the change")
        row = connection.execute(
            f"UPDATE reports SET name = %s, model = %s, request = %s, version = version + 1, updated_at = now() "
            f"WHERE id = %s RETURNING {REPORT_COLUMNS}",
            (body.name, body.request["model"], Jsonb(body.request), report_id),
        ).fetchone()
    return _report(row)


def delete_item(connection, table: str, item_id: str, who: Principal) -> None:
    with connection.transaction():
        _owned_row(connection, table, item_id, who, lock=True)
        connection.execute(f"DELETE FROM {table} WHERE id = %s", (item_id,))


def share_item(connection, table: str, item_id: str, shared: bool, who: Principal) -> None:
    """Admins only (the route checks the role); any item, whoever owns it."""
    if not ID.fullmatch(item_id) or connection.execute(
        f"UPDATE {table} SET shared = %s, updated_at = now() WHERE id = %s", (shared, item_id)
    ).rowcount == 0:
        raise not_found(table[:-1], item_id)


def _dashboards(connection, where: str, params: tuple) -> list[dict]:
    rows = connection.execute(
        f"SELECT {DASHBOARD_COLUMNS} FROM dashboards WHERE {where} ORDER BY updated_at DESC, id", params
    ).fetchall()
    items: dict[str, list] = {row[0]: [] for row in rows}
    if items:
        for dashboard_id, x, y, w, h, *report in connection.execute(
            "SELECT i.dashboard_id, i.x, i.y, i.w, i.h, "
            + ", ".join(f"r.{c.strip()}" for c in REPORT_COLUMNS.split(","))
            + " FROM dashboard_items i JOIN reports r ON r.id = i.report_id WHERE i.dashboard_id = ANY(%s) "
            "ORDER BY i.dashboard_id, i.position",
            (list(items),),
        ).fetchall():
            items[dashboard_id].append({"report_id": report[0], "x": x, "y": y, "w": w, "h": h, "report": _report(report)})
    return [
        {"id": id_, "name": name, "owner": owner, "shared": shared, "version": version, "time_range": time_range,
         "items": items[id_], "created_at": _iso(created), "updated_at": _iso(updated)}
        for id_, name, owner, shared, version, time_range, created, updated in rows
    ]  # fmt: skip


def list_dashboards(connection, who: Principal) -> list[dict]:
    where, params = _readable(who)
    return _dashboards(connection, where, params)


def get_dashboard(connection, dashboard_id: str, who: Principal) -> dict:
    if not ID.fullmatch(dashboard_id):
        raise not_found("dashboard", dashboard_id)
    where, params = _readable(who)
    found = _dashboards(connection, f"id = %s AND {where}", (dashboard_id, *params))
    if not found:
        raise not_found("dashboard", dashboard_id)
    return found[0]


def create_dashboard(connection, body: DashboardBody, who: Principal) -> dict:
    dashboard_id = _new_id()
    connection.execute(
        "INSERT INTO dashboards (id, name, owner, time_range) VALUES (%s, %s, %s, %s)",
        (dashboard_id, body.name, _account(who), Jsonb(body.time_range)),
    )
    return get_dashboard(connection, dashboard_id, who)


def change_dashboard(connection, dashboard_id: str, body: DashboardChange, who: Principal) -> dict:
    with connection.transaction():
        _, version = _owned_row(connection, "dashboards", dashboard_id, who, lock=True)
        if version != body.version:
            raise Conflict(f"dashboard {dashboard_id!r} is at version {version}, not {body.version}: reload it and redo the change")
        wanted = sorted({item.report_id for item in body.items})
        where, params = _readable(who)
        readable = {row[0] for row in connection.execute(
            f"SELECT id FROM reports WHERE id = ANY(%s) AND {where}", (wanted, *params)).fetchall()}  # fmt: skip
        missing = [
            {"field": f"items.{n}.report_id", "message": f"no report {item.report_id!r} you can read"}
            for n, item in enumerate(body.items)
            if item.report_id not in readable
        ]
        if missing:
            raise Invalid(missing)
        connection.execute(
            "UPDATE dashboards SET name = %s, time_range = %s, version = version + 1, updated_at = now() WHERE id = %s",
            (body.name, Jsonb(body.time_range), dashboard_id),
        )
        _replace_items(connection, dashboard_id, body.items)
    return get_dashboard(connection, dashboard_id, who)


def _replace_items(connection, dashboard_id: str, items: list[Item]) -> None:
    connection.execute("DELETE FROM dashboard_items WHERE dashboard_id = %s", (dashboard_id,))
    if items:
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO dashboard_items (dashboard_id, position, report_id, x, y, w, h) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [(dashboard_id, n, item.report_id, item.x, item.y, item.w, item.h) for n, item in enumerate(items)],
            )


def duplicate_dashboard(connection, dashboard_id: str, who: Principal) -> dict:
    """A copy owned by the caller (not shared, version 1) of a dashboard they can read, with the same reports."""
    source = get_dashboard(connection, dashboard_id, who)
    copy_id = _new_id()
    with connection.transaction():
        connection.execute(
            "INSERT INTO dashboards (id, name, owner, time_range) VALUES (%s, %s, %s, %s)",
            (copy_id, f"{source['name']} (copy)"[:200], _account(who), Jsonb(source["time_range"])),
        )
        _replace_items(connection, copy_id, [Item.model_validate({k: i[k] for k in ("report_id", "x", "y", "w", "h")}) for i in source["items"]])
    return get_dashboard(connection, copy_id, who)
