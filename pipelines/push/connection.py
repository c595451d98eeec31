"""Connections to the PostgreSQL server of the push targets (embedded, or `TRACKFLOW_POSTGRES_URL`)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from pipelines.config import Settings
from pipelines.errors import ServiceUnavailable

MAINTENANCE_DATABASE = "postgres"


class TargetUnavailable(ServiceUnavailable):
    """The PostgreSQL push target cannot be reached."""


def server_url(settings: Settings, database: str | None = None) -> str:
    """postgresql:// URL of the configured server, or of the embedded one at the port the stack recorded."""
    if settings.postgres_url:
        parts = urlsplit(settings.postgres_url)
    else:
        port_file = settings.state_dir / "postgres.port"
        port = int(port_file.read_text()) if port_file.exists() else settings.postgres_port
        password = settings.postgres_password.get_secret_value()
        parts = urlsplit(f"postgresql://postgres:{password}@127.0.0.1:{port}/")
    return urlunsplit(parts._replace(path="/" + (database or settings.push_database)))


def connect(settings: Settings, database: str | None = None, **options):
    """An autocommit connection: every multi-statement unit of work is an explicit `connection.transaction()`
    (a real BEGIN/COMMIT, never a savepoint inside some implicit transaction left open by a read)."""
    import psycopg

    url = server_url(settings, database)
    try:
        return psycopg.connect(url, connect_timeout=10, autocommit=True, **options)
    except psycopg.OperationalError as exc:
        where = urlsplit(url)._replace(netloc=urlsplit(url).hostname + ":" + str(urlsplit(url).port))
        raise TargetUnavailable(
            f"PostgreSQL at {urlunsplit(where)} is not reachable ({str(exc).strip().splitlines()[-1]}); is the stack "
            "up? Run `trackflow up` or set TRACKFLOW_POSTGRES_URL."
        ) from None


def ensure_database(settings: Settings, database: str) -> bool:
    """Create `database` on the server unless it exists (the push database, the workbench's metadata store);
    True if it was created now."""
    from psycopg import errors, sql

    with connect(settings, MAINTENANCE_DATABASE) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
            return False
        try:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        except errors.DuplicateDatabase:  # created by a concurrent caller between the check and here
            return False
    return True
