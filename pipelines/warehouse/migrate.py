"""Schema migrations: the ordered `sql/migrations/NNNN_name.sql` files, applied once each and recorded.

Each file holds one or more statements separated by `;` at the end of a line. Table names are unqualified: they
run in the configured database, which the runner creates first. An applied migration whose file later changes is
an error (write a new migration instead), so every warehouse that says it is at version N has the same schema.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pipelines.warehouse.client import Warehouse, sql_dir

MIGRATION_FILE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
_STATEMENT_END = re.compile(r";[ \t]*(?:--[^\n]*)?$", re.M)

LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version String,
    name String,
    checksum String,
    applied_at DateTime DEFAULT now()
) ENGINE = MergeTree ORDER BY version
"""


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text()

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def statements(self) -> list[str]:
        parts = _STATEMENT_END.split(self.text)
        return [part.strip() for part in parts if _strip_comments(part).strip()]


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def discover(folder: Path | None = None) -> list[Migration]:
    folder = folder or sql_dir() / "migrations"
    migrations = []
    for path in sorted(folder.glob("*.sql")):
        match = MIGRATION_FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNNN_lowercase_name.sql")
        migrations.append(Migration(match["version"], match["name"], path))
    versions = [m.version for m in migrations]
    duplicates = sorted({v for v in versions if versions.count(v) > 1})
    if duplicates:
        raise MigrationError(f"two migrations share version(s) {', '.join(duplicates)} in {folder}")
    return migrations


def pending(migrations: list[Migration], done: dict[str, str]) -> list[Migration]:
    """The migrations not in `done` (version -> checksum of what was applied), in order. An applied migration whose
    file changed since is an error (also for the workbench's metadata store, pipelines/workbench/store.py)."""
    todo = []
    for migration in migrations:
        if migration.version not in done:
            todo.append(migration)
        elif done[migration.version] != migration.checksum:
            raise MigrationError(f"migration {migration.path.name} changed after it was applied; add a new migration instead")
    return todo


def applied(warehouse: Warehouse) -> dict[str, str]:
    return dict(warehouse.rows("SELECT version, checksum FROM schema_migrations"))


def migrate(
    warehouse: Warehouse,
    folder: Path | None = None,
    progress: Callable[[Migration], None] | None = None,
) -> list[Migration]:
    """Apply pending migrations in order; returns those applied now. Safe to run again: it applies nothing."""
    bootstrap = Warehouse(warehouse.settings, role="writer", url=warehouse.url, database="default")
    bootstrap.command(f"CREATE DATABASE IF NOT EXISTS `{warehouse.database}`")
    bootstrap.close()

    warehouse.command(LEDGER_DDL)
    todo = pending(discover(folder), applied(warehouse))
    for migration in todo:
        if progress:
            progress(migration)
        for statement in migration.statements():
            try:
                warehouse.command(statement)
            except Exception as exc:
                raise MigrationError(f"{migration.path.name}: {exc}") from None
        warehouse.insert(
            "schema_migrations",
            [[migration.version, migration.name, migration.checksum]],
            column_names=["version", "name", "checksum"],
        )
    return todo
