"""Backfill loader: envelope events from a JSON-lines file (optionally gzip) straight into a detail table.

Each line is validated against the envelope contract; invalid lines are reported with their line number and
the offending field and set aside, verbatim, in a rejects file (with a sidecar of reasons) that loads like the
input once fixed. A file that cannot be read (not gzip, cut short) stops the load with `LoadError` saying how far
it got; what was loaded before stays. Rows go in chunks through the event index
(pipelines/warehouse/eventindex.py), as the dwd job writes them: an event whose event_id already has a row, from
this file, another file or the stream, in any detail table, is not written again, so loading a file twice (or a
file that overlaps what was streamed) adds nothing, however many inserts happened in between.
"""

from __future__ import annotations

import gzip
import json
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipelines.envelope import detail_row
from pipelines.identity.backfill import record_event_links
from pipelines.identity.rules import RulesError
from pipelines.warehouse.client import Warehouse
from pipelines.warehouse.eventindex import EventIndex

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


class LoadError(Exception):
    """The file itself cannot be read (as opposed to a line that is not a valid envelope)."""


@dataclass
class LoadReport:
    lines: int = 0
    written: int = 0  # events that got their row now
    duplicates: int = 0  # valid events not written: their event_id already had a row (or came twice)
    identity_links: int = 0  # link rows of the valid events written to oneid_edges (one per distinct link of a chunk)
    chunks: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)
    rejects: Path | None = None  # the invalid lines, verbatim; `<rejects>.reasons.tsv` says why, by input line


class _Rejects:
    """Invalid lines set aside as they come: the lines verbatim (fix and load that file), the reasons beside."""

    def __init__(self, path: Path | None):
        self.path, self._lines, self._reasons = path, None, None

    def add(self, number: int, raw: bytes, reason: str) -> None:
        if self.path is None:
            return
        if self._lines is None:
            self._lines = open(self.path, "wb")
            self._reasons = open(f"{self.path}.reasons.tsv", "w", encoding="utf-8")
            self._reasons.write("input_line\treason\n")
        self._lines.write(raw.rstrip(b"\r\n") + b"\n")
        self._reasons.write(f"{number}\t{reason}\n")

    def close(self) -> None:
        for handle in (self._lines, self._reasons):
            if handle is not None:
                handle.close()


def _lines(raw, gzipped: bool) -> Iterator[bytes]:
    source = gzip.GzipFile(fileobj=raw) if gzipped else raw
    try:
        yield from source
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise LoadError(f"not a readable {'gzip ' if gzipped else ''}file ({exc})") from None


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


def _chunks(raw_lines: Iterator[bytes], report: LoadReport, rejects: _Rejects, chunk_rows: int) -> Iterator[list[dict]]:
    events: list[dict] = []
    for number, raw in enumerate(raw_lines, start=1):
        report.lines = number
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
            event = validate_line(text)
        except (ValueError, UnicodeDecodeError) as exc:
            reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else str(exc)
            report.invalid.append((number, reason))
            rejects.add(number, raw, reason)
            continue
        events.append(event)
        if len(events) >= chunk_rows:
            yield events
            events = []
    if events:
        yield events


def default_rejects(path: Path) -> Path:
    """events.jsonl.gz -> events.rejected.jsonl, beside it."""
    name = path.name.removesuffix(".gz").removesuffix(".jsonl")
    return path.with_name(f"{name}.rejected.jsonl")


def load_file(
    path: str | Path,
    warehouse: Warehouse,
    table: str = "dwd_default",
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int, int], None] | None = None,
    rejects: str | Path | None = None,
) -> LoadReport:
    """Load one file; `progress(bytes read, total bytes)` is called after each chunk. Invalid lines go to
    `rejects` (created only if there are any)."""
    path = Path(path)
    tables = [name for (name,) in warehouse.rows("SELECT name FROM system.tables WHERE database = currentDatabase() AND startsWith(name, 'dwd_')")]
    if table not in tables:
        raise LoadError(f"no detail table {table}; there are: {', '.join(sorted(tables)) or 'none (run trackflow warehouse migrate)'}")
    total = path.stat().st_size
    report = LoadReport()
    index = EventIndex(warehouse)
    set_aside = _Rejects(Path(rejects) if rejects else None)
    with open(path, "rb") as raw:
        try:
            for events in _chunks(_lines(raw, path.suffix == ".gz"), report, set_aside, chunk_rows):
                result = index.write_once(table, events, detail_row)
                try:
                    report.identity_links += record_event_links(warehouse, events)  # for the OneID recompute (docs/oneid.md)
                except RulesError as exc:
                    raise LoadError(f"{exc}; the events of this chunk are loaded, their identity links are not: fix it and load again") from None
                report.written += len(result.written)
                report.duplicates += result.duplicates
                report.chunks += 1
                if progress:
                    progress(raw.tell(), total)
            index.flush()
        except LoadError as exc:
            raise LoadError(f"{path}: {exc} (after line {report.lines:,}; {report.written:,} events loaded before it)") from None
        finally:
            set_aside.close()
    if report.invalid and rejects:
        report.rejects = Path(rejects)
    if progress:
        progress(total, total)
    return report
