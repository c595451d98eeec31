"""The CDP sync sources (`cdp.yaml`) and how each kind is read.

A source is configuration only: where its rows come from (a PostgreSQL query, a CSV/Parquet file, a warehouse SQL),
which column holds the person and of which id type, which columns are tags, which audiences its persons belong to,
full or incremental. A mistake is one line naming the source and the field, e.g.
`cdp.yaml: source 'insight' > person > column: ...` (validated with pydantic, as pushes.yaml).

Readers return the source's rows as a pandas frame of strings (NULL kept as None) plus, when the source names an
`updated` column, that column as UTC timestamps. They select only the columns the source declares, by validated
names; the watermark of an incremental run is passed as a parameter (or a quoted literal where PostgreSQL's COPY
takes none).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipelines.cdp.names import check_name
from pipelines.push.definitions import Schedule, _refuse_repeats, find_named, parse_named_list

NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")  # a source, tag or audience: Dagster asset names and query parameters
COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")  # a column of the source's rows, quoted where it is used


class SourceError(ValueError):
    """The sources file is missing or invalid, or a source cannot be read: the message names the source."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _column(value: str) -> str:
    if not COLUMN.match(value):
        raise ValueError(f"{value!r} is not a column name (letters, digits, _)")
    return value


def _name(value: str) -> str:
    if not NAME.match(value):
        raise ValueError(f"{value!r} is not a lower-case name (letters, digits, _; starting with a letter)")
    return value


class Postgres(Strict):
    query: str = Field(description="SELECT giving the rows; the declared columns are selected from it by name.")
    database: str = Field("", description="Database on the stack's PostgreSQL server (TRACKFLOW_POSTGRES_URL or the embedded one).")
    url_env: str = Field("", description="Environment variable holding a postgresql:// URL of another server (secrets stay out of this file).")

    @model_validator(mode="after")
    def _where(self):
        if bool(self.database) == bool(self.url_env):
            raise ValueError("give exactly one of `database` (on the stack's PostgreSQL) and `url_env`")
        return self


class File(Strict):
    path: str = Field(description="CSV or Parquet file; relative paths are relative to the sources file's folder.")
    format: Literal["csv", "parquet", ""] = Field("", description="Empty: from the file name's suffix.")

    @model_validator(mode="after")
    def _format(self):
        if not self.format and Path(self.path).suffix.lower() not in (".csv", ".parquet"):
            raise ValueError(f"cannot tell the format of {self.path!r}: name it .csv or .parquet, or set `format`")
        return self

    @property
    def kind(self) -> str:
        return self.format or Path(self.path).suffix.lower().lstrip(".")


class WarehouseSql(Strict):
    sql: str = Field(description="SELECT over the warehouse, run with the analyst's read-only role.")


class Person(Strict):
    column: str = Field(description="Column holding the person's id.")
    id_type: str = Field(description="Its id type: one of identity.yaml's id_types (user_id, phone_hash, device_id, ...) or oneid.")

    _column = field_validator("column")(_column)
    _type = field_validator("id_type")(_name)


class Tag(Strict):
    column: str
    tag: str = Field("", description="Tag name; empty: the column's name.")

    _column = field_validator("column")(_column)

    @model_validator(mode="after")
    def _tag_name(self):
        if not NAME.match(self.name):
            raise ValueError(f"tag name {self.name!r} is not a lower-case name: give `tag:` for column {self.column!r}")
        return self

    @property
    def name(self) -> str:
        return self.tag or self.column


