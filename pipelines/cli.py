"""The `trackflow` command line: stack control, configuration, warehouse and the demo job.

Capabilities add their own sub-commands as typer apps registered at the bottom of this module.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipelines.cli_errors import fail, print_error
from pipelines.config import Settings, config_file_path, get_settings, setting_sources
from pipelines.errors import ServiceUnavailable

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Trackflow: tracking events to analytics.")
config_app = typer.Typer(no_args_is_help=True, help="Show the effective configuration.")
warehouse_app = typer.Typer(no_args_is_help=True, help="Warehouse schema and data.")
demo_app = typer.Typer(no_args_is_help=True, help="The demo pipeline run and demo data.")
app.add_typer(config_app, name="config")
app.add_typer(warehouse_app, name="warehouse")
app.add_typer(demo_app, name="demo")

console = Console()


def _format_uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


# -- stack ----------------------------------------------------------------------------------------------------
@app.command()
def up(
    with_jobs: bool = typer.Option(False, "--with-jobs", help="also run the streaming jobs on a local MiniCluster"),
) -> None:
    """Start the local stack in the background: broker (creates the topics), warehouse (applies migrations),
    collector, and with --with-jobs the streaming jobs."""
    from pipelines.stack import Stack
    from pipelines.stack.manager import StackError

    settings = get_settings()
    try:
        Stack(settings).up(report=console.print)
    except StackError as exc:
        fail(str(exc))
    if with_jobs:  # after topics and schema: the jobs read the one and write the other
        from dataclasses import replace

        from pipelines.stack.components import JOBS

        try:
            Stack(settings, [replace(JOBS, enabled=lambda _: True)]).up(report=console.print)
        except StackError as exc:
            fail(str(exc))


@app.command()
def down() -> None:
    """Stop the local stack: the collector first, then the jobs once they have caught up with their input (at most
    TRACKFLOW_JOBS_DRAIN_TIMEOUT_S), then broker, warehouse and PostgreSQL."""
    from pipelines.stack import Stack

    Stack(get_settings()).down(report=console.print)


@app.command()
def status() -> None:
    """Health, URL, pid and uptime of each component, and why one is unhealthy (a broker that lost its topics, jobs
    reading an old broker, behind or stuck). Exits 1 if any is not healthy."""
    from pipelines.stack import Stack

    table = Table("component", "state", "url", "pid", "uptime")
    colours = {"healthy": "green", "external": "cyan", "stopped": "yellow", "off": "dim"}
    statuses = Stack(get_settings()).status(diagnose=True)
    for item in statuses:
        colour = colours.get(item.state, "red")
        table.add_row(item.name, f"[{colour}]{item.state}[/]", item.url, str(item.pid or "-"), _format_uptime(item.uptime_s))
    console.print(table)
    for item in statuses:
        if item.reason:  # one line each, never wrapped: operators grep these
            console.print(f"{item.name}: {escape(item.reason)}", soft_wrap=True, highlight=False)
    if any(item.state not in ("healthy", "external", "off") for item in statuses):
        raise typer.Exit(1)


@app.command()
def logs(
    component: str = typer.Argument(None, help="component name; all when omitted"),
    lines: int = typer.Option(40, "-n", help="lines to show from the end"),
    follow: bool = typer.Option(False, "-f", help="keep printing new lines"),
) -> None:
    """Show the logs of the stack's components."""
    from pipelines.stack import Stack

    stack = Stack(get_settings())
    names = [c.name for c in stack.components]
    if component and component not in names:
        fail(f"unknown component {component!r}; choose one of {', '.join(names)}")
    paths = [stack.log_file(name) for name in ([component] if component else names)]
    existing = [str(p) for p in paths if p.exists()]
    if not existing:
        fail("no logs yet; start the stack with `trackflow up`")
    command = ["tail", f"-n{lines}"] + (["-F"] if follow else []) + existing
    raise typer.Exit(subprocess.call(command))


# -- config ---------------------------------------------------------------------------------------------------
@config_app.command("show")
def config_show() -> None:
    """Print each effective setting, where it came from (env / toml / default), secrets (passwords, tokens) masked."""
    settings = Settings()
    origins = setting_sources(settings)
    table = Table("setting", "value", "source", "meaning")
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        secret = ("password" in name or "token" in name) and bool(value)
        shown = "********" if secret else str(value)
        table.add_row(f"TRACKFLOW_{name.upper()}", shown, origins[name], field.description or "")
    console.print(table)


# -- warehouse ------------------------------------------------------------------------------------------------
@warehouse_app.command("migrate")
def warehouse_migrate() -> None:
    """Apply pending schema migrations from sql/migrations (idempotent)."""
    from pipelines.warehouse.client import Warehouse, WarehouseUnavailable
    from pipelines.warehouse.migrate import MigrationError, migrate

    try:
        applied = migrate(Warehouse(get_settings()), progress=lambda m: console.print(f"applying {m.path.name}"))
    except (MigrationError, WarehouseUnavailable) as exc:
        fail(str(exc))
    console.print(f"{len(applied)} migration(s) applied" if applied else "schema is up to date")


