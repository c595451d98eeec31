"""`trackflow push list|run|backfill|status`: the offline pushes from the command line (the same runs as the
Dagster assets; `trackflow orchestrate` shows and runs them in the UI)."""

from __future__ import annotations

import datetime as dt

import typer
from rich.console import Console
from rich.table import Table

from pipelines.cli_errors import fail, print_error

push_app = typer.Typer(no_args_is_help=True, help="Offline pushes to departments' databases and files (pushes.yaml).")
console = Console()


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _push(name: str):
    from pipelines.push.definitions import PushDefinitionError, find_push

    try:
        return find_push(_pushes(), name)
    except PushDefinitionError as exc:
        fail(str(exc))


def _pushes():
    from pipelines.config import get_settings
    from pipelines.push.definitions import PushDefinitionError, load_pushes

    try:
        return load_pushes(get_settings().push_definitions)
    except PushDefinitionError as exc:
        fail(str(exc))


@push_app.command("list")
def push_list() -> None:
    """The defined pushes: source, target, chunking, limits, schedule and deadline."""
    table = Table("push", "department", "target", "mode", "chunks", "parallel", "rows/s", "dirty limit", "schedule", "deadline")
    for push in _pushes():
        target = push.target.table if push.target.kind == "postgres" else f"{push.target.kind}:{push.target.folder}"
        chunks = "24 by hour" if push.chunking.by == "hour" else f"{push.chunking.count} by {push.chunking.key}"
        table.add_row(
            push.name, push.department, target, push.write_mode, chunks, str(push.parallelism),
            f"{push.rows_per_s:,}" if push.rows_per_s else "-",
            f"{push.dirty.max_rows:,} / {push.dirty.max_percent}%",
            f"{push.schedule.cron} {push.schedule.timezone}", str(push.deadline or "-"),
        )  # fmt: skip
    console.print(table)


def _run_one(push, day: dt.date, warehouse) -> bool:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from pipelines.config import get_settings
    from pipelines.push.connection import TargetUnavailable
    from pipelines.push.runner import PushFailed, run_push
    from pipelines.warehouse.client import WarehouseUnavailable

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("rows {task.fields[rate]}"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(f"{push.name} {day}", total=None, rate="")

        def show(progress) -> None:
            bar.update(task, total=progress.planned_rows or None, completed=progress.rows_done, rate=f"{progress.rows_per_s:,.0f}/s")

        try:
            result = run_push(get_settings(), push, day, warehouse, on_progress=show)
        except (PushFailed, TargetUnavailable, WarehouseUnavailable) as exc:
            print_error(str(exc), label=f"{push.name} {day} failed")
            return False
    how = f"resumed {result.chunks_written} of {result.chunks} chunks" if result.resumed else f"{result.chunks} chunks"
    console.print(
        f"{push.name} {day}: {result.rows_written:,} rows in {result.seconds:.1f}s ({result.rows_per_s:,.0f} rows/s, {how}), "
        f"{result.rejected_rows:,} rejected; reconciliation {result.reconciliation.summary()}"
    )
    for path in result.reject_files:
        console.print(f"  rejected rows: {path}")
    if not result.reconciliation.ok:
        print_error("source and target disagree", label=f"{push.name} {day}")
    return result.reconciliation.ok


def _warehouse():
    from pipelines.config import get_settings
    from pipelines.warehouse.client import Warehouse

    return Warehouse(get_settings())


@push_app.command("run")
def push_run(
    name: str = typer.Argument(..., help="push name (see `trackflow push list`)"),
    date: str = typer.Option(..., "--date", help="partition day, YYYY-MM-DD (in the push's timezone)"),
) -> None:
    """Push one partition: resumes an interrupted run of it, else pushes it whole (replacing what was there)."""
    push = _push(name)
    if not _run_one(push, _day(date), _warehouse()):
        raise typer.Exit(1)


@push_app.command("backfill")
def push_backfill(
    name: str = typer.Argument(..., help="push name"),
    start: str = typer.Option(..., "--from", help="first day, YYYY-MM-DD"),
    end: str = typer.Option(..., "--to", help="last day (inclusive), YYYY-MM-DD"),
) -> None:
    """Push every partition from --from to --to, oldest first; stops at the first failure."""
    push = _push(name)
    first, last = _day(start), _day(end)
    if last < first:
        fail(f"--to {last} is before --from {first}")
    warehouse = _warehouse()
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    for number, day in enumerate(days, start=1):
        console.print(f"[{number}/{len(days)}]", end=" ")
        if not _run_one(push, day, warehouse):
            raise typer.Exit(1)


@push_app.command("status")
def push_status(days: int = typer.Option(3, help="how many recent partitions per push")) -> None:
    """Latest run of each push's recent partitions: state, rows, chunks, reconciliation, deadline forecast."""
    from pipelines.config import get_settings
    from pipelines.push import state
    from pipelines.push.connection import TargetUnavailable, connect
    from pipelines.push.deadline import forecast

    settings = get_settings()
    pushes = _pushes()
    now = dt.datetime.now(dt.timezone.utc)
    table = Table("push", "day", "run", "rows", "chunks done", "reconciled", "deadline", "forecast")
    try:
        with connect(settings) as connection:
            state.ensure_schema(connection)
            for push in pushes:
                recent = connection.execute(
                    f"SELECT DISTINCT day FROM {state.SCHEMA}.runs WHERE push = %s ORDER BY day DESC LIMIT %s", (push.name, days)
                ).fetchall()
                if not recent:
                    table.add_row(push.name, "-", "never run", "", "", "", str(push.deadline or "-"), "")
                for (day,) in recent:
                    run = connection.execute(
                        f"SELECT state, rows_done, planned_rows FROM {state.SCHEMA}.runs WHERE push = %s AND day = %s "
                        "ORDER BY started_at DESC LIMIT 1", (push.name, day),
                    ).fetchone()  # fmt: skip
                    chunks = state.chunk_rows(connection, push.name, day)
                    checked = connection.execute(
                        f"SELECT ok FROM {state.SCHEMA}.reconciliations WHERE push = %s AND day = %s ORDER BY checked_at DESC LIMIT 1",
                        (push.name, day),
                    ).fetchone()
                    outlook = forecast(push, connection, now, dt.timedelta(seconds=settings.push_alert_margin_s), day)
                    table.add_row(
                        push.name, str(day), run[0], f"{run[1]:,}/{run[2]:,}",
                        f"{sum(c.state == 'done' for c in chunks)}/{len(chunks)}",
                        "-" if checked is None else ("[green]ok[/]" if checked[0] else "[red]MISMATCH[/]"),
                        f"{push.deadline.due(day):%m-%d %H:%M %Z}" if push.deadline else "-",
                        f"[red]{outlook.level}[/] {outlook.message}" if outlook and outlook.level else "",
                    )  # fmt: skip
    except TargetUnavailable as exc:
        fail(str(exc))
    console.print(table)
