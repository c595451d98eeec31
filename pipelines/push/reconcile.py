"""Reconciliation (对账) of one pushed partition: row count and an order-independent checksum of the pushed
columns, source (clean rows in the warehouse) against target. The checksum is the sum of a 60-bit slice of the
MD5 of each row's canonical text (the same text on both sides: numbers as integers, timestamps as epoch ms,
doubles in micro-units, NULL as \\N), so row order, chunking and parallelism do not change it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from pipelines.config import Settings
from pipelines.push import state
from pipelines.push.definitions import Column, Push
from pipelines.push.sql import day_bounds, source_checksum_sql, target_checksum_sql
from pipelines.push.writers import FileWriter, files_dir

NULL_TEXT = "\\N"


@dataclass(frozen=True)
class Reconciliation:
    source_rows: int
    target_rows: int
    source_checksum: str
    target_checksum: str
    rejected_rows: int

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows and self.source_checksum == self.target_checksum

    def summary(self) -> str:
        verdict = "match" if self.ok else "MISMATCH"
        return (
            f"{verdict}: source {self.source_rows:,} rows (checksum {self.source_checksum}), target {self.target_rows:,} "
            f"rows (checksum {self.target_checksum}), {self.rejected_rows:,} rejected"
        )


def source_side(push: Push, day: dt.date, warehouse) -> tuple[int, str]:
    start, end = day_bounds(push, day)
    count, checksum = warehouse.rows(source_checksum_sql(push), {"start": start, "end": end})[0]
    return int(count), str(checksum)


def postgres_side(push: Push, day: dt.date, connection) -> tuple[int, str]:
    count, checksum = connection.execute(target_checksum_sql(push), (day,)).fetchone()
    return int(count), str(checksum)


def _canonical(values, column: Column) -> list[str]:
    """Python twin of the SQL canonical text (sql._canonical_clickhouse / _canonical_postgres) for file targets."""
    import pandas as pd

    series = pd.Series(values)
    missing = series.isna()
    if column.type == "timestamptz":
        parsed = pd.to_datetime(series, utc=True)
        text = (parsed.astype("int64") // {"ns": 1_000_000, "us": 1_000, "ms": 1}[parsed.dt.unit]).astype(str)
    elif column.type == "double":
        text = series.map(lambda v: str(int(round(float(v) * 1_000_000))) if v == v and v is not None else NULL_TEXT)
    elif column.type == "boolean":
        text = series.map(lambda v: NULL_TEXT if v is None or v != v else str(int(v in (True, "true", "1", 1))))
    elif column.type in ("bigint", "integer"):
        text = series.map(lambda v: NULL_TEXT if v is None or v != v else str(int(v)))
    else:
        text = series.astype(str)
    return text.where(~missing, NULL_TEXT).tolist()


def files_side(push: Push, folder: Path) -> tuple[int, str]:
    """Count and checksum of the partition's files (Python: file targets are small departments' extracts)."""
    import pandas as pd

    files = sorted(folder.glob(f"part-*.{push.target.kind}"))
    if push.target.kind == "parquet":
        frames = [pd.read_parquet(f) for f in files]
    else:
        frames = [pd.read_csv(f, dtype=str, keep_default_na=False, na_values=[NULL_TEXT]) for f in files]
    if not frames:
        return 0, "0"
    frame = pd.concat(frames, ignore_index=True)
    texts = [_canonical(frame[c.name].tolist(), c) for c in push.source.columns]
    total = 0
    for row in zip(*texts):
        total += int(hashlib.md5("\x1f".join(row).encode()).hexdigest()[:15], 16)
    return len(frame), str(total)


def reconcile(settings: Settings, push: Push, day: dt.date, warehouse, connection, plans) -> Reconciliation:
    source_rows, source_checksum = source_side(push, day, warehouse)
    if push.target.kind == "postgres":
        target_rows, target_checksum = postgres_side(push, day, connection)
    else:
        target_rows, target_checksum = files_side(push, FileWriter.partition_folder(push, day, files_dir(settings)))
    result = Reconciliation(source_rows, target_rows, source_checksum, target_checksum, sum(p.dirty_rows for p in plans))
    state.record_reconciliation(connection, push.name, day, result)
    return result