class Source(Strict):
    name: str
    description: str = ""
    postgres: Postgres | None = None
    file: File | None = None
    warehouse: WarehouseSql | None = None
    person: Person
    mode: Literal["full", "incremental"] = Field(
        "full", description="full: the rows are the whole truth (tags they lack are deleted); incremental: rows changed since the last run."
    )
    updated: str = Field("", description="Column with the time each row changed: the tags' time, and the watermark of incremental runs.")
    tags: list[Tag] = Field(default_factory=list)
    audiences: list[str] = Field(default_factory=list, description="Audiences this source owns: each run writes a new version of each.")
    audience_column: str = Field("", description="Column naming the audience of a row's person; empty: every person is in the one audience.")
    schedule: Schedule = Schedule(cron="0 * * * *")
    freshness_hours: float = Field(26.0, gt=0, description="The freshness check fails when the last successful run is older.")

    _identifier = field_validator("name")(_name)
    _columns = field_validator("updated", "audience_column")(lambda value: _column(value) if value else value)

    @field_validator("tags", mode="before")
    @classmethod
    def _short_tags(cls, value):
        # `- tier` is short for `- {column: tier}`.
        return [{"column": item} if isinstance(item, str) else item for item in value or []]

    @field_validator("audiences")
    @classmethod
    def _audience_names(cls, value: list[str]) -> list[str]:
        for name in value:
            check_name(name)
        _refuse_repeats(value, "audiences")
        return value

    @model_validator(mode="after")
    def _consistent(self):
        kinds = [k for k in ("postgres", "file", "warehouse") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"give exactly one of postgres, file, warehouse (found {', '.join(kinds) or 'none'})")
        if not self.tags and not self.audiences:
            raise ValueError("the source gives neither tags nor audiences")
        _refuse_repeats([t.name for t in self.tags], "tag names")
        if self.mode == "incremental":
            if not self.updated:
                raise ValueError("mode incremental needs `updated`: the column whose newest value is the watermark")
            if self.audiences:
                raise ValueError("audiences are snapshots: a source with audiences runs in mode full")
        if self.audience_column and not self.audiences:
            raise ValueError("audience_column needs `audiences`: the names its values may take")
        if self.audiences and not self.audience_column and len(self.audiences) != 1:
            raise ValueError("several audiences need `audience_column` to say which one a row's person is in")
        return self

    @property
    def kind(self) -> str:
        return "postgres" if self.postgres else "file" if self.file else "warehouse"

    @property
    def columns(self) -> list[str]:
        """The columns read from the source: the person, the updated time, the tags, the audience."""
        named = [self.person.column, self.updated, *(t.column for t in self.tags), self.audience_column]
        return list(dict.fromkeys(c for c in named if c))


class SourcesFile(Strict):
    sources: list[Source]

    @field_validator("sources")
    @classmethod
    def _unique(cls, value: list[Source]) -> list[Source]:
        _refuse_repeats([s.name for s in value], "source names")
        return value


def parse_sources(text: str, origin: str = "cdp.yaml") -> list[Source]:
    return parse_named_list(text, origin, SourcesFile, "sources", "source", SourceError)


def load_sources(path: Path) -> list[Source]:
    if not path.exists():
        raise SourceError(f"CDP sources file {path} not found (set TRACKFLOW_CDP_SOURCES)")
    return parse_sources(path.read_text(), str(path))


def find_source(sources: list[Source], name: str) -> Source:
    return find_named(sources, name, "CDP source", SourceError)


# -- reading ---------------------------------------------------------------------------------------------------
def read_rows(source: Source, settings, analyst, base: Path, watermark: dt.datetime | None) -> pd.DataFrame:
    """The source's declared columns as strings (None for NULL), `updated` as UTC timestamps; only rows newer than
    `watermark` when one is given. Raises SourceError naming the source and what went wrong."""
    try:
        if source.postgres:
            frame = _read_postgres(source, settings, watermark)
        elif source.file:
            frame = _read_file(source, base)
        else:
            frame = _read_warehouse(source, analyst, watermark)
    except SourceError:
        raise
    except Exception as exc:  # a driver's or parser's error: its text is the reason, named with the source
        raise SourceError(f"source {source.name!r}: {_reason(exc)}") from None
    missing = [c for c in source.columns if c not in frame.columns]
    if missing:
        raise SourceError(f"source {source.name!r}: its rows lack column(s) {', '.join(missing)} (found: {', '.join(map(str, frame.columns))})")
    frame = frame[source.columns]
    if source.updated:
        try:
            frame[source.updated] = pd.to_datetime(frame[source.updated], utc=True, format="ISO8601")
        except (ValueError, TypeError) as exc:
            raise SourceError(f"source {source.name!r}: column {source.updated!r} is not a time: {exc}") from None
        if frame[source.updated].isna().any():
            raise SourceError(f"source {source.name!r}: column {source.updated!r} is empty in {int(frame[source.updated].isna().sum())} row(s)")
        if watermark is not None and source.file:  # the other kinds filter where they read
            frame = frame[frame[source.updated] > watermark]
    return frame


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or exc.__class__.__name__
    return text[:500]


