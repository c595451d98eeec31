"""A durable, append-only spool for records Kafka could not take.

Layout: `<dir>/seg-<n>.log` segment files of framed records (pipelines/collect/frames.py) and `<dir>/position`,
the (segment, byte offset) up to which records were replayed and acknowledged by Kafka. A record is written and
fsync'd before the client is answered 202, so an answered event survives a crash of the collector. A torn record
at the end of a segment (a crash mid-write) was never answered and is skipped by its length/CRC check; a reopened
spool writes into a new segment, so nothing is ever appended behind a torn tail (where no reader would find it).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from pipelines.collect.frames import Record, decode_record, frame, fsync_dir, read_frames, record_payload

__all__ = ["Record", "Spool", "SpoolFull"]

SEGMENT_BYTES = 16 << 20


class SpoolFull(RuntimeError):
    pass


class Spool:
    """Not thread-safe: the collector calls it from one worker thread at a time (see sink.py)."""

    def __init__(self, directory: Path, max_bytes: int, segment_bytes: int = SEGMENT_BYTES):
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._position_file = directory / "position"
        self.read_segment, self.read_offset = self._load_position()
        segments = self._segments()
        self.write_segment = segments[-1] + 1 if segments else max(self.read_segment, 1)
        self._drop_segments_before(self.read_segment)
        # Since when records have been waiting (the spool non-empty), for the spool-age metric: an upper bound of the
        # oldest record's age; after a restart, the oldest pending segment's last write.
        pending = [s for s in segments if s >= self.read_segment]
        self._waiting_since = self._segment_path(pending[0]).stat().st_mtime if pending and self.pending_bytes() else None

    # -- bookkeeping ----------------------------------------------------------------------------------------------
    def _segment_path(self, number: int) -> Path:
        return self.directory / f"seg-{number:08d}.log"

    def _segments(self) -> list[int]:
        return sorted(int(p.stem[4:]) for p in self.directory.glob("seg-*.log"))

    def _load_position(self) -> tuple[int, int]:
        try:
            segment, offset = self._position_file.read_text().split()
            return int(segment), int(offset)
        except (OSError, ValueError):
            return 1, 0

    def _save_position(self) -> None:
        tmp = self._position_file.with_suffix(".tmp")
        with open(tmp, "w") as handle:
            handle.write(f"{self.read_segment} {self.read_offset}")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self._position_file)

    def _drop_segments_before(self, number: int) -> None:
        for segment in self._segments():
            if segment < number:
                self._segment_path(segment).unlink(missing_ok=True)

    def pending_bytes(self) -> int:
        total = 0
        for segment in self._segments():
            if segment >= self.read_segment:
                size = self._segment_path(segment).stat().st_size
                total += size - (self.read_offset if segment == self.read_segment else 0)
        return max(total, 0)

    @property
    def empty(self) -> bool:
        return self.pending_bytes() == 0

    def age_s(self) -> float:
        """How long records have been waiting: since the spool last went from empty to holding records (0: empty)."""
        if self._waiting_since is None or self.empty:
            self._waiting_since = None
            return 0.0
        return max(0.0, time.time() - self._waiting_since)

    # -- write ----------------------------------------------------------------------------------------------------
    def append(self, records: list[Record]) -> None:
        """Append and fsync; raises SpoolFull (nothing written) when the records would not fit."""
        data = b"".join(frame(record_payload(record)) for record in records)
        if self.pending_bytes() + len(data) > self.max_bytes:
            raise SpoolFull(f"spool {self.directory} holds {self.pending_bytes()} of {self.max_bytes} bytes")
        path = self._segment_path(self.write_segment)
        if path.exists() and path.stat().st_size >= self.segment_bytes:
            self.write_segment += 1
            path = self._segment_path(self.write_segment)
        new_file = not path.exists()
        with open(path, "ab") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if new_file:
            fsync_dir(self.directory)
        if self._waiting_since is None:
            self._waiting_since = time.time()

    # -- replay ---------------------------------------------------------------------------------------------------
    def read(self, max_records: int) -> tuple[list[Record], tuple[int, int]]:
        """The oldest unreplayed records (up to max_records) and the position just after them; call
        `commit(position)` once Kafka acknowledged them all."""
        records: list[Record] = []
        segment, offset = self.read_segment, self.read_offset
        while len(records) < max_records:
            path = self._segment_path(segment)
            if not path.exists():
                if segment < self.write_segment:  # a gap left by a removed segment: move on
                    segment, offset = segment + 1, 0
                    continue
                break
            for payload, end in read_frames(path, offset):
                records.append(decode_record(payload))
                offset = end
                if len(records) == max_records:
                    break
            if len(records) < max_records and segment < self.write_segment:
                segment, offset = segment + 1, 0
                continue
            break
        return records, (segment, offset)

    def commit(self, position: tuple[int, int]) -> None:
        self.read_segment, self.read_offset = position
        self._save_position()
        self._drop_segments_before(self.read_segment)
        if self.read_segment == self.write_segment and self.read_offset and self.read_offset >= self._size(self.write_segment):
            # Fully replayed: start a fresh segment so the old one can go.
            self.write_segment += 1
            self.read_segment, self.read_offset = self.write_segment, 0
            self._save_position()
            self._drop_segments_before(self.read_segment)

    def _size(self, segment: int) -> int:
        path = self._segment_path(segment)
        return path.stat().st_size if path.exists() else 0

