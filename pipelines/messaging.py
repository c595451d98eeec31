"""Kafka plumbing shared by every stage: topic names and their layout, bootstrap resolution, and producer /
consumer factories with the settings that work on both the embedded Tansu broker and a real cluster."""

from __future__ import annotations

from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from pipelines.config import Settings

RAW = "events.raw"
QUARANTINE = "events.quarantine"
LAYERING_CONTROL = "control.layering"
IDENTITY_CHANGES = "identity.changes"
DEFAULT_LAYER = "default"


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
        TopicSpec(ods_topic(DEFAULT_LAYER), events, {}),
        TopicSpec(LAYERING_CONTROL, 1, {"cleanup.policy": "compact"}),
        TopicSpec(IDENTITY_CHANGES, events, {}),
    ]


def bootstrap_servers(settings: Settings) -> str:
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    return f"127.0.0.1:{settings.bound_port('broker', settings.kafka_port)}"


def ensure_topics(settings: Settings, specs: list[TopicSpec] | None = None) -> list[str]:
    """Create missing topics; returns the names created now."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers(settings), client_id="trackflow-admin")
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
        return created
    finally:
        admin.close()


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
