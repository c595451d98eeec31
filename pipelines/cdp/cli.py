"""`trackflow cdp sync|status|sources`: the CDP syncs of cdp.yaml from the command line (the same runs as the Dagster
assets of dagster_project/cdp.py, recorded in cdp_sync_runs)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipelines.cli_errors import fail, print_error

cdp_app = typer.Typer(no_args_is_help=True, help="CDP tags and audiences synced from outside systems (cdp.yaml).")
console = Console()


def _handles():
    from pipelines.config import get_settings
    from pipelines.warehouse.client import Warehouse

    settings = get_settings()
    return settings, Warehouse(settings), Warehouse(settings, role="analyst")


@cdp_app.command("sync")
def sync(source: str = typer.Option(None, "--source", help="sync only this source (default: every source in the file)")) -> None:
    """Run the sources now: read, map ids to OneIDs, write tags and new audience versions. Exits 1 if any failed."""
    from pipelines.cdp.sources import SourceError
    from pipelines.cdp.sync import run_source
    from pipelines.identity.rules import RulesError

    settings, writer, analyst = _handles()
    try:
        results = run_source(settings, writer, analyst, source)
    except (SourceError, RulesError) as exc:
        fail(str(exc))
    failed = [r for r in results if not r.ok]
    for result in results:
        if result.ok:
            console.print(escape(result.summary()), soft_wrap=True, highlight=False)
        else:
            print_error(result.summary(), label="failed")
    if failed:
        raise typer.Exit(1)


@cdp_app.command("status")
def status() -> None:
    """Each source's latest run, its last successful one, and the current audiences."""
    from pipelines.cdp import store
    from pipelines.cdp.sync import status as sync_status

    _, _, analyst = _handles()
    runs = Table("source", "latest run", "status", "rows", "unmapped", "last ok", "error")
    for row in sync_status(analyst):
        last_ok = row["last_ok"] if row["last_ok"] and row["last_ok"].year > 1970 else None
        runs.add_row(
            escape(row["source"]), f"{row['started']:%Y-%m-%d %H:%M:%S}", row["status"], f"{row['rows_read']:,}", f"{row['unmapped']:,}",
            f"{last_ok:%Y-%m-%d %H:%M:%S}" if last_ok else "never", escape(row["error"]),
        )  # fmt: skip
    console.print(runs)
    audiences = Table("audience", "version", "size", "kind", "source", "created")
    for item in store.audiences(analyst):
        audiences.add_row(escape(item["name"]), str(item["version"]), f"{item['size']:,}", item["kind"], escape(item["source"]), f"{item['created']:%Y-%m-%d %H:%M:%S}")
    console.print(audiences)


@cdp_app.command("sources")
def sources() -> None:
    """The sources of cdp.yaml: kind, person id type, mode, tags, audiences, schedule."""
    from pipelines.cdp.sources import SourceError, load_sources
    from pipelines.config import get_settings

    try:
        found = load_sources(get_settings().cdp_sources)
    except SourceError as exc:
        fail(str(exc))
    table = Table("source", "kind", "person", "mode", "tags", "audiences", "schedule")
    for s in found:
        table.add_row(
            s.name, s.kind, f"{s.person.column} ({s.person.id_type})", s.mode, ", ".join(t.name for t in s.tags) or "-",
            ", ".join(s.audiences) or "-", f"{s.schedule.cron} {s.schedule.timezone}",
        )  # fmt: skip
    console.print(table)
