"""Audience exports for other departments, over the push machinery (pipelines/push/writers.py): the current version's
members rendered by the warehouse and streamed, without passing through Python row by row, into

- a PostgreSQL table in the push database (where the offline pushes deliver): `<schema>.<table>` with columns
  (audience, version, oneid), primary key (audience, oneid). One transaction deletes the audience's previous rows
  and COPYs the version's, so readers see the old export or the new one, never a mix; other audiences exported to
  the same table are left alone;
- a CSV or Parquet file under the push files folder (`audiences/<name>/v<version>.<ext>`), written under a temporary
  name and renamed into place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pipelines.cdp import store
from pipelines.cdp.names import check_name
from pipelines.config import Settings
from pipelines.push.connection import connect
from pipelines.push.writers import CSV_SETTINGS, FILE_FORMATS, TSV_SETTINGS, copy_blocks, files_dir, query_blocks, write_atomically

TABLE_NAME = re.compile(r"^(?:([a-z_][a-z0-9_]{0,62})\.)?([a-z_][a-z0-9_]{0,62})$")
COLUMNS = ["audience", "version", "oneid"]
MEMBERS_SQL = (
    "SELECT audience, version, oneid FROM cdp_audiences WHERE audience = {audience:String} AND version = {version:UInt64} "
    "ORDER BY oneid_hash"
)


class ExportError(ValueError):
    """A refused export (unknown audience, bad table name): the message names the problem."""


@dataclass(frozen=True)
class Exported:
    audience: str
    version: int
    rows: int
    target: str  # "postgres:<schema>.<table>" or the file's path

    def as_dict(self) -> dict:
        return {"audience": self.audience, "version": self.version, "rows": self.rows, "target": self.target}


def _version(reader, audience: str) -> int:
    try:
        check_name(audience)  # a chain's temporary audience is refused: person keys without OneIDs
    except ValueError as exc:
        raise ExportError(str(exc)) from None
    version = store.current_version(reader, audience)
    if version is None:
        raise ExportError(f"no audience {audience[:64]!r} in the warehouse")
    return version


def to_table(settings: Settings, reader, audience: str, table: str) -> Exported:
    """The audience's current version into `table` ("name" or "schema.name", lowercase) of the push database."""
    from psycopg import sql

    match = TABLE_NAME.match(table)
    if not match:
        raise ExportError(f"table {table[:100]!r} is not a lowercase [schema.]name of letters, digits and _")
    schema, name = match.group(1) or "public", match.group(2)
    version = _version(reader, audience)
    target = sql.Identifier(schema, name)
    blocks = query_blocks(reader, MEMBERS_SQL, {"audience": audience, "version": version}, "TabSeparated", TSV_SETTINGS)
    with connect(settings) as connection, connection.transaction(), connection.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        cursor.execute(
            sql.SQL("CREATE TABLE IF NOT EXISTS {} (audience text NOT NULL, version bigint NOT NULL, oneid text NOT NULL, "
                    "PRIMARY KEY (audience, oneid))").format(target)  # fmt: skip
        )
        cursor.execute(sql.SQL("DELETE FROM {} WHERE audience = %s").format(target), (audience,))
        rows = copy_blocks(cursor, target.as_string(cursor), COLUMNS, blocks)
    return Exported(audience, version, rows, f"postgres:{schema}.{name}")


def to_file(settings: Settings, reader, audience: str, kind: Literal["csv", "parquet"] = "csv") -> Exported:
    """The audience's current version as a file under the push files folder."""
    if kind not in FILE_FORMATS:
        raise ExportError(f"file format {kind!r} is unknown: csv or parquet")
    version = _version(reader, audience)
    path = Path(files_dir(settings)) / "audiences" / audience / f"v{version}.{kind}"
    parameters = {"audience": audience, "version": version}
    write_atomically(path, query_blocks(reader, MEMBERS_SQL, parameters, FILE_FORMATS[kind], CSV_SETTINGS))
    rows = int(reader.scalar("SELECT size FROM cdp_audience_versions WHERE audience = {audience:String} AND version = {version:UInt64}", parameters))
    return Exported(audience, version, rows, str(path))
