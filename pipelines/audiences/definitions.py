"""Audiences defined in Trackflow (issue 20 §3): a rule on tags and behaviour (rules.py), or the persons behind any
result cell (an analysis request with its `persons` selector, as POST /v1/query lists them:
pipelines/analysis/result_persons.py). The definition lives in
the workbench's metadata store (table `audiences`, sql/meta/0004); every computation writes a new version of the
members in the warehouse through store.write_members_from_sql, so members never pass through Python and a refused
or failed computation keeps the previous version current.

- static: computed once, at creation, and frozen (a refresh is refused); dynamic: recomputed on its schedule
  (hourly/daily/weekly, by Dagster: dagster_project/audiences.py) or on demand, each version's size kept
  (store.size_history).
- Refused with their names, before anything is written: a tag or audience the warehouse never had (checked as the
  analysis filters check them, person_filters.resolve), an event neither in the app's tracking plan nor seen in its
  events (names.py), an audience over cdp_max_audience_persons.
- Who: anyone signed in reads and exports; the owner (or an admin) refreshes and deletes.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from pipelines.analysis.api import validation_errors
from pipelines.analysis.person_filters import UnknownPersonNames, resolve
from pipelines.analysis.registry import MODELS
from pipelines.analysis.result_persons import FIELD, Invalid, save_result_persons, unknown_events
from pipelines.analysis.runner import prepare
from pipelines.audiences.rules import DAY_MS, KIND_TAGS, EventRule, Rule, RuleDefinition, compile_rule, leaves
from pipelines.cdp import store
from pipelines.cdp.names import AUDIENCE_NAME, is_temporary, reserved_message

SCHEDULES = {"hourly": dt.timedelta(hours=1), "daily": dt.timedelta(days=1), "weekly": dt.timedelta(days=7)}
CLI_OWNER = "cli"  # audiences made with `trackflow audiences create` (no user account behind them)
SCHEDULER = "dagster"  # who refreshes due audiences (as an admin may)
MAX_MEMBERS_PAGE = 10_000
COLUMNS = "name, description, owner, kind, definition, schedule, created_at, refreshed_at, last_error"


class NotFound(LookupError):
    pass


class Forbidden(PermissionError):
    pass


class Conflict(RuntimeError):
    pass


class AudienceBody(BaseModel):
    """What POST /v1/audiences takes: exactly one of `rule` and `result`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, StringConstraints(pattern=AUDIENCE_NAME.pattern)]
    description: Annotated[str, StringConstraints(max_length=1000)] = ""
    kind: Literal["static", "dynamic"] = "static"
    schedule: Literal["hourly", "daily", "weekly"] | None = None
    rule: RuleDefinition | None = None
    result: dict[str, Any] | None = Field(None, description="an analysis request with its `persons` cell selector")

    @model_validator(mode="after")
    def _consistent(self) -> "AudienceBody":
        if is_temporary(self.name):
            raise ValueError(f"name: {reserved_message(self.name)}")
        if (self.rule is None) == (self.result is None):
            raise ValueError("rule: give either `rule` (tags and behaviour) or `result` (a result's persons)")
        if self.kind == "dynamic" and self.schedule is None:
            raise ValueError("schedule: a dynamic audience needs a schedule (hourly, daily or weekly)")
        if self.kind == "static" and self.schedule is not None:
            raise ValueError("schedule: a static audience is frozen at creation: no schedule")
        return self

    def definition(self) -> dict[str, Any]:
        if self.rule is not None:
            return {"rule": self.rule.model_dump(mode="json", by_alias=True, exclude_defaults=False)}
        return {"result": self.result}


def _errors(exc: ValidationError) -> list[dict[str, str]]:
    """The API's field errors, without the rule kinds' union tags in the paths."""
    return [{**e, "field": ".".join(p for p in e["field"].split(".") if p not in KIND_TAGS)} for e in validation_errors(exc)]


def parse_body(raw: dict[str, Any]) -> AudienceBody:
    """The body, its rule checked, or Invalid with every field error (a result's request is checked against the
    warehouse when it is computed: its audience filters need their versions)."""
    try:
        return AudienceBody.model_validate(raw)
    except ValidationError as exc:
        raise Invalid(_errors(exc)) from None


class _RuleNames(BaseModel):
    """A rule seen by the unknown-name check (names.py): its app, and the longest event window as the range in which
    a property must have been seen."""

    app_id: str
    timezone: str = "UTC"
    date_from: dt.datetime
    date_to: dt.datetime
    rule: Rule


