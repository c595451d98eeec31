"""The ods message format: what the layering job writes to `ods.<layer>` and how the dwd job reads its head.

One ods message holds the events of one raw message that went to one layer and belong to one person:
`{"layer": L, "key": K, "events": [...]}`, with K also the Kafka key (envelope.partition_key: the primary
touchpoint id, as the collector keys events.raw), so a person's events stay in order within a partition. Events
travel in batches because every record that crosses between Flink's JVM and the Python workers costs far more than
the Python work on one event; the collector keeps a batch request of one device as one raw message, and the ods
message keeps that batch together. `decode_message` (pipelines.streaming.decode) reads it like any batch.

The layer and key come first so the dwd job's key selector reads them from the prefix without parsing the events.
"""

from __future__ import annotations

from typing import Any, Iterable

import orjson

from pipelines.envelope import partition_key
from pipelines.messaging import ods_topic

LAYER_PREFIX = '{"layer":"'
KEY_INFIX = '","key":"'


def encode_ods(layer: str, key: str, events: list[dict[str, Any]]) -> str:
    return orjson.dumps({"layer": layer, "key": key, "events": events}).decode()


def ods_records(routed: Iterable[tuple[str, dict[str, Any]]]) -> list[tuple[str, str, str]]:
    """(layer, event) pairs of one raw message -> (topic, key, value) records: one per (layer, person), events in
    their original order."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for layer, event in routed:
        groups.setdefault((layer, partition_key(event)), []).append(event)
    return [(ods_topic(layer), key, encode_ods(layer, key, events)) for (layer, key), events in groups.items()]


def ods_head(text: str) -> tuple[str, str]:
    """(layer, key) of an ods message, read from its prefix when it is one `encode_ods` wrote without escapes."""
    if text.startswith(LAYER_PREFIX):
        layer_end = text.find('"', len(LAYER_PREFIX))
        key_start = layer_end + len(KEY_INFIX)
        key_end = text.find('"', key_start)
        if layer_end > 0 and text.startswith(KEY_INFIX, layer_end) and key_end > 0 and "\\" not in text[:key_end]:
            return text[len(LAYER_PREFIX) : layer_end], text[key_start:key_end]
    try:  # written by someone else (or with escaped characters): parse it
        document = orjson.loads(text)
        return str(document["layer"]), str(document["key"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return "", ""  # undecodable: the dwd job dead-letters it under any key
