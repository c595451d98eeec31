"""Commands of the analysis capability, registered on the `trackflow` app by pipelines/cli.py:
`trackflow query`, `trackflow api`, `trackflow demo generate`, `trackflow warehouse load`.
Heavy imports happen inside the commands so the CLI starts fast."""

from __future__ import annotations

import csv
import json
import sys
import time
from enum import Enum
from pathlib import Path

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipelines.cli_errors import fail

console = Console()
err = Console(stderr=True)


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def _validation_message(exc) -> str:
    from pipelines.analysis.api import validation_errors

    return "; ".join(f"{e['field']}: {e['message']}" for e in validation_errors(exc))


def query(
    spec: str = typer.Option(..., "--spec", help="request JSON file, or - to read it from standard input"),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv"),
    timeout: float = typer.Option(30.0, help="per-query timeout in seconds"),
) -> None:
    """Run an analysis request (any registered model: docs/analysis.md) as the read-only analyst."""
    from pydantic import ValidationError

    from pipelines.analysis.person_filters import UnknownPersonNames
    from pipelines.analysis.runner import InvalidPattern, Limits, QueryTimeout, ResultTooLarge, run_query
    from pipelines.config import get_settings
    from pipelines.warehouse.client import Warehouse, WarehouseUnavailable

    source = "standard input" if spec == "-" else spec
    try:
        # orjson, as the API: a 5,000-digit number or deep nesting is a JSONDecodeError, not a ValueError/RecursionError.
        payload = orjson.loads(sys.stdin.read() if spec == "-" else Path(spec).read_bytes())
    except OSError as exc:
        fail(f"cannot read the request file {spec}: {exc.strerror}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        fail(f"{source}: not a JSON request ({getattr(exc, 'msg', 'not UTF-8 text')}{where})")
    from pipelines.heat.handoff import QueryHandoff

    settings = get_settings()
    analyst = Warehouse(settings, role="analyst")
    # Heat is parsed and written by a detached drain (pipelines/heat/handoff.py), not on this command's exit path.
    handoff = QueryHandoff(settings).attach(analyst)
    try:
        response = run_query(payload, analyst, Limits(timeout_s=timeout))
    except ValidationError as exc:
        fail(f"invalid request: {_validation_message(exc)}")
    except UnknownPersonNames as exc:
        fail(f"invalid request: {exc}")
    except (QueryTimeout, ResultTooLarge, InvalidPattern, WarehouseUnavailable) as exc:
        fail(str(exc))
    finally:
        handoff.close()
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(response, indent=2, ensure_ascii=False) + "\n")
    elif output is OutputFormat.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(response["columns"])
        writer.writerows(response["rows"])
    else:
        table = Table(*response["columns"], title=f"{response['model']} ({response['query_ms']} ms)")
        for row in response["rows"]:
            table.add_row(*("" if v is None else str(v) for v in row))
        console.print(table)
    if response.get("truncated") or response.get("previous_truncated"):
        err.print("[yellow]note:[/] more rows than max_rows: only the first are shown", soft_wrap=True)
    for warning in response.get("warnings", []):
        err.print(f"[yellow]warning:[/] {escape(warning['message'])} ({escape(', '.join(warning['fields']))})", soft_wrap=True)


def demo_generate(
    events: int = typer.Option(1_000_000, min=1, help="how many events"),
    persons: int = typer.Option(50_000, min=1, help="how many persons"),
    days: int = typer.Option(60, min=1, max=3650, help="days of history, ending today"),
    app_id: str = typer.Option("demo-shop", help="app id of the generated events"),
    seed: int = typer.Option(42, help="random seed (same seed, same data)"),
    out: Path = typer.Option(None, help="write envelopes to this .jsonl[.gz] instead of inserting"),
) -> None:
    """Generate a realistic multi-platform shop's events straight into the warehouse (or to a file)."""
    from rich.progress import Progress

    from pipelines.config import get_settings
    from pipelines.demogen import AlreadyGenerated, DemoSpec, generate_frame, insert_frame, write_jsonl
    from pipelines.warehouse.client import Warehouse, WarehouseUnavailable

    if not app_id.strip():
        fail("--app-id must not be empty")
    if out and not out.parent.is_dir():
        fail(f"--out {out}: directory {out.parent} does not exist")
    started = time.perf_counter()
    frame = generate_frame(DemoSpec(events=events, persons=persons, days=days, app_id=app_id, seed=seed))
    console.print(f"generated  {len(frame):,} events of {frame['oneid'].nunique():,} persons in {time.perf_counter() - started:.1f}s")
    if out:
        try:
            write_jsonl(frame, out)
        except OSError as exc:
            fail(f"--out {out}: {exc.strerror}")
        console.print(f"wrote      {escape(str(out))}")
        return
    try:
        warehouse = Warehouse(get_settings())
        with Progress(console=console) as progress:
            task = progress.add_task("inserting", total=len(frame))
            insert_frame(warehouse, frame, progress=lambda n: progress.advance(task, n))
    except (WarehouseUnavailable, AlreadyGenerated) as exc:
        fail(str(exc))
    console.print(f"done in {time.perf_counter() - started:.1f}s")


def warehouse_load(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="envelope events, one JSON object a line (.jsonl or .jsonl.gz)"),
    table: str = typer.Option("dwd_default", help="detail table to load into"),
    strict: bool = typer.Option(False, help="exit 1 when any line is invalid (they are skipped either way)"),
    rejects: Path = typer.Option(None, help="where invalid lines are set aside, verbatim [default: FILE's name .rejected.jsonl, beside it]"),
) -> None:
    """Load envelope events from a file into a detail table; re-loading the same file adds nothing."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from pipelines.backfill import LoadError, default_rejects, load_file
    from pipelines.config import get_settings
    from pipelines.warehouse.client import Warehouse, WarehouseUnavailable

    if not table.startswith("dwd_") or not table.replace("_", "").isalnum():
        fail(f"--table {table!r}: detail tables are named dwd_<layer>")
    started = time.perf_counter()
    columns = [*Progress.get_default_columns()[:1], BarColumn(), DownloadColumn(), TimeRemainingColumn()]
    try:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(f"loading {escape(file.name)}", total=file.stat().st_size)
            report = load_file(
                file, Warehouse(get_settings()), table=table, rejects=rejects or default_rejects(file),
                progress=lambda done, total: progress.update(task, completed=done),
            )  # fmt: skip
    except (WarehouseUnavailable, LoadError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write the rejects file {exc.filename}: {exc.strerror} (choose another with --rejects)")
    for line, problem in report.invalid[:20]:
        err.print(f"[yellow]line {line}:[/] {escape(problem)}", soft_wrap=True)
    if len(report.invalid) > 20:
        err.print(f"... and {len(report.invalid) - 20} more invalid lines")
    if report.rejects:
        rejects = escape(str(report.rejects))
        err.print(f"invalid lines set aside in {rejects} (reasons in {rejects}.reasons.tsv): fix them and load that file", soft_wrap=True)
    console.print(
        f"{report.written:,} events written in {report.chunks} chunk(s), {report.duplicates:,} already stored, "
        f"{len(report.invalid):,} invalid line(s) skipped, {report.identity_links:,} identity link(s) to oneid_edges "
        f"for the next `trackflow oneid recompute`, {time.perf_counter() - started:.1f}s"
    )
    if strict and report.invalid:
        raise typer.Exit(1)


