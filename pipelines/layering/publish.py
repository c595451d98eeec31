"""The ods message format: what the layering job writes to `ods.<layer>`.

One ods message holds the events of one layering micro-batch (hundreds of raw messages) that went to one layer and
fall into one dwd write shard: `{"layer": L, "shard": S, "events": [...]}`, with S (as a string) also the Kafka key.
S = `shard_of(person, dwd_write_shards)` (pipelines.streaming.batching), so every copy of an event lands on the same
dwd shard, and a person's events stay in order within a partition. Events travel in batches because every record
that crosses between Flink's JVM and Python costs far more than the Python work on one event; grouping by shard
rather than by person keeps the records few even when every raw message holds a single event.
`decode_message` (pipelines.streaming.decode) reads an ods message like any batch.
"""

from __future__ import annotations

from typing import Any, Iterable

import orjson

from pipelines.envelope import partition_key
from pipelines.messaging import ods_topic
from pipelines.streaming.batching import shard_of


def encode_ods(layer: str, shard: str, events: list[dict[str, Any]]) -> str:
    return orjson.dumps({"layer": layer, "shard": shard, "events": events}).decode()


def ods_records(routed: Iterable[tuple[str, dict[str, Any]]], shards: int) -> list[tuple[str, str, str]]:
    """(layer, event) pairs -> (topic, key, value) records: one per (layer, shard), events in their original
    order."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for layer, event in routed:
        groups.setdefault((layer, str(shard_of(partition_key(event), shards))), []).append(event)
    return [(ods_topic(layer), shard, encode_ods(layer, shard, events)) for (layer, shard), events in groups.items()]
