"""`trackflow users ...` (workbench accounts) and `trackflow api` (the API server with the workbench). Commands
import their modules lazily so `trackflow --help` stays fast."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipelines.cli_errors import fail

users_app = typer.Typer(no_args_is_help=True, help="Workbench users: add, list, disable, API tokens, password reset.")
console = Console()


def _connection():
    """A connection to the metadata store, migrated first (so `users add` works on a fresh stack)."""
    from pipelines.config import get_settings
    from pipelines.push.connection import connect
    from pipelines.workbench.store import prepare

    settings = get_settings()
    prepare(settings)
    return connect(settings, settings.meta_database)


def _run(action):
    """Run action(connection); a UserError is one line and exit 1."""
    from pipelines.workbench.users import UserError

    with _connection() as connection:
        try:
            return action(connection)
        except UserError as exc:
            fail(str(exc))


def _password(from_stdin: bool) -> tuple[str, bool]:
    """(password, generated?)"""
    from pipelines.workbench.users import new_password

    if not from_stdin:
        return new_password(), True
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        fail("--password-stdin: no password on standard input")
    return line, False


@users_app.command("add")
def add(
    name: str = typer.Argument(..., help="user name: 1-64 of A-Z a-z 0-9 _ . @ -"),
    role: str = typer.Option("analyst", help="analyst | admin (admins edit the tracking plan and share dashboards)"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from standard input"),
) -> None:
    """Add a user. Without --password-stdin a password is generated and printed once."""
    from pipelines.workbench.users import UserError, add_user, check_name, check_role

    try:
        check_name(name)
        check_role(role)
    except UserError as exc:
        fail(str(exc))
    password, generated = _password(password_stdin)
    user = _run(lambda connection: add_user(connection, name, role, password))
    console.print(f"added {escape(user.username)} ({user.role})", highlight=False)
    if generated:
        console.print(f"password (shown once): {password}", highlight=False, soft_wrap=True)


@users_app.command("list")
def list_() -> None:
    """The users: name, role, disabled, created."""
    from pipelines.workbench.users import list_users

    table = Table("user", "role", "state", "created")
    for user in _run(list_users):
        table.add_row(escape(user.username), user.role, "disabled" if user.disabled else "active", user.created_at[:19])
    console.print(table)


@users_app.command("disable")
def disable(name: str = typer.Argument(..., help="user name")) -> None:
    """Disable a user: no sign-in; their sessions end and their API tokens stop working."""
    from pipelines.workbench.users import disable_user

    _run(lambda connection: disable_user(connection, name))
    console.print(f"disabled {escape(name)}", highlight=False)


@users_app.command("token")
def token(name: str = typer.Argument(..., help="user name")) -> None:
    """Print a new API token for the user once (only its hash is kept); it acts with the user's role."""
    from pipelines.workbench.users import new_token

    console.print(_run(lambda connection: new_token(connection, name)), highlight=False, soft_wrap=True)


@users_app.command("password")
def password(
    name: str = typer.Argument(..., help="user name"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read the new password from standard input"),
) -> None:
    """Set a new password (generated and printed once without --password-stdin); the user's sessions end."""
    from pipelines.workbench.users import set_password

    value, generated = _password(password_stdin)
    _run(lambda connection: set_password(connection, name, value))
    console.print(f"new password for {escape(name)}" + (f" (shown once): {value}" if generated else " set"), highlight=False, soft_wrap=True)


def first_admin() -> None:
    """`make demo`: create the user `admin` when there is no user yet, printing its password once."""
    from pipelines.workbench.users import add_user, any_user, new_password

    def create(connection):
        if any_user(connection):
            return None
        secret = new_password()
        add_user(connection, "admin", "admin", secret)
        return secret

    secret = _run(create)
    if secret is None:
        console.print("workbench users exist already (`trackflow users list`)", highlight=False)
        return
    console.print(f"workbench admin: user admin, password (shown once): {secret}", highlight=False, soft_wrap=True)
    console.print("lost it? `trackflow users password admin` sets a new one", highlight=False)


users_app.command("first-admin")(first_admin)


def serve_api(
    host: str = typer.Option(None, help="interface to bind; default: the api_host setting (127.0.0.1)"),
    port: int = typer.Option(None, help="port; default: the api_port setting (8600)"),
) -> None:
    """Serve the analysis API and the workbench (POST /v1/query, the web app at /, OpenAPI at /openapi.json)."""
    import uvicorn

    from pipelines.analysis.api import ApiSettings
    from pipelines.config import get_settings
    from pipelines.workbench.app import create_app

    settings = get_settings()
    host = host or settings.api_host
    port = settings.api_port if port is None else port
    app = create_app(settings, ApiSettings())
    console.print(f"API and workbench on http://{host}:{port}/  (token file: {escape(app.state.token_source)})", highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="warning")
