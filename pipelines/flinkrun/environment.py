"""Building the Flink execution environment and the Kafka sources/sinks every job shares, from the settings.

Jobs never name brokers, jars or directories themselves: `runtime_settings` resolves the embedded stack's actual
ports once, on the client, and the resolved Settings travel (pickled) into the Python functions on the workers.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipelines.config import Settings
from pipelines.messaging import bootstrap_servers
from pipelines.stack.jars import JARS
from pipelines.warehouse.client import resolve_url

# Jars a job needs at run time: the Kafka connector, its client and the codecs producers may have used.
KAFKA_JARS = ("flink-connector-kafka.jar", "kafka-clients.jar", "zstd-jni.jar", "lz4-java.jar", "snappy-java.jar")
assert set(KAFKA_JARS) <= set(JARS), "pipelines.stack.jars must install every jar the jobs load"


class JobSetupError(RuntimeError):
    pass


def runtime_settings(settings: Settings) -> Settings:
    """Settings with the broker and warehouse endpoints made explicit (the embedded stack's ports are in its
    state dir, which workers on another machine could not read)."""
    return settings.model_copy(
        update={"kafka_bootstrap": bootstrap_servers(settings), "clickhouse_url": resolve_url(settings)}
    )


def jar_urls(settings: Settings) -> list[str]:
    folder = settings.flink_jars_dir.resolve()
    missing = [name for name in KAFKA_JARS if not (folder / name).exists()]
    if missing:
        raise JobSetupError(
            f"connector jars missing in {folder}: {', '.join(missing)}; run `python -m pipelines.stack.jars "
            f"{settings.flink_jars_dir}` (make install does it)"
        )
    return [(folder / name).as_uri() for name in KAFKA_JARS]


def checkpoint_dir(settings: Settings, job: str) -> Path:
    return (settings.data_dir / "checkpoints" / job).resolve()


def flink_configuration(
    settings: Settings,
    job: str,
    parallelism: int | None = None,
    recover_from: str | None = None,
    rest_port: int | None = None,
) -> dict[str, str]:
    """The Flink options of one job, as strings (the same dict feeds a local run and `flink run -D...`)."""
    options = {
        "pipeline.name": f"trackflow-{job}",
        "pipeline.jars": ";".join(jar_urls(settings)),
        "parallelism.default": str(parallelism or settings.flink_parallelism),
        "execution.checkpointing.interval": f"{settings.flink_checkpoint_interval_ms} ms",
        "execution.checkpointing.dir": checkpoint_dir(settings, job).as_uri(),
        # Kept after cancel or a crash: `jobs run` resumes from the newest one (see flinkrun.checkpoints).
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "execution.checkpointing.num-retained": "3",
        "python.executable": sys.executable,
        "python.client.executable": sys.executable,
        # Larger bundles amortise the Java<->Python round trips that dominate PyFlink's per-record cost; the
        # time bound keeps latency low when traffic is light.
        "python.fn-execution.bundle.size": "5000",
        "python.fn-execution.bundle.time": "200",
        "python.state.cache-size": "100000",
    }
    if rest_port is not None:
        options["rest.port"] = str(rest_port)
        options["rest.bind-address"] = "127.0.0.1"
        options["rest.address"] = "127.0.0.1"
    if recover_from:
        options["execution.state-recovery.path"] = recover_from
    return options


def stream_environment(options: dict[str, str]):
    from pyflink.common import Configuration
    from pyflink.datastream import StreamExecutionEnvironment

    configuration = Configuration()
    for key, value in options.items():
        configuration.set_string(key, value)
    return StreamExecutionEnvironment.get_execution_environment(configuration)


def kafka_source(
    settings: Settings,
    topics: list[str] | None = None,
    pattern: str | None = None,
    group: str = "",
    from_earliest: bool = False,
):
    """A string source from the committed offsets of `group` (earliest when it has none, or always with
    `from_earliest`). On restore the checkpointed offsets win, which is what makes replays exact."""
    from pyflink.common.serialization import SimpleStringSchema
    from pyflink.datastream.connectors.kafka import KafkaOffsetsInitializer, KafkaSource

    builder = (
        KafkaSource.builder()
        .set_bootstrap_servers(settings.kafka_bootstrap)
        .set_group_id(group)
        .set_starting_offsets(
            KafkaOffsetsInitializer.earliest()
            if from_earliest
            else _committed_or_earliest()
        )
        .set_value_only_deserializer(SimpleStringSchema())
        # New ods.<layer> topics appear when rules add layers: discover them without a restart.
        .set_property("partition.discovery.interval.ms", "5000")
        .set_property("commit.offsets.on.checkpoint", "true")
    )
    builder = builder.set_topic_pattern(pattern) if pattern else builder.set_topics(*topics)
    return builder.build()


def _committed_or_earliest():
    """`KafkaOffsetsInitializer.committed_offsets(EARLIEST)` built on the Java side: PyFlink 2.0.1 names the reset
    strategy by a shaded class the 4.0 connector does not have (`Could not found the Java class ...`)."""
    from pyflink.datastream.connectors.kafka import KafkaOffsetsInitializer
    from pyflink.java_gateway import get_gateway

    jvm = get_gateway().jvm
    initializer = jvm.org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer
    return KafkaOffsetsInitializer(
        initializer.committedOffsets(jvm.org.apache.kafka.clients.consumer.OffsetResetStrategy.EARLIEST)
    )


def kafka_sink(settings: Settings, topic: str | None = None, topic_selector=None):
    """AT_LEAST_ONCE: the default NONE loses the tail on job end (PLATFORM_NOTES); downstream dedups by event_id."""
    from pyflink.common.serialization import SimpleStringSchema
    from pyflink.datastream.connectors.base import DeliveryGuarantee
    from pyflink.datastream.connectors.kafka import KafkaRecordSerializationSchema, KafkaSink

    serializer = KafkaRecordSerializationSchema.builder().set_value_serialization_schema(SimpleStringSchema())
    serializer = serializer.set_topic_selector(topic_selector) if topic_selector else serializer.set_topic(topic)
    return (
        KafkaSink.builder()
        .set_bootstrap_servers(settings.kafka_bootstrap)
        .set_record_serializer(serializer.build())
        .set_delivery_guarantee(DeliveryGuarantee.AT_LEAST_ONCE)
        .set_property("compression.type", "lz4")
        .set_property("linger.ms", "5")
        .build()
    )