def postgres_url(source: Source, settings) -> str:
    from pipelines.push.connection import server_url

    if source.postgres.url_env:
        url = os.environ.get(source.postgres.url_env, "")
        if not url:
            raise SourceError(f"source {source.name!r}: environment variable {source.postgres.url_env} is not set")
        return url
    return server_url(settings, source.postgres.database)


def postgres_copy_sql(source: Source, watermark: dt.datetime | None):
    """COPY of the declared columns, every value as text, NULL unquoted and values quoted (so an empty string and
    a NULL stay apart), times in UTC (the session's TimeZone)."""
    from psycopg import sql

    columns = sql.SQL(", ").join(
        sql.SQL("({})::timestamptz::text AS {}" if c == source.updated else "({})::text AS {}").format(sql.Identifier(c), sql.Identifier(c))
        for c in source.columns
    )
    where = sql.SQL("")
    if watermark is not None:
        # COPY takes no bind parameters: the watermark is a quoted literal of a timestamp we formatted ourselves.
        where = sql.SQL(" WHERE ({})::timestamptz > {}::timestamptz").format(sql.Identifier(source.updated), sql.Literal(watermark.isoformat()))
    return sql.SQL("COPY (SELECT {} FROM ({}) AS cdp_source{}) TO STDOUT (FORMAT csv, HEADER true, FORCE_QUOTE *)").format(
        columns, sql.SQL(source.postgres.query.strip().rstrip(";")), where
    )


def _read_postgres(source: Source, settings, watermark: dt.datetime | None) -> pd.DataFrame:
    import psycopg

    url = postgres_url(source, settings)
    try:
        connection = psycopg.connect(url, connect_timeout=10, autocommit=True, options="-c TimeZone=UTC")
    except psycopg.OperationalError as exc:
        where = re.sub(r"//[^@/]*@", "//", url)  # never the password
        raise SourceError(f"source {source.name!r}: PostgreSQL at {where} is not reachable ({_reason(exc)})") from None
    buffer = io.BytesIO()
    with connection, connection.cursor() as cursor:
        with cursor.copy(postgres_copy_sql(source, watermark)) as copy:
            for block in copy:
                buffer.write(block)
    return _csv_frame(buffer.getvalue(), null_unquoted=True)


def _csv_frame(data: bytes | str, null_unquoted: bool) -> pd.DataFrame:
    """CSV with every column as text. With `null_unquoted` (PostgreSQL's FORCE_QUOTE output) an unquoted empty
    field is NULL and a quoted one an empty string; in a plain file every empty field is NULL."""
    import pyarrow as pa
    from pyarrow import csv

    def opened():
        return pa.BufferReader(data) if isinstance(data, bytes) else data

    names = csv.open_csv(opened()).schema.names  # the header, to read every column as text
    table = csv.read_csv(
        opened(),
        convert_options=csv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            strings_can_be_null=True,
            quoted_strings_can_be_null=not null_unquoted,
            null_values=[""],
        ),
    )
    return table.to_pandas()  # string columns arrive as objects with None for NULL


def _read_file(source: Source, base: Path) -> pd.DataFrame:
    path = Path(source.file.path)
    path = path if path.is_absolute() else base / path
    if not path.exists():
        raise SourceError(f"source {source.name!r}: file {path} not found")
    if source.file.kind == "csv":
        return _csv_frame(str(path), null_unquoted=False)
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    frame = table.to_pandas()
    for column in frame.columns:
        if column != source.updated:
            frame[column] = frame[column].map(lambda v: None if v is None or (isinstance(v, float) and v != v) else str(v)).astype(object)
    return frame


def _read_warehouse(source: Source, analyst, watermark: dt.datetime | None) -> pd.DataFrame:
    columns = ", ".join(
        f"toString(`{c}`) AS `{c}`" if c != source.updated else f"formatDateTime(toDateTime64(`{c}`, 3, 'UTC'), '%Y-%m-%dT%H:%i:%S.%fZ') AS `{c}`"
        for c in source.columns
    )
    where, params = "", {}
    if watermark is not None:
        where, params = f" WHERE toDateTime64(`{source.updated}`, 3, 'UTC') > {{cdp_watermark:DateTime64(3, 'UTC')}}", {"cdp_watermark": watermark}
    frame = analyst.query_df(f"SELECT {columns} FROM ({source.warehouse.sql.strip().rstrip(';')}){where}", params)
    return frame.astype(object).where(frame.notna(), None)