# -- orchestration --------------------------------------------------------------------------------------------
@app.command()
def orchestrate(port: int = typer.Option(3000, help="Dagster webserver port")) -> None:
    """Run `dagster dev` on the Trackflow code location."""
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ)
    env.setdefault("DAGSTER_HOME", str((get_settings().data_dir / "dagster").resolve()))
    Path(env["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    # No target: from the repository root, pyproject.toml's [tool.dg] names the code location (`trackflow`), the same
    # one `dagster dev` and `dg dev` load there, so schedules and runs in DAGSTER_HOME belong to one location.
    command = [sys.executable, "-m", "dagster", "dev", "-p", str(port)]
    raise typer.Exit(subprocess.call(command, cwd=root, env=env))


# -- demo -----------------------------------------------------------------------------------------------------
@demo_app.command("run")
def demo_run(events: int = typer.Option(10_000, help="how many sample events to send through the pipeline")) -> None:
    """Send sample tracking events through Kafka into the warehouse and print a summary."""
    from pipelines.demo import run_demo

    started = time.perf_counter()
    summary = run_demo(get_settings(), events, report=console.print)
    table = Table("stage", "events")
    for stage, count in summary.items():
        table.add_row(stage, f"{count:,}")
    console.print(table)
    console.print(f"done in {time.perf_counter() - started:.1f}s")


# -- capability sub-commands (each capability owns a typer app in its own `cli` module) ------------------------
from pipelines.analysis import cli as analysis_cli  # noqa: E402  (commands import their heavy modules lazily)

app.command("query")(analysis_cli.query)
demo_app.command("generate")(analysis_cli.demo_generate)
warehouse_app.command("load")(analysis_cli.warehouse_load)

from pipelines.heat.cli import app as heat_app  # noqa: E402

app.add_typer(heat_app, name="heat")

from pipelines.collect.cli import collector_app  # noqa: E402  (typer apps only: their commands import lazily)

from pipelines.plan.cli import plan_app, quarantine_app  # noqa: E402

app.add_typer(collector_app, name="collector")
app.add_typer(plan_app, name="plan")
app.add_typer(quarantine_app, name="quarantine")

from pipelines.jobs_cli import app as jobs_app  # noqa: E402
from pipelines.layering.cli import app as layering_app  # noqa: E402

app.add_typer(jobs_app, name="jobs")
app.add_typer(layering_app, name="layering")

from pipelines.identity.cli import app as oneid_app  # noqa: E402

app.add_typer(oneid_app, name="oneid")

from pipelines.push.cli import push_app  # noqa: E402

app.add_typer(push_app, name="push")

from pipelines.workbench import cli as workbench_cli  # noqa: E402

app.command("api")(workbench_cli.serve_api)
app.add_typer(workbench_cli.users_app, name="users")

from pipelines.monitoring.cli import app as alerts_app  # noqa: E402

app.add_typer(alerts_app, name="alerts")

from pipelines.cdp.cli import cdp_app  # noqa: E402

app.add_typer(cdp_app, name="cdp")

from pipelines.audiences.cli import audiences_app  # noqa: E402

app.add_typer(audiences_app, name="audiences")


def main() -> None:
    """The `trackflow` command: a service that cannot be reached or a setting that does not parse ends it with one
    line saying which, not a traceback (commands that can say more catch it themselves)."""
    try:
        app()
    except Exception as exc:
        message = _known_failure(exc)
        if message is None:
            raise
        print_error(message)
        raise SystemExit(1) from None


def _known_failure(exc: Exception) -> str | None:
    if isinstance(exc, ServiceUnavailable):
        return str(exc)
    problems = None
    if isinstance(exc, SettingsError):  # a value that does not parse as its type (lists, dicts)
        problems = str(exc)
    elif isinstance(exc, ValidationError) and exc.title == Settings.__name__:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    if problems:
        return f"configuration: {problems} (from TRACKFLOW_* variables or {config_file_path()}; `trackflow config show` lists them)"
    kafka_errors = sys.modules.get("kafka.errors")  # loaded if the command used Kafka
    if kafka_errors and isinstance(exc, (kafka_errors.KafkaTimeoutError, kafka_errors.KafkaConnectionError)):
        from pipelines.messaging import bootstrap_servers

        return (
            f"Kafka at {bootstrap_servers(get_settings())} is not reachable or did not answer ({exc.__class__.__name__}); "
            "is the stack up? Run `trackflow up` or set TRACKFLOW_KAFKA_BOOTSTRAP."
        )
    return None


if __name__ == "__main__":
    main()
