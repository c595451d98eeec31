"""`trackflow plan ...` and `trackflow quarantine ...`. Commands import their modules lazily so `trackflow --help`
stays fast."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from pipelines.cli_errors import fail
from pipelines.plan import MAX_DAYS

plan_app = typer.Typer(no_args_is_help=True, help="The tracking plan (点位仓库): validate, apply, show, health.")
quarantine_app = typer.Typer(no_args_is_help=True, help="Events held back by the tracking plan: list and replay.")
console = Console()

PLAN_DIR_HELP = "plan folder; default: the plan_dir setting"


def _plans(plan_dir: Path | None):
    from pipelines.config import get_settings
    from pipelines.plan.model import PlanError, load_plans, resolve_plan_dir

    folder = plan_dir or resolve_plan_dir(get_settings().plan_dir)
    try:
        return load_plans(folder)
    except PlanError as exc:
        fail(str(exc))


def _plan(app_id: str, plan_dir: Path | None):
    plans = _plans(plan_dir)
    if app_id not in plans:
        fail(f"no plan for app {app_id!r}; plans exist for: {', '.join(sorted(plans)) or 'none'}")
    return plans[app_id]


def _warehouse(role: str = "writer"):
    from pipelines.config import get_settings
    from pipelines.warehouse.client import Warehouse

    return Warehouse(get_settings(), role=role)


def _guard_warehouse(action):
    """Run `action`; turn an unreachable warehouse into one clear line instead of a stack trace."""
    from pipelines.warehouse.client import WarehouseUnavailable

    try:
        return action()
    except WarehouseUnavailable as exc:
        fail(str(exc))


@plan_app.command("validate")
def validate(plan_dir: Path = typer.Option(None, "--dir", help=PLAN_DIR_HELP)) -> None:
    """Check every plan file; exit 1 naming the file and field of the first problem."""
    for app_id, plan in sorted(_plans(plan_dir).items()):
        properties = sum(len(spec.properties) for spec in plan.events.values())
        console.print(f"{app_id}: version {plan.version}, {len(plan.events)} events, {properties} properties, policy {plan.policy.undeclared_events}/{plan.policy.undeclared_properties} — ok")


@plan_app.command("apply")
def apply(plan_dir: Path = typer.Option(None, "--dir", help=PLAN_DIR_HELP)) -> None:
    """Validate and sync the plans into the warehouse `tracking_plan` table (idempotent)."""
    from pipelines.plan.store import PlanConflict, apply_plan

    plans = _plans(plan_dir)
    warehouse = _warehouse()
    for app_id, plan in sorted(plans.items()):
        try:
            result = _guard_warehouse(lambda: apply_plan(warehouse, plan))
        except PlanConflict as exc:
            fail(str(exc))
        console.print(f"{app_id}: version {plan.version} {'applied' if result.applied else 'already applied'}")


@plan_app.command("show")
def show(
    app_id: str = typer.Argument(..., help="app whose plan to show"),
    plan_dir: Path = typer.Option(None, "--dir", help=PLAN_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Print an app's declared events and property schemas."""
    from pipelines.plan.model import plan_to_dict

    plan = _plan(app_id, plan_dir)
    if as_json:
        typer.echo(json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False))
        return
    console.print(f"{plan.app_id} plan version {plan.version} — undeclared events: {plan.policy.undeclared_events}, undeclared properties: {plan.policy.undeclared_properties}")
    table = Table("event", "property", "type", "required", "rules")
    for name, spec in sorted(plan.events.items()):
        table.add_row(name, "", "", "", spec.description)
        for prop in spec.properties:
            rules = ", ".join(
                f"{key}={value}" for key, value in (("enum", list(prop.enum) if prop.enum else None), ("min", prop.min), ("max", prop.max),
                                                    ("max_length", prop.max_length), ("pattern", prop.pattern)) if value is not None
            )
            table.add_row("", prop.name, prop.type, "yes" if prop.required else "", rules)
    console.print(table)


