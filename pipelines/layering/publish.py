"""How the layering job encodes a routed event for the `ods.<layer>` topics.

The layer is written as the first key of the JSON so the Kafka sink's topic selector reads it from the prefix
without parsing the whole event again (it runs once per event, in Python).
"""

from __future__ import annotations

import json
from typing import Any

from pipelines.messaging import ods_topic

LAYER_PREFIX = '{"layer": "'


def encode_routed(layer: str, event: dict[str, Any]) -> str:
    body = {"layer": layer}
    body.update((key, value) for key, value in event.items() if key != "layer")
    return json.dumps(body, ensure_ascii=False)


def layer_of(text: str) -> str:
    if text.startswith(LAYER_PREFIX):
        end = text.find('"', len(LAYER_PREFIX))
        if end > 0:
            return text[len(LAYER_PREFIX) : end]
    return json.loads(text)["layer"]  # written by someone else: fall back to a full parse


def ods_topic_of(text: str) -> str:
    return ods_topic(layer_of(text))
