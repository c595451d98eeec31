"""The workbench's metadata store: a database on the stack's PostgreSQL server (the push targets' server, or
TRACKFLOW_POSTGRES_URL), its ordered migrations (`sql/meta/NNNN_name.sql`, applied once each and recorded in
`schema_migrations`, as the warehouse's) and a small connection pool for the API."""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from pipelines.config import Settings
from pipelines.errors import ServiceUnavailable
from pipelines.push.connection import connect, ensure_database, server_url
from pipelines.warehouse.client import sql_dir
from pipelines.warehouse.migrate import Migration, MigrationError, discover, pending

LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
# Serialises concurrent migrators (two API processes starting at once): a transaction-scoped advisory lock.
MIGRATION_LOCK = 0x7472_6B66_6D65_7461  # "trkfmeta"


class MetaUnavailable(ServiceUnavailable):
    """The metadata store cannot be reached."""


def migrations() -> list[Migration]:
    return discover(sql_dir() / "meta")


def migrate(connection) -> list[Migration]:
    """Apply the pending migrations in one transaction (PostgreSQL's DDL is transactional: all or none of them, the
    ledger with them); returns those applied now."""
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        connection.execute(LEDGER_DDL)
        done = dict(connection.execute("SELECT version, checksum FROM schema_migrations").fetchall())
        todo = pending(migrations(), done)
        for migration in todo:
            for statement in migration.statements():
                try:
                    connection.execute(statement)
                except Exception as exc:
                    raise MigrationError(f"{migration.path.name}: {exc}") from None
            connection.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
    return todo


def prepare(settings: Settings) -> list[str]:
    """Create the metadata database if missing and migrate it (idempotent): the stack's postgres prepare step and
    `trackflow users`' first step."""
    done = [f"created database {settings.meta_database}"] if ensure_database(settings, settings.meta_database) else []
    with connect(settings, settings.meta_database) as connection:
        applied = migrate(connection)
    if applied:
        done.append(f"metadata store: applied {len(applied)} migration(s), now at {applied[-1].version}")
    return done


class MetaStore:
    """Pooled autocommit connections to the metadata database, opened on first use (the API starts, and serves
    analyses, while PostgreSQL is still away; workbench requests then answer 503)."""

    def __init__(self, settings: Settings, max_size: int = 8, timeout_s: float = 5.0):
        self.settings, self.max_size, self.timeout_s = settings, max_size, timeout_s
        self._pool = None
        self._lock = threading.Lock()

    def _opened(self):
        with self._lock:
            if self._pool is None:
                from psycopg_pool import ConnectionPool

                url = server_url(self.settings, self.settings.meta_database)
                self._pool = ConnectionPool(
                    url, min_size=0, max_size=self.max_size, timeout=self.timeout_s, open=True,
                    kwargs={"autocommit": True, "connect_timeout": max(1, int(self.timeout_s))},
                )  # fmt: skip
            return self._pool

    @contextlib.contextmanager
    def connection(self) -> Iterator:
        import psycopg
        from psycopg_pool import PoolTimeout

        try:
            with self._opened().connection() as connection:
                yield connection
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise MetaUnavailable(
                f"the metadata store (PostgreSQL database {self.settings.meta_database}) is not reachable "
                f"({str(exc).strip().splitlines()[-1] if str(exc).strip() else exc.__class__.__name__}); is the stack up?"
            ) from None

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
