"""Backfill loader: envelope events from a JSON-lines file (optionally gzip) straight into a detail table.

Each line is validated against the envelope contract; invalid lines are reported with their line number and
the offending field and skipped. Rows go in chunks, each with an insert deduplication token made from the
chunk's content, so loading the same file again adds nothing (the warehouse drops a block whose token it has
seen); ReplacingMergeTree on the event key is the second line of defence for re-deliveries across files.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipelines.envelope import DETAIL_COLUMNS, detail_row
from pipelines.warehouse.client import Warehouse

CHUNK_ROWS = 50_000
MIN_TS_MS = 946_684_800_000  # 2000-01-01: anything earlier is a unit mistake (seconds instead of milliseconds)
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01
PLATFORMS = ("web", "h5", "ios", "android", "miniprogram", "")


class EnvelopeIn(BaseModel):
    """The envelope contract (docs/shared DESIGN.md) as the loader checks it."""

    model_config = ConfigDict(extra="allow")

    event_id: uuid.UUID
    event: str = Field(min_length=1, max_length=200)
    app_id: str = Field(min_length=1, max_length=100)
    ts: int = Field(ge=MIN_TS_MS, le=MAX_TS_MS, description="client time, epoch milliseconds")
    ids: dict[str, str | int | None] = Field(default_factory=dict)
    session_id: str | None = None
    context: dict[str, Any] = Field(default_factory=dict)
    props: dict[str, Any] = Field(default_factory=dict)
    received_at: int | None = Field(None, ge=MIN_TS_MS, le=MAX_TS_MS)

    @field_validator("ids")
    @classmethod
    def _has_touchpoint(cls, ids: dict) -> dict:
        if not any(v not in (None, "") for v in ids.values()):
            raise ValueError("needs at least one touchpoint id")
        return ids

    @field_validator("context")
    @classmethod
    def _known_platform(cls, context: dict) -> dict:
        if context.get("platform", "") not in PLATFORMS:
            raise ValueError(f"platform must be one of {', '.join(p for p in PLATFORMS if p)}")
        return context


@dataclass
class LoadReport:
    lines: int = 0
    sent: int = 0  # rows sent; a re-load sends them again and the warehouse drops the duplicate blocks
    chunks: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)


def _open(path: Path):
    raw = open(path, "rb")
    if path.suffix == ".gz":
        return raw, io.TextIOWrapper(gzip.GzipFile(fileobj=raw), encoding="utf-8")
    return raw, io.TextIOWrapper(raw, encoding="utf-8")


def _problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "line"
    return f"{where}: {first['msg']}"


def validate_line(text: str) -> dict:
    """The envelope as a dict, or ValueError naming the offending field."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from None
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    try:
        EnvelopeIn.model_validate(document)
    except ValidationError as exc:
        raise ValueError(_problem(exc)) from None
    return document


def _chunks(text_lines: Iterator[str], report: LoadReport, chunk_rows: int) -> Iterator[tuple[list, str]]:
    rows, digest = [], hashlib.sha256()
    for number, text in enumerate(text_lines, start=1):
        report.lines = number
        if not text.strip():
            continue
        try:
            event = validate_line(text)
        except ValueError as exc:
            report.invalid.append((number, str(exc)))
            continue
        rows.append(detail_row(event))
        digest.update(text.strip().encode())
        if len(rows) >= chunk_rows:
            yield rows, digest.hexdigest()
            rows, digest = [], hashlib.sha256()
    if rows:
        yield rows, digest.hexdigest()


def load_file(
    path: str | Path,
    warehouse: Warehouse,
    table: str = "dwd_default",
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int, int], None] | None = None,
) -> LoadReport:
    """Load one file; `progress(bytes read, total bytes)` is called after each chunk."""
    path = Path(path)
    total = path.stat().st_size
    report = LoadReport()
    raw, text = _open(path)
    with raw, text:
        for rows, token in _chunks(text, report, chunk_rows):
            # Synchronous insert: async inserts are batched server-side and would not honour the token per chunk.
            settings = {"insert_deduplication_token": f"load-{token}", "insert_deduplicate": 1, "async_insert": 0}
            warehouse.insert(table, rows, DETAIL_COLUMNS, settings=settings)
            report.sent += len(rows)
            report.chunks += 1
            if progress:
                progress(raw.tell(), total)
    if progress:
        progress(total, total)
    return report
