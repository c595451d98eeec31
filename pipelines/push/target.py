"""Readies the push database on the PostgreSQL server (the stack's `prepare` for its postgres component)."""

from __future__ import annotations

from pipelines.config import Settings
from pipelines.push import state
from pipelines.push.connection import connect, ensure_database


def prepare_push_database(settings: Settings) -> list[str]:
    """Create the push database and the chunk-state tables if missing (idempotent)."""
    done = [f"created database {settings.push_database}"] if ensure_database(settings, settings.push_database) else []
    with connect(settings) as connection:
        state.ensure_schema(connection)
    return done
