"""The materialized view that keeps a detail table's id strings in `person_strings` (sql/migrations/0080).

Its one definition is migration 0080's view over `dwd_default`; a layer table the dwd job makes (`dwd_<layer>`,
pipelines/streaming/writer.py) gets the same SELECT over its own name, so its persons are named from the kept
strings like dwd_default's instead of by the slower read of their events (pipelines/analysis/persons.py
named_cell_sql). The statement is read from the migration file, not copied: a later edit of the view there is a
new migration, and `MIGRATION` moves with it.
"""

from __future__ import annotations

import re
from functools import cache

from pipelines.warehouse.client import sql_dir
from pipelines.warehouse.migrate import Migration

MIGRATION = "0080_person_strings.sql"
TEMPLATE_TABLE = "dwd_default"
TABLE = "person_strings"
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


def view_name(table: str) -> str:
    return f"{TABLE}_of_{table}"


@cache
def _template_select() -> str:
    """The SELECT of migration 0080's view over dwd_default, comments left out."""
    path = sql_dir() / "migrations" / MIGRATION
    head = f"CREATE MATERIALIZED VIEW IF NOT EXISTS {view_name(TEMPLATE_TABLE)} TO {TABLE} AS\n"
    statements = [re.sub(r"(?m)^--[^\n]*\n", "", s).strip() for s in Migration(MIGRATION[:4], "person_strings", path).statements()]
    (view,) = [s for s in statements if s.startswith(head)]
    select = view.removeprefix(head)
    if select.count(f"\nFROM {TEMPLATE_TABLE}\n") != 1:
        raise ValueError(f"{MIGRATION}: the view reads `FROM {TEMPLATE_TABLE}` on a line of its own, once")
    return select


def select_of(table: str) -> str:
    """Migration 0080's SELECT of (hash, id) pairs over `table` instead of dwd_default."""
    if not _IDENTIFIER.fullmatch(table):
        raise ValueError(f"not a detail table name: {table!r}")
    return _template_select().replace(f"\nFROM {TEMPLATE_TABLE}\n", f"\nFROM {table}\n")


def view_ddl(table: str) -> str:
    """CREATE the view that writes every block inserted into `table` into person_strings (if it is not there)."""
    return f"CREATE MATERIALIZED VIEW IF NOT EXISTS {view_name(table)} TO {TABLE} AS\n{select_of(table)}"


def backfill_sql(table: str) -> str:
    """The rows `table` held before its view existed (duplicates of rows the view wrote are folded at merges)."""
    return f"INSERT INTO {TABLE} (hash, id)\n{select_of(table)}"