@plan_app.command("health")
def health(
    app_id: str = typer.Argument(..., help="app to report on"),
    days: int = typer.Option(7, min=1, max=MAX_DAYS, help="look-back window in days"),
    plan_dir: Path = typer.Option(None, "--dir", help=PLAN_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON (the API's shape)"),
) -> None:
    """Per declared event: last seen, volume, invalid rate, top violations; and undeclared events seen."""
    from pipelines.plan.health import tracking_health

    plan = _plan(app_id, plan_dir)
    warehouse = _warehouse("analyst")
    report = _guard_warehouse(lambda: tracking_health(warehouse, plan, days))
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    table = Table("event", "status", "last seen", "volume", "invalid", "invalid rate", "top violations")
    colours = {"ok": "green", "silent": "yellow", "unhealthy": "red"}
    for point in report["points"]:
        violations = ", ".join(f"{v['reason']} ({v['count']})" for v in point["top_violations"])
        table.add_row(point["event"], f"[{colours[point['status']]}]{point['status']}[/]", point["last_seen"] or "-", f"{point['volume']:,}",
                      f"{point['invalid']:,}", f"{point['invalid_rate']:.1%}", violations)
    console.print(f"{plan.app_id} plan v{plan.version}, last {days} days")
    console.print(table)
    for item in report["undeclared_events"]:
        console.print(f"[yellow]undeclared[/] {item['event']}: {item['volume']:,} accepted, {item['quarantined']:,} quarantined")


@plan_app.command("query")
def query(
    app_id: str = typer.Argument(..., help="app of the tracking point"),
    event: str = typer.Argument(..., help="declared event to analyse"),
    days: int = typer.Option(30, min=1, max=MAX_DAYS, help="days back"),
    run: bool = typer.Option(False, "--run", help="run it as the analyst user and print the rows"),
    plan_dir: Path = typer.Option(None, "--dir", help=PLAN_DIR_HELP),
) -> None:
    """Create the event-analysis query (daily events and people) for a declared tracking point."""
    from pipelines.plan.health import event_analysis_sql

    plan = _plan(app_id, plan_dir)
    try:
        sql, params = event_analysis_sql(plan, event, days)
    except KeyError as exc:
        fail(str(exc.args[0]))
    if not run:
        typer.echo(sql)
        typer.echo(f"-- parameters: {json.dumps(params)}")
        return
    from pipelines.config import get_settings
    from pipelines.warehouse.client import Warehouse

    rows = _guard_warehouse(lambda: Warehouse(get_settings(), role="analyst").rows(sql, params))
    table = Table("day", "events", "people")
    for day, events, people in rows:
        table.add_row(str(day), f"{events:,}", f"{people:,}")
    console.print(table)


@quarantine_app.command("list")
def quarantine_list(
    app_id: str = typer.Option(None, "--app", help="only this app"),
    status: str = typer.Option("quarantined", help="quarantined | replayed | all"),
    limit: int = typer.Option(50, help="rows to show"),
) -> None:
    """Show held events with their machine-readable reasons (the metrics job loads them from events.quarantine)."""
    from pipelines.plan.quarantine import list_held

    warehouse = _warehouse("analyst")
    held = _guard_warehouse(lambda: list_held(warehouse, app_id, None if status == "all" else status, limit))
    table = Table("quarantined at", "app", "event", "event_id", "status", "reasons")
    for item in held:
        reasons = "; ".join(f"{r['field']} {r['rule']}: {r['detail']}" for r in item.reasons)
        table.add_row(item.quarantined_at.isoformat(timespec="seconds"), item.app_id, item.event, item.event_id, item.status, reasons)
    console.print(table)


@quarantine_app.command("replay")
def quarantine_replay(
    app_id: str = typer.Option(None, "--app", help="only this app"),
    dry_run: bool = typer.Option(False, "--dry-run", help="only count what would be replayed"),
    plan_dir: Path = typer.Option(None, "--dir", help=PLAN_DIR_HELP),
) -> None:
    """Re-validate held events against the current plan and send those that pass to events.raw, once."""
    from pipelines.config import get_settings
    from pipelines.plan.quarantine import replay
    from pipelines.plan.validate import PlanBook

    book = PlanBook(_plans(plan_dir))
    settings = get_settings()
    warehouse = _warehouse()
    result = _guard_warehouse(lambda: replay(settings, warehouse, book, app_id, dry_run))
    verb = "would replay" if dry_run else "replayed"
    console.print(f"checked {result.checked}, {verb} {result.replayed}, still invalid {result.still_invalid}")