def check_rule(reader, definition: RuleDefinition, now: dt.datetime) -> RuleDefinition:
    """The definition with its audiences' current versions pinned, or Invalid naming every unknown tag and audience
    (as the analysis filters refuse them) and every event the app never heard of."""
    run = lambda query: reader.rows(query.sql, query.parameters)  # noqa: E731
    errors = []
    try:
        definition = resolve(definition, run)
    except UnknownPersonNames as exc:
        errors += [{**e, "field": f"rule.{e['field']}"} for e in exc.errors]
    days = max((leaf.days for leaf in leaves(definition.rule) if isinstance(leaf, EventRule)), default=0)
    if days:
        names = _RuleNames(app_id=definition.app_id, date_from=now - dt.timedelta(milliseconds=days * DAY_MS), date_to=now, rule=definition.rule)
        errors += unknown_events(reader, names, "rule.")
    if errors:
        raise Invalid(errors)
    return definition


def compute(writer, reader, name: str, definition: dict[str, Any], max_persons: int, now: dt.datetime | None = None) -> tuple[int, int]:
    """Writes a new version of audience `name` from its stored definition; returns (version, size)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if "rule" in definition:
        rule = check_rule(reader, RuleDefinition.model_validate(definition["rule"]), now)
        query = compile_rule(rule, now)
        return store.write_members_from_sql(writer, name, query.sql, query.parameters, "rule", f"rule@{now.isoformat()}", max_persons)
    return save_result(writer, reader, definition["result"], name, "saved", f"result:{definition['result'].get('model')}", max_persons)


def save_result(writer, analyst, request: dict[str, Any], audience: str, kind: str, source: str, max_persons: int) -> tuple[int, int]:
    """A new version of `audience` from a result cell given as JSON (a /v1/query request with its `persons`
    selector): prepared as the runner prepares it (Invalid naming each bad field, under `result.`), then
    result_persons.save_result_persons. Returns (version, size)."""
    try:
        parsed = prepare(request, analyst)
    except ValidationError as exc:
        raise Invalid([{**e, "field": f"{FIELD}.{e['field']}"} for e in validation_errors(exc)]) from None
    except UnknownPersonNames as exc:
        raise Invalid([{**e, "field": f"{FIELD}.{e['field']}"} for e in exc.errors]) from None
    return save_result_persons(writer, analyst, parsed, MODELS.of(parsed), audience, kind, source, max_persons)


# -- the metadata store ---------------------------------------------------------------------------------------------
def _row(row) -> dict[str, Any]:
    name, description, owner, kind, definition, schedule, created, refreshed, error = row
    return {"name": name, "description": description, "owner": owner, "kind": kind, "definition": definition,
            "schedule": schedule, "created_at": created.isoformat(), "refreshed_at": refreshed and refreshed.isoformat(),
            "last_error": error}  # fmt: skip


def _defined(connection, name: str, lock: bool = False) -> dict[str, Any]:
    row = connection.execute(f"SELECT {COLUMNS} FROM audiences WHERE name = %s{' FOR UPDATE' if lock else ''}", (name,)).fetchone()
    if row is None:
        raise NotFound(f"no audience {name[:64]!r} defined in Trackflow")
    return _row(row)


def _current(reader, name: str) -> dict[str, Any]:
    history = store.size_history(reader, name)
    created, version, size = history[-1] if history else (None, None, None)
    return {"version": version, "size": size, "computed_at": created and created.isoformat(),
            "size_history": [{"created": c.isoformat(), "version": v, "size": s} for c, v, s in history]}  # fmt: skip


def create(connection, writer, reader, body: AudienceBody, owner: str, max_persons: int) -> dict[str, Any]:
    """Defines the audience and computes its first version, or neither (a refusal keeps nothing)."""
    existing = store.current_version(reader, body.name)
    if connection.execute("SELECT 1 FROM audiences WHERE name = %s", (body.name,)).fetchone() or existing is not None:
        raise Conflict(f"audience {body.name!r} exists already")
    with connection.transaction():
        connection.execute(
            "INSERT INTO audiences (name, description, owner, kind, definition, schedule) VALUES (%s, %s, %s, %s, %s, %s)",
            (body.name, body.description, owner, body.kind, Jsonb(body.definition()), body.schedule),
        )
        try:
            compute(writer, reader, body.name, body.definition(), max_persons)
        except store.AudienceTooLarge as exc:
            raise Invalid([{"field": "rule" if body.rule is not None else "result", "message": str(exc)}]) from None
        connection.execute("UPDATE audiences SET refreshed_at = now() WHERE name = %s", (body.name,))
    return get(connection, reader, body.name)


def refresh(connection, writer, reader, name: str, who: tuple[str, bool], max_persons: int, now: dt.datetime | None = None) -> dict[str, Any]:
    """A new version of a dynamic audience. A refusal or failure is recorded in `last_error` and raised; the
    previous version stays current. `who` is (user name, is admin)."""
    found = _defined(connection, name)
    _may_change(found, who)
    if found["kind"] == "static":
        raise Conflict(f"audience {name!r} is static: frozen at creation (define a dynamic one to recompute it)")
    try:
        compute(writer, reader, name, found["definition"], max_persons, now)
    except (Invalid, store.AudienceTooLarge) as exc:
        connection.execute("UPDATE audiences SET last_error = %s WHERE name = %s", (str(exc)[:2000], name))
        if isinstance(exc, store.AudienceTooLarge):
            raise Invalid([{"field": "name", "message": str(exc)}]) from None
        raise
    connection.execute("UPDATE audiences SET refreshed_at = now(), last_error = NULL WHERE name = %s", (name,))
    return get(connection, reader, name)


def _may_change(found: dict[str, Any], who: tuple[str, bool]) -> None:
    username, admin = who
    if not admin and found["owner"] != username:
        raise Forbidden(f"only its owner ({found['owner']}) or an admin changes audience {found['name']!r}")


def delete(connection, name: str, who: tuple[str, bool]) -> None:
    """Drops the definition; the versions stay in the warehouse (a filter pinned to a version still reads them)."""
    with connection.transaction():
        _may_change(_defined(connection, name, lock=True), who)
        connection.execute("DELETE FROM audiences WHERE name = %s", (name,))


_UNDEFINED = {"description": "", "owner": None, "definition": None, "schedule": None, "created_at": None,
              "refreshed_at": None, "last_error": None}  # fmt: skip


def get(connection, reader, name: str) -> dict[str, Any]:
    """A defined audience, or one only in the warehouse (synced from outside: `definition` null), with its current
    version, size and size history."""
    current = _current(reader, name)
    try:
        return {**_defined(connection, name), **current}
    except NotFound:
        kind = next((a["kind"] for a in store.audiences(reader) if a["name"] == name), None) if current["version"] else None
        if kind is None:
            raise
        return {"name": name, **_UNDEFINED, "kind": kind, **current}


def list_all(connection, reader) -> list[dict[str, Any]]:
    """Every defined audience with its current version and size, then the warehouse's other audiences (synced from
    outside: `definition` null); chains' temporary audiences are left out."""
    defined = {row[0]: _row(row) for row in connection.execute(f"SELECT {COLUMNS} FROM audiences ORDER BY name").fetchall()}
    out = []
    for current in store.audiences(reader):
        if current["kind"] == "chain" and current["name"] not in defined:
            continue
        base = defined.pop(current["name"], None) or {"name": current["name"], **_UNDEFINED, "kind": current["kind"]}
        out.append({**base, "version": current["version"], "size": current["size"], "computed_at": current["created"].isoformat()})
    out += [{**row, "version": None, "size": None, "computed_at": None} for row in defined.values()]
    return sorted(out, key=lambda a: a["name"])


