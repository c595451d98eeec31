"""Kafka plumbing shared by every stage: topic names and their layout, bootstrap resolution, and producer /
consumer factories with the settings that work on both the embedded Tansu broker and a real cluster."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from pipelines.config import Settings

RAW = "events.raw"
QUARANTINE = "events.quarantine"
LAYERING_CONTROL = "control.layering"
IDENTITY_CHANGES = "identity.changes"
# Person-property updates from the protocol intakes (pipelines/person_properties.py), for jobs/person_properties.
PERSON_PROPERTIES = "persons.properties"
# The collector's accepted-event counts per minute, app and event (stage `collected`), for jobs/metrics.
COLLECTED_COUNTS = "metrics.collected"
# One record naming the broker's incarnation: a broker that lost its topics (the embedded one keeps them in memory)
# gets a new one, so offsets remembered from the old topics are known to be meaningless.
INCARNATION = "control.incarnation"
DEFAULT_LAYER = "default"
# How long a new client waits for its first answer from the broker (kafka-python's own default). Tools and jobs wait
# for a broker that is still starting; the collector passes its own, shorter bound (pipelines/collect/app.py).
BOOTSTRAP_TIMEOUT_S = 30.0
# How long a probe of the broker's incarnation (`trackflow status`, the jobs' watcher) waits for it to answer at all.
# With the 30 s above, a watcher probing a killed broker's old port saw its new port half a minute late.
PROBE_BOOTSTRAP_TIMEOUT_S = 2.0


def ods_topic(layer: str) -> str:
    return f"ods.{layer}"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic the pipeline needs, with explicit partition counts (auto-created topics on Tansu may get others)."""
    events = settings.kafka_partitions
    return [
        TopicSpec(RAW, events, {}),
        TopicSpec(QUARANTINE, 1, {}),
        TopicSpec(COLLECTED_COUNTS, 1, {}),
        TopicSpec(ods_topic(DEFAULT_LAYER), events, {}),
        TopicSpec(LAYERING_CONTROL, 1, {"cleanup.policy": "compact"}),
        TopicSpec(IDENTITY_CHANGES, events, {}),
        TopicSpec(PERSON_PROPERTIES, 1, {}),
        TopicSpec(INCARNATION, 1, {}),
    ]


def bootstrap_servers(settings: Settings) -> str:
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    return f"127.0.0.1:{settings.bound_port('broker', settings.kafka_port)}"


def ensure_topics(
    settings: Settings, specs: list[TopicSpec] | None = None, bootstrap_timeout_s: float = BOOTSTRAP_TIMEOUT_S
) -> list[str]:
    """Create missing topics (and, with the default specs, the incarnation marker); returns the names created now."""
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap_servers(settings),
        client_id="trackflow-admin",
        bootstrap_timeout_ms=int(bootstrap_timeout_s * 1000),
    )
    try:
        existing = set(admin.list_topics())
        wanted = [spec for spec in (specs or topic_specs(settings)) if spec.name not in existing]
        created = []
        for spec in wanted:
            try:
                admin.create_topics(
                    [NewTopic(spec.name, num_partitions=spec.partitions, replication_factor=1, topic_configs=spec.config)]
                )
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()
    if specs is None:
        ensure_incarnation(settings, bootstrap_timeout_s)
    return created


def broker_incarnation(
    settings: Settings, timeout_s: float = 2.0, bootstrap_timeout_s: float = PROBE_BOOTSTRAP_TIMEOUT_S
) -> str | None:
    """The id of the broker's current incarnation: the first record of `control.incarnation`, or None when the
    topic is missing or empty (a broker nobody has prepared yet)."""
    client = KafkaConsumer(
        bootstrap_servers=bootstrap_servers(settings),
        enable_auto_commit=False,
        allow_auto_create_topics=False,
        client_id="trackflow-incarnation",
        bootstrap_timeout_ms=int(bootstrap_timeout_s * 1000),
    )
    try:
        if not client.partitions_for_topic(INCARNATION):
            return None
        partition = TopicPartition(INCARNATION, 0)
        client.assign([partition])
        client.seek(partition, 0)  # not seek_to_beginning: the embedded broker's ListOffsets is unreliable
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for records in client.poll(timeout_ms=200, max_records=1).values():
                return json.loads(records[0].value)["incarnation"]
        return None
    finally:
        client.close()


def ensure_incarnation(settings: Settings, bootstrap_timeout_s: float = BOOTSTRAP_TIMEOUT_S) -> str:
    """The broker's incarnation, writing a new marker when it has none. Two writers racing both read back the
    record at offset 0, so they agree on which marker won."""
    current = broker_incarnation(settings, timeout_s=0.5, bootstrap_timeout_s=bootstrap_timeout_s)
    if current:
        return current
    marker = producer(settings, compression_type=None, linger_ms=0, bootstrap_timeout_ms=int(bootstrap_timeout_s * 1000))
    try:
        value = {"incarnation": uuid.uuid4().hex, "created_at_ms": int(time.time() * 1000)}
        marker.send(INCARNATION, value=json.dumps(value).encode()).get(timeout=10)
    finally:
        marker.close()
    found = broker_incarnation(settings, bootstrap_timeout_s=bootstrap_timeout_s)
    if not found:
        raise RuntimeError(f"wrote a broker incarnation marker to {INCARNATION} but cannot read it back")
    return found


def producer(settings: Settings, **overrides) -> KafkaProducer:
    options = dict(
        bootstrap_servers=bootstrap_servers(settings),
        acks="all",
        enable_idempotence=True,
        compression_type="lz4",
        linger_ms=5,
        client_id="trackflow",
    )
    options.update(overrides)
    return KafkaProducer(**options)


def consumer(settings: Settings, *topics: str, group_id: str | None = None, **overrides) -> KafkaConsumer:
    """A consumer; with a group, the rebalance timeout is kept short (kafka-python takes it from
    max_poll_interval_ms, and the 300 s default makes the first join look like a hang)."""
    options = dict(
        bootstrap_servers=bootstrap_servers(settings),
        group_id=group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=group_id is not None,
        max_poll_interval_ms=10_000,
        session_timeout_ms=6_000,
        heartbeat_interval_ms=2_000,
        client_id="trackflow",
    )
    options.update(overrides)
    return KafkaConsumer(*topics, **options)
