"""`trackflow audiences list|create|refresh|export`: the audiences of pipelines/audiences/definitions.py from a terminal, with
the same checks and refusals as the API (one line naming the problem, exit 1). Commands import lazily."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from pipelines.cli_errors import fail

audiences_app = typer.Typer(no_args_is_help=True, help="Audiences defined in Trackflow: rules, saved results, exports.")
console = Console()


def _run(action):
    """action(connection, writer, reader, settings); refusals are one line."""
    from psycopg.errors import UndefinedTable

    from pipelines.audiences import definitions as audiences, export
    from pipelines.config import get_settings
    from pipelines.push.connection import connect
    from pipelines.warehouse.client import Warehouse

    settings = get_settings()
    writer, reader = Warehouse(settings), Warehouse(settings, role="analyst")
    with connect(settings, settings.meta_database) as connection:
        try:
            return action(connection, writer, reader, settings)
        except UndefinedTable:
            fail("the metadata store has no audiences table yet: `trackflow up` (or `trackflow api`) migrates it")
        except audiences.Invalid as exc:
            fail("; ".join(f"{e['field']}: {e['message']}" for e in exc.errors))
        except (audiences.NotFound, audiences.Conflict, audiences.Forbidden, export.ExportError) as exc:
            fail(str(exc))


def _json_file(path: Path, what: str) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        fail(f"{what} {path}: {exc}")
    if not isinstance(value, dict):
        fail(f"{what} {path}: a JSON object expected")
    return value


@audiences_app.command("list")
def list_audiences() -> None:
    """Every audience with its current version and size (defined here, and synced ones)."""
    from pipelines.audiences import definitions as audiences

    found = _run(lambda connection, writer, reader, settings: audiences.list_all(connection, reader))
    # The name is never cut: it is what a reader copies into the next command.
    table = Table(Column("name", no_wrap=True), "kind", "schedule", "size", "version", "computed", "owner", "last error")
    for a in found:
        table.add_row(*(escape(str(a[k] if a[k] is not None else "-")) for k in
                        ("name", "kind", "schedule", "size", "version", "computed_at", "owner", "last_error")))  # fmt: skip
    console.print(table)


@audiences_app.command("create")
def create(
    name: str = typer.Argument(..., help="lowercase letters, digits and _, starting with a letter"),
    rule: Path = typer.Option(None, "--rule", help='JSON file: {"app_id": ..., "rule": {...}} (docs/cdp.md)'),
    result: Path = typer.Option(None, "--result", help="JSON file: a /v1/query request with its `persons` cell"),
    schedule: str = typer.Option(None, help="hourly | daily | weekly: a dynamic audience recomputed on it (default: static)"),
    description: str = typer.Option("", help="what the audience is for"),
) -> None:
    """Define an audience and compute its first version (unknown names and too many persons are refused)."""
    from pipelines.audiences import definitions as audiences

    if (rule is None) == (result is None):
        fail("give --rule or --result")
    raw = {"name": name, "description": description, "kind": "dynamic" if schedule else "static", "schedule": schedule}
    raw |= {"rule": _json_file(rule, "--rule")} if rule else {"result": _json_file(result, "--result")}

    def work(connection, writer, reader, settings):
        body = audiences.parse_body(raw)
        return audiences.create(connection, writer, reader, body, audiences.CLI_OWNER, settings.cdp_max_audience_persons)

    made = _run(work)
    console.print(f"audience {escape(made['name'])}: version {made['version']}, {made['size']:,} persons ({made['kind']})")


@audiences_app.command("refresh")
def refresh(name: str = typer.Argument(..., help="a dynamic audience")) -> None:
    """Recompute a dynamic audience now (the previous version stays current when it is refused)."""
    from pipelines.audiences import definitions as audiences

    # The terminal acts as an admin: whoever runs the CLI has the stack's credentials already.
    done = _run(lambda connection, writer, reader, settings: audiences.refresh(
        connection, writer, reader, name, (audiences.CLI_OWNER, True), settings.cdp_max_audience_persons))  # fmt: skip
    console.print(f"audience {escape(name)}: version {done['version']}, {done['size']:,} persons")


@audiences_app.command("export")
def export_audience(
    name: str = typer.Argument(...),
    table: str = typer.Option(None, help="[schema.]table in the push database"),
    file_format: str = typer.Option(None, "--format", help="csv | parquet: a file under the push files folder"),
) -> None:
    """Export the current version to a PostgreSQL table or a file, for other departments."""
    from pipelines.audiences import export

    if (table is None) == (file_format is None):
        fail("give --table or --format")

    def work(connection, writer, reader, settings):
        if table is not None:
            return export.to_table(settings, writer, name, table)
        return export.to_file(settings, writer, name, file_format)

    done = _run(work)
    console.print(f"audience {escape(name)} version {done.version}: {done.rows:,} rows -> {escape(done.target)}")
