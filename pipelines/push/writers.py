"""Writers: one chunk of clean rows from the warehouse into a target, idempotently.

- PostgreSQL: DELETE the chunk's previous rows, COPY the new ones (CSV straight from the warehouse), and mark the
  chunk done - one transaction. Upsert mode COPYs into a temporary table and merges with ON CONFLICT.
- Parquet/CSV folders: the warehouse renders the file, written under a temporary name and renamed into place;
  writing the same chunk again replaces the file whole.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pipelines.config import Settings
from pipelines.push import state
from pipelines.push.definitions import Push
from pipelines.push.sql import PUSH_CHUNK, PUSH_DATE, day_bounds, rejects_sql, rows_sql, target_columns
from pipelines.push.throttle import Throttle

BLOCK_BYTES = 1 << 20
FILE_FORMATS = {"parquet": "Parquet", "csv": "CSVWithNames"}
# Warehouse output settings the files and COPY rely on: NULL as \N.
CSV_SETTINGS = {"format_csv_null_representation": "\\N", "output_format_csv_crlf_end_of_line": 0}
TSV_SETTINGS = {"format_tsv_null_representation": "\\N"}


@dataclass
class ChunkContext:
    """What a writer needs for one chunk; `heartbeat` keeps the chunk's lock alive during long copies."""

    push: Push
    day: dt.date
    chunk: int
    run_id: str
    owner: str
    warehouse: object
    throttle: Throttle
    heartbeat: Callable[[], None]
    on_rows: Callable[[int], None]

    @property
    def parameters(self) -> dict:
        start, end = day_bounds(self.push, self.day)
        return {"start": start, "end": end, "chunk": self.chunk, "day": self.day}


def query_blocks(warehouse, sql: str, parameters: dict, fmt: str, settings: dict | None = None, block_bytes: int = BLOCK_BYTES):
    """A warehouse query's output rendered as `fmt` by the warehouse, in blocks of bytes (no row passes through
    Python): what a push chunk and an audience export (pipelines/audiences/export.py) stream into COPY or a file."""
    stream = warehouse.client().raw_stream(sql, parameters=parameters, fmt=fmt, settings=settings)
    with stream:
        while block := stream.read(block_bytes):
            yield block


def copy_blocks(cursor, table: str, columns: list[str], blocks) -> int:
    """COPY TabSeparated blocks (PostgreSQL's text format too: backslash escapes, \\N for NULL) into `table`, a
    name the caller validated or quoted; returns the rows copied."""
    column_list = ", ".join(f'"{c}"' for c in columns)
    with cursor.copy(f"COPY {table} ({column_list}) FROM STDIN (FORMAT text)") as copy:
        for block in blocks:
            copy.write(block)
    return cursor.rowcount


def stream_blocks(context: ChunkContext, sql: str, fmt: str, settings: dict | None = None, count_rows: bool = True):
    """The query's output in blocks, throttled by rows (counted as lines: a close estimate for throttling)."""
    last_beat = time.monotonic()
    # Throttled: blocks of about a second's rows (~64 bytes a row or more), so progress and pacing stay smooth.
    rate = context.throttle.rows_per_s
    block_bytes = min(BLOCK_BYTES, max(4096, rate * 64)) if rate else BLOCK_BYTES
    for block in query_blocks(context.warehouse, sql, context.parameters, fmt, settings, block_bytes):
        if count_rows:
            lines = block.count(b"\n")
            context.throttle.take(lines)
            context.on_rows(lines)
        if time.monotonic() - last_beat > 10:
            context.heartbeat()
            last_beat = time.monotonic()
        yield block


def write_atomically(path: Path, blocks) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(temporary, "wb") as out:
            for block in blocks:
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_rejects(context: ChunkContext, folder: Path, whole_partition: bool = False) -> Path:
    """The chunk's dirty rows (source values as text, with the reason) as a CSV file."""
    name = "rejects-all.csv" if whole_partition else f"rejects-{context.chunk:04d}.csv"
    path = folder / name
    write_atomically(path, stream_blocks(context, rejects_sql(context.push, whole_partition), "CSVWithNames", count_rows=False))
    return path


class PostgresWriter:
    def __init__(self, connection):
        self.connection = connection  # each chunk is one explicit transaction

    def write(self, context: ChunkContext) -> int:
        push, table = context.push, context.push.target.table
        columns = target_columns(push, with_push_columns=True)
        column_list = ", ".join(f'"{c}"' for c in columns)
        # TabSeparated is PostgreSQL's COPY text format too: cheaper to parse than CSV.
        blocks = stream_blocks(context, rows_sql(push, with_push_columns=True), "TabSeparated", TSV_SETTINGS)
        with self.connection.transaction(), self.connection.cursor() as cursor:
            state.data_lock(cursor, push.name, context.day, context.chunk)
            if push.write_mode == "replace":
                cursor.execute(f"DELETE FROM {table} WHERE {PUSH_DATE} = %s AND {PUSH_CHUNK} = %s", (context.day, context.chunk))
                copy_into = table
            else:
                cursor.execute(f"CREATE TEMP TABLE push_stage (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP")
                copy_into = "push_stage"
            written = copy_blocks(cursor, copy_into, columns, blocks)
            if push.write_mode == "upsert":
                keys = ", ".join(f'"{k}"' for k in push.key)
                updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in columns if c not in push.key)
                cursor.execute(
                    f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM push_stage "
                    f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"
                )
            state.mark_done(cursor, push.name, context.day, context.chunk, context.owner, written, context.run_id)
        return written


def files_dir(settings: Settings) -> Path:
    """Where relative Parquet/CSV target folders live: the writer writes there, the reconciliation reads there."""
    return settings.push_files_dir if str(settings.push_files_dir) not in ("", ".") else settings.data_dir / "push" / "files"


class FileWriter:
    """Parquet or CSV files: <folder>/dt=<day>/part-<chunk>.<ext>; the chunk is marked done after the rename
    (a crash in between only means the rerun renames an identical file over it)."""

    def __init__(self, state_connection, files_dir: Path):
        self.state_connection = state_connection
        self.files_dir = files_dir

    @staticmethod
    def partition_folder(push: Push, day: dt.date, files_dir: Path) -> Path:
        folder = Path(push.target.folder)
        return (folder if folder.is_absolute() else files_dir / folder) / f"dt={day.isoformat()}"

    def chunk_path(self, context: ChunkContext) -> Path:
        extension = context.push.target.kind
        return self.partition_folder(context.push, context.day, self.files_dir) / f"part-{context.chunk:04d}.{extension}"

    def write(self, context: ChunkContext) -> int:
        path = self.chunk_path(context)
        sql = rows_sql(context.push, with_push_columns=False)
        fmt = FILE_FORMATS[context.push.target.kind]
        # Parquet is binary: throttle it by the chunk's planned rows up front rather than by lines.
        write_atomically(path, stream_blocks(context, sql, fmt, CSV_SETTINGS, count_rows=fmt != "Parquet"))
        written = count_file_rows(path)
        if fmt == "Parquet":
            context.throttle.take(written)
            context.on_rows(written)
        with self.state_connection.transaction(), self.state_connection.cursor() as cursor:
            state.mark_done(cursor, context.push.name, context.day, context.chunk, context.owner, written, context.run_id)
        return written


def count_file_rows(path: Path) -> int:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    import pyarrow.csv as pacsv

    return pacsv.read_csv(path).num_rows
