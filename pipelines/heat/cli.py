"""`trackflow heat ...`: parse a query, print the heat ranking, grade tiers, import a ClickHouse query log.

Imports stay light at module level (the main CLI imports this module on every start); the parser, the warehouse
client and rich tables are imported inside the commands.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import typer

from pipelines.cli_errors import fail

app = typer.Typer(no_args_is_help=True, help="Query heat: what analysts use, graded hot/warm/cold.")


def _parameters(pairs: list[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator:
            raise typer.BadParameter(f"expected name=value, got {pair!r}")
        parameters[name] = value
    return parameters


@app.command("parse")
def parse_command(
    sql: str = typer.Argument(..., help="the ClickHouse SQL to analyse ('-' reads standard input)"),
    param: list[str] = typer.Option([], "--param", "-p", help="query parameter value, name=value (repeatable)"),
    schema: bool = typer.Option(False, "--schema", help="resolve columns with the warehouse's schema (needs the stack)"),
    database: str = typer.Option("", help="database for unqualified table names (default: the configured one)"),
    check: bool = typer.Option(False, "--check", help="also compare with the warehouse's EXPLAIN QUERY TREE (needs the stack)"),
) -> None:
    """Print what a query reads as JSON: tables, columns (db.table.column with roles), events, time range and
    anything it could not resolve. Exits 1 with the error position if the SQL does not parse; with --check, exits 2
    if the extraction differs from what ClickHouse's analyzer resolves."""
    import sys

    from pipelines.config import get_settings
    from pipelines.heat.catalog import Catalog
    from pipelines.heat.extract import ExtractionFailure, extract

    settings = get_settings()
    text = sys.stdin.read() if sql == "-" else sql
    catalog = Catalog(database or settings.clickhouse_database)
    analyst = None
    if schema or check:
        from pipelines.warehouse.client import Warehouse

        analyst = Warehouse(settings, role="analyst", database=database or None)
        catalog = Catalog.from_warehouse(analyst)
    parameters = _parameters(param)
    result = extract(text, parameters, catalog)
    output = result.as_json()
    if check and not isinstance(result, ExtractionFailure):
        from pipelines.heat.oracle import explain, warehouse_runner
        from pipelines.heat.scoring import predicted_sets

        reference = explain(warehouse_runner(analyst), text, parameters)
        got = predicted_sets(result)
        expected = {"tables": reference.tables, "columns": reference.columns, "events": reference.events}
        output["check"] = {
            name: {"missing": sorted(expected[name] - got[name]), "extra": sorted(got[name] - expected[name])}
            for name in expected
        }
    typer.echo(json.dumps(output, ensure_ascii=False, indent=2))
    if isinstance(result, ExtractionFailure):
        raise typer.Exit(1)
    if check and any(part["missing"] or part["extra"] for part in output["check"].values()):
        raise typer.Exit(2)


@app.command("report")
def report_command(
    kind: str = typer.Option("", help="only this kind: table, column or event"),
    limit: int = typer.Option(30, help="rows to show"),
    write: bool = typer.Option(False, "--write", help="also store the tiers in heat_tiers"),
    half_life: float = typer.Option(7.0, help="days after which a use counts half"),
) -> None:
    """Rank tables, columns and events by recency-weighted use, with their hot/warm/cold tier."""
    from rich.console import Console
    from rich.table import Table

    from pipelines.config import get_settings
    from pipelines.heat.grading import GradingPolicy, grade, write_tiers
    from pipelines.warehouse.client import Warehouse, WarehouseUnavailable

    policy = GradingPolicy(half_life_days=half_life)
    writer = Warehouse(get_settings())
    try:
        graded = grade(writer, policy)
    except WarehouseUnavailable as exc:
        fail(str(exc))
    shown = [g for g in graded if not kind or g.object_kind == kind][:limit]
    table = Table("tier", "kind", "object", "score", "queries", "users", "last used")
    colours = {"hot": "red", "warm": "yellow", "cold": "blue"}
    for g in shown:
        last = g.last_used.strftime("%Y-%m-%d %H:%M") if g.last_used else "-"
        table.add_row(f"[{colours[g.tier]}]{g.tier}[/]", g.object_kind, g.object, f"{g.score:.2f}", str(g.query_count), str(g.distinct_users), last)
    Console().print(table)
    Console().print(f"thresholds: hot >= {policy.hot_threshold}, warm >= {policy.warm_threshold}, half-life {policy.half_life_days} days")
    if write:
        typer.echo(f"{write_tiers(writer, graded, policy)} rows written to heat_tiers")


@app.command("import")
def import_command(
    hours: float = typer.Option(24.0, help="import queries from the last N hours"),
    table: str = typer.Option("system.query_log", help="query log table to read"),
    skip_user: list[str] = typer.Option([], help="users whose queries the platform already records"),
) -> None:
    """Import a ClickHouse query log (queries that bypassed the platform) into query_log / query_heat."""
    from pipelines.config import get_settings
    from pipelines.heat.catalog import Catalog
    from pipelines.heat.extract import Extractor
    from pipelines.heat.importer import import_query_log
    from pipelines.heat.recorder import HeatRecorder
    from pipelines.warehouse.client import Warehouse

    writer = Warehouse(get_settings())
    since = datetime.now(timezone.utc) - timedelta(hours=hours)
    try:
        recorder = HeatRecorder(writer, Extractor(Catalog.from_warehouse(writer)))
        count = import_query_log(writer, recorder, since, table=table, skip_users=tuple(skip_user))
    except Exception as exc:  # unreachable warehouse, missing log table (the embedded chDB has no system.query_log)
        fail(f"cannot import from {table}: {str(exc).splitlines()[0][:300]}")
    typer.echo(f"imported {count} queries ({recorder.parse_failures} did not parse)")