def members(reader, name: str, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """A page of the current version's OneIDs (ordered by their hash, so pages never overlap)."""
    if is_temporary(name):  # its rows hold person keys only: the cell's persons are listed by its step's query
        raise NotFound(f"{reserved_message(name)}; list a chain step's persons with its `persons` selector")
    version = store.current_version(reader, name)
    if version is None:
        raise NotFound(f"no audience {name[:64]!r}")
    rows = reader.rows(
        "SELECT oneid FROM cdp_audiences WHERE audience = {a:String} AND version = {v:UInt64} "
        "ORDER BY oneid_hash, oneid LIMIT {limit:UInt64} OFFSET {offset:UInt64}",
        {"a": name, "v": version, "limit": limit, "offset": offset},
    )
    return {"name": name, "version": version, "limit": limit, "offset": offset, "members": [row[0] for row in rows]}


def due(connection, now: dt.datetime | None = None) -> list[str]:
    """Dynamic audiences whose schedule says they are due (never computed, or last computed a period ago)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    rows = connection.execute("SELECT name, schedule, refreshed_at FROM audiences WHERE kind = 'dynamic' ORDER BY name").fetchall()
    return [name for name, schedule, refreshed in rows if refreshed is None or now - refreshed >= SCHEDULES[schedule] - dt.timedelta(minutes=5)]


def refresh_due(settings, writer, reader, now: dt.datetime | None = None) -> tuple[dict[str, int], dict[str, str]]:
    """Recomputes every due dynamic audience (the Dagster schedule's work, dagster_project/audiences.py): sizes of
    those refreshed, and the reasons of those refused or failed (each keeps its previous version)."""
    from pipelines.push.connection import connect

    done, failed = {}, {}
    with connect(settings, settings.meta_database) as connection:
        for name in due(connection, now):
            try:
                done[name] = refresh(connection, writer, reader, name, (SCHEDULER, True), settings.cdp_max_audience_persons)["size"]
            except (Invalid, Conflict, NotFound) as exc:
                failed[name] = str(exc)
    return done, failed
