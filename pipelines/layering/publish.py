"""The ods message format: what the layering job writes to `ods.<layer>`.

One ods message holds events of one layering micro-batch (hundreds of raw messages) that went to one layer and
fall into one dwd write shard: `{"layer": L, "shard": S, "events": [...]}`, with S (as a string) also the Kafka key.
S = `shard_of(person, dwd_write_shards)` (pipelines.streaming.batching), so every copy of an event lands on the same
dwd shard, and a person's events stay in order within a partition. Events travel in batches because every record
that crosses between Flink's JVM and Python costs far more than the Python work on one event; grouping by shard
rather than by person keeps the records few even when every raw message holds a single event. A group larger than
`ODS_MESSAGE_MAX_BYTES` is cut into several messages, so no record exceeds Kafka's message size limit.
`decode_message` (pipelines.streaming.decode) reads an ods message like any batch.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

import orjson

from pipelines.envelope import partition_key
from pipelines.messaging import ods_topic
from pipelines.streaming.batching import shard_of

# Half of Kafka's default 1 MiB (producer max.request.size, broker message.max.bytes): room for the record overhead.
ODS_MESSAGE_MAX_BYTES = 512 * 1024


def ods_records(
    routed: Iterable[tuple[str, dict[str, Any]]], shards: int, max_bytes: int = ODS_MESSAGE_MAX_BYTES
) -> list[tuple[str, str, str]]:
    """(layer, event) pairs -> (topic, key, value) records: one per (layer, shard), cut where its events exceed
    `max_bytes` (an event larger than that travels alone), events in their original order."""
    groups: dict[tuple[str, str], list[bytes]] = {}
    for layer, event in routed:
        groups.setdefault((layer, str(shard_of(partition_key(event), shards))), []).append(orjson.dumps(event))
    return [
        (ods_topic(layer), shard, _ods_value(layer, shard, chunk))
        for (layer, shard), encoded in groups.items()
        for chunk in _chunks(encoded, max_bytes)
    ]


def _ods_value(layer: str, shard: str, encoded_events: list[bytes]) -> str:
    head = orjson.dumps({"layer": layer, "shard": shard})[:-1]  # the object without its closing brace
    return (head + b',"events":[' + b",".join(encoded_events) + b"]}").decode()


def _chunks(encoded: list[bytes], max_bytes: int) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    size = 0
    for event in encoded:
        if chunk and size + len(event) > max_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append(event)
        size += len(event) + 1  # the comma
    if chunk:
        yield chunk
