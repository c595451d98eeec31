"""The one on-disk format of the collector's spool and journal: a Kafka record, framed.

Frame: 4-byte payload length, 4-byte CRC32 of the payload, payload. A record's payload is topic length (2 bytes),
topic, key length (4 bytes), key, value. A journal entry puts its own small header in front of a record payload
(pipelines/collect/journal.py). Reading stops at the first frame that is cut short or fails its CRC: the torn
tail of a write a crash interrupted, which was never answered to a client.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_FRAME = struct.Struct(">II")
_TOPIC = struct.Struct(">H")
_KEY = struct.Struct(">I")


@dataclass(frozen=True)
class Record:
    topic: str
    key: bytes
    value: bytes


def frame(payload: bytes) -> bytes:
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def record_payload(record: Record) -> bytes:
    topic = record.topic.encode()
    return b"".join((_TOPIC.pack(len(topic)), topic, _KEY.pack(len(record.key)), record.key, record.value))


def decode_record(payload: bytes, start: int = 0) -> Record:
    """The record whose payload begins at `start` and runs to the end of `payload`."""
    (topic_len,) = _TOPIC.unpack_from(payload, start)
    topic_end = start + _TOPIC.size + topic_len
    (key_len,) = _KEY.unpack_from(payload, topic_end)
    key_start = topic_end + _KEY.size
    key_end = key_start + key_len
    return Record(payload[start + _TOPIC.size : topic_end].decode(), payload[key_start:key_end], payload[key_end:])


def read_frames(path: Path, offset: int = 0) -> Iterator[tuple[bytes, int]]:
    """(payload, offset just after its frame) for each whole frame of the file from `offset` on."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        while True:
            header = handle.read(_FRAME.size)
            if len(header) < _FRAME.size:
                return
            length, crc = _FRAME.unpack(header)
            payload = handle.read(length)
            if len(payload) < length or zlib.crc32(payload) != crc:
                return  # torn tail of a crashed write
            offset += _FRAME.size + length
            yield payload, offset


def fsync_dir(directory: Path) -> None:
    """A new segment file's directory entry must be durable too, not just its bytes."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
