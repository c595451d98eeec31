"""Readies the push database on the PostgreSQL server (the stack's `prepare` for its postgres component)."""

from __future__ import annotations

from pipelines.config import Settings
from pipelines.push import state
from pipelines.push.connection import MAINTENANCE_DATABASE, connect


def prepare_push_database(settings: Settings) -> list[str]:
    """Create the push database and the chunk-state tables if missing (idempotent)."""
    done = []
    with connect(settings, MAINTENANCE_DATABASE) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (settings.push_database,)).fetchone()
        if not exists:
            from psycopg import sql

            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(settings.push_database)))
            done.append(f"created database {settings.push_database}")
    with connect(settings) as connection:
        state.ensure_schema(connection)
    return done
