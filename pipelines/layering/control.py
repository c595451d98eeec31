"""Publishing rule documents to the compacted `control.layering` topic and reading the current one back.

Every document goes under the same key, so compaction keeps just the newest; the layering job reads the topic
from the beginning into broadcast state, so every parallel instance converges on the same (newest valid) set.
`apply` validates first and creates the `ods.<layer>` topics the document routes to before publishing: a job never
sees a rule whose topic does not exist yet.
"""

from __future__ import annotations

import json
import time
from typing import Any

from kafka import TopicPartition

from pipelines import messaging
from pipelines.config import Settings
from pipelines.layering.rules import RuleSet, compile_rules, parse_document

RULES_KEY = b"rules"
READ_IDLE_S = 1.0  # the topic is read until it stays quiet this long (end offsets on Tansu are unreliable)


def encode_document(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, sort_keys=True)


def decode_control_message(value: str | bytes) -> RuleSet:
    """A control-topic value -> RuleSet; raises RuleSetError for anything invalid (the job then keeps its set)."""
    return compile_rules(parse_document(value.decode() if isinstance(value, bytes) else value))


def current_rules(settings: Settings, timeout_s: float = 10.0) -> RuleSet | None:
    """The newest valid document on the control topic, or None when nothing valid was ever published."""
    consumer = messaging.consumer(settings, group_id=None)
    partitions = [TopicPartition(messaging.LAYERING_CONTROL, p) for p in consumer.partitions_for_topic(messaging.LAYERING_CONTROL) or []]
    if not partitions:
        consumer.close()
        return None
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    newest: RuleSet | None = None
    deadline = time.monotonic() + timeout_s
    idle_since = time.monotonic()
    try:
        while time.monotonic() < deadline and time.monotonic() - idle_since < READ_IDLE_S:
            batches = consumer.poll(timeout_ms=200)
            if batches:
                idle_since = time.monotonic()
            for records in batches.values():
                for record in records:
                    if record.key != RULES_KEY or record.value is None:
                        continue
                    try:
                        candidate = decode_control_message(record.value)
                    except ValueError:
                        continue  # an invalid document someone published by hand: the job ignores it too
                    if newest is None or candidate.version > newest.version:
                        newest = candidate
    finally:
        consumer.close()
    return newest


def apply(settings: Settings, text: str) -> RuleSet:
    """Validate `text`, number it after the current version, create its topics and publish it."""
    document = parse_document(text)
    compile_rules(document)  # rejects an invalid document before anything changes
    current = current_rules(settings)
    document["version"] = max(int(document.get("version") or 0), (current.version if current else 0) + 1)
    document["published_at"] = int(time.time() * 1000)
    rules = compile_rules(document)
    specs = [messaging.TopicSpec(messaging.ods_topic(layer), settings.kafka_partitions, {}) for layer in rules.layers]
    messaging.ensure_topics(settings, specs)
    producer = messaging.producer(settings)
    try:
        producer.send(messaging.LAYERING_CONTROL, key=RULES_KEY, value=encode_document(document).encode()).get(timeout=30)
    finally:
        producer.close()
    return rules
