"""The collector's journal: every record Kafka acknowledged, kept for a replay window.

A memory-only broker (the embedded one) that restarts comes back empty: records it acknowledged but the streaming
jobs had not yet written to the warehouse are gone from Kafka. The journal keeps them, so the sink can replay them
into the new broker (pipelines/collect/sink.py, "broker loss").

Layout: `<dir>/jrn-<n>.log` segments of frames in the spool's format (pipelines/collect/frames.py); an entry's
payload is its ack time (epoch ms, 8 bytes), the broker incarnation the collector believed current (2-byte length,
UTF-8), then the record's payload. One segment holds one incarnation only, so "what an earlier broker acknowledged"
is a set of whole segments. A segment is closed after `segment_bytes` or a quarter of the window, whichever comes
first, and a segment whose last write is older than the window is deleted. Above `max_bytes` the oldest segments
go even if still inside the window: that is logged and counted (`on_evicted`), never silent.

Durability, and why there is no fsync per request: the journal guards against the *broker* losing records, not
the disk. Each append is one unbuffered `os.write`, so an acknowledged record is in the OS page cache before its
client is answered, and the page cache survives a killed (even kill -9) collector process. Only a crash of the
whole machine can lose the last moments of the journal, and `sync()` (called every second by the sink) and every
rotation fsync it, which bounds that to about a second. An fsync per request would cost the collector a disk
flush on every acknowledgement (the spool pays that, but only while Kafka is away).

A reopened journal never appends to an existing segment: writing behind a torn tail would hide what follows.

Not thread-safe except `sync()`: the sink appends, expires and drops on its event loop; `sync()` runs on a worker
thread and only touches a duplicate of the open file descriptor.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipelines.collect.frames import Record, decode_record, frame, fsync_dir, read_frames, record_payload

log = logging.getLogger("trackflow.collector.journal")

_ENTRY = struct.Struct(">qH")
SEGMENT_BYTES = 64 << 20


@dataclass(frozen=True)
class Entry:
    acked_ms: int
    incarnation: str
    record: Record


@dataclass
class Segment:
    number: int
    path: Path
    incarnation: str
    size: int
    last_write_s: float  # epoch seconds of its last append (file mtime when found at start-up)
    opened_s: float


def encode_entry(record: Record, incarnation: bytes, acked_ms: int) -> bytes:
    return frame(_ENTRY.pack(acked_ms, len(incarnation)) + incarnation + record_payload(record))


def decode_entry(payload: bytes) -> Entry:
    acked_ms, incarnation_len = _ENTRY.unpack_from(payload, 0)
    record_start = _ENTRY.size + incarnation_len
    return Entry(acked_ms, payload[_ENTRY.size : record_start].decode(), decode_record(payload, record_start))


def read_entries(path: Path, offset: int, max_entries: int) -> tuple[list[Entry], int]:
    """Up to max_entries entries of one segment from `offset`, and the offset after them. A segment deleted
    meanwhile (expired, evicted) reads as empty."""
    entries: list[Entry] = []
    try:
        for payload, end in read_frames(path, offset):
            entries.append(decode_entry(payload))
            offset = end
            if len(entries) == max_entries:
                break
    except FileNotFoundError:
        pass
    return entries, offset


class Journal:
    def __init__(
        self,
        directory: Path,
        retention_s: float,
        max_bytes: int,
        segment_bytes: int = SEGMENT_BYTES,
        on_evicted: Callable[[int], None] = lambda segments: None,
        clock: Callable[[], float] = time.time,
    ):
        self.directory = directory
        self.retention_s = retention_s
        self.max_bytes = max_bytes
        # Several segments under the cap, so eviction drops a slice of the window rather than all of it.
        self.segment_bytes = max(1, min(segment_bytes, max_bytes // 4))
        self._on_evicted = on_evicted
        self._clock = clock
        directory.mkdir(parents=True, exist_ok=True)
        self.segments: list[Segment] = self._load()
        self._current: Segment | None = None
        self._fd: int | None = None
        self._fd_lock = threading.Lock()

    def _load(self) -> list[Segment]:
        segments = []
        for path in sorted(self.directory.glob("jrn-*.log")):
            first = next(read_frames(path), None)
            if first is None:  # empty, or only a torn first write: nothing in it was ever acknowledged
                path.unlink()
                continue
            stat = path.stat()
            segments.append(Segment(int(path.stem[4:]), path, decode_entry(first[0]).incarnation, stat.st_size, stat.st_mtime, stat.st_mtime))
        return segments

    # -- write ----------------------------------------------------------------------------------------------------
    def append(self, records: list[Record], incarnation: str, acked_ms: list[int] | None = None) -> None:
        """Journal records Kafka acknowledged under `incarnation` (no fsync: see the module docstring), as
        acknowledged now unless `acked_ms` gives each record's first acknowledgement (kept by a replay)."""
        if not records:
            return
        now = self._clock()
        label = incarnation.encode()
        if acked_ms is None:  # the request path: one time for all, as cheap as before replays kept theirs
            now_ms = int(now * 1000)
            data = b"".join(encode_entry(record, label, now_ms) for record in records)
        else:
            data = b"".join(encode_entry(record, label, at) for record, at in zip(records, acked_ms, strict=True))
        current = self._current
        if (
            current is None
            or current.incarnation != incarnation
            or current.size >= self.segment_bytes
            or now - current.opened_s >= self.retention_s / 4
        ):
            current = self._rotate(incarnation, now)
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        current.size += len(data)
        current.last_write_s = now
        if self.size_bytes() > self.max_bytes:
            self._evict(now)

    def _rotate(self, incarnation: str, now: float) -> Segment:
        number = self.segments[-1].number + 1 if self.segments else 1
        path = self.directory / f"jrn-{number:08d}.log"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        with self._fd_lock:
            old_fd, self._fd = self._fd, fd
        if old_fd is not None:
            os.fsync(old_fd)
            os.close(old_fd)
        fsync_dir(self.directory)
        self._current = Segment(number, path, incarnation, 0, now, now)
        self.segments.append(self._current)
        return self._current

    def sync(self) -> None:
        """fsync the open segment; safe to call from another thread than the writer's."""
        with self._fd_lock:
            if self._fd is None:
                return
            fd = os.dup(self._fd)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        with self._fd_lock:
            fd, self._fd = self._fd, None
        self._current = None
        if fd is not None:
            os.fsync(fd)
            os.close(fd)

    # -- retention ------------------------------------------------------------------------------------------------
    def window_start_ms(self) -> int:
        return int((self._clock() - self.retention_s) * 1000)

    def size_bytes(self) -> int:
        return sum(segment.size for segment in self.segments)

    def expire(self) -> int:
        """Delete the closed segments whose last write is older than the window; returns how many."""
        cutoff = self._clock() - self.retention_s
        old = [s for s in self.segments if s is not self._current and s.last_write_s < cutoff]
        self._delete(old)
        return len(old)

    def _evict(self, now: float) -> None:
        cutoff = now - self.retention_s
        while self.size_bytes() > self.max_bytes and self.segments[0] is not self._current:
            oldest = self.segments[0]
            self._delete([oldest])
            if oldest.last_write_s >= cutoff:
                log.warning(
                    "journal over its %d-byte cap: dropped segment %s (%d bytes, last written %.0fs ago) while still "
                    "inside the %.0fs replay window; a broker loss now would lose those records",
                    self.max_bytes, oldest.path.name, oldest.size, now - oldest.last_write_s, self.retention_s,
                )  # fmt: skip
                self._on_evicted(1)

    # -- replay ---------------------------------------------------------------------------------------------------
    def foreign(self, incarnation: str) -> list[Segment]:
        """The segments of records acknowledged by other broker incarnations than `incarnation`, oldest first."""
        return [segment for segment in self.segments if segment.incarnation != incarnation]

    def drop(self, segments: list[Segment]) -> None:
        """Delete segments whose records were replayed (and journaled again under the new incarnation)."""
        if self._current in segments:
            self.close()
        self._delete(segments)

    def _delete(self, segments: list[Segment]) -> None:
        for segment in segments:
            segment.path.unlink(missing_ok=True)
        self.segments = [s for s in self.segments if s not in segments]

