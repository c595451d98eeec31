"""Building the Flink execution environment and the Kafka sources/sinks every job shares, from the settings.

Jobs never name brokers, jars or directories themselves: `runtime_settings` resolves the embedded stack's actual
ports once, on the client, and the resolved Settings travel (pickled) into the Python functions on the workers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

from pipelines.config import Settings
from pipelines.flinkrun.jars import JARS
from pipelines.messaging import INCARNATION, bootstrap_servers, broker_incarnation
from pipelines.warehouse.client import resolve_url

# Jars a job needs at run time: the Kafka connector, its client and the codecs producers may have used.
KAFKA_JARS = ("flink-connector-kafka.jar", "kafka-clients.jar", "zstd-jni.jar", "lz4-java.jar", "snappy-java.jar")
assert set(KAFKA_JARS) <= set(JARS), "pipelines.flinkrun.jars must install every jar the jobs load"
# Our own Java classes (pipelines/flinkrun/java: Kafka record (de)serializers, the micro-batcher), compiled into the
# jars folder on first use.
HELPER_JAR = "trackflow-flink.jar"
JAVA_SOURCES = Path(__file__).parent / "java"
class JobSetupError(RuntimeError):
    pass


# The broker incarnation each bootstrap had when this process first built a job on it. A process builds its jobs for
# one incarnation: the runner starts a new process (os.execv) when the broker gets another.
_incarnations: dict[str, str] = {}


def job_incarnation(settings: Settings) -> str:
    """The incarnation of the broker the jobs read from (the marker `ensure_topics` writes), read once per process."""
    bootstrap = bootstrap_servers(settings)
    if bootstrap not in _incarnations:
        found = broker_incarnation(settings, timeout_s=10)
        if not found:
            raise JobSetupError(
                f"the broker at {bootstrap} has no incarnation marker ({INCARNATION}); "
                "prepare it with `trackflow up` (or messaging.ensure_topics)"
            )
        _incarnations[bootstrap] = found
    return _incarnations[bootstrap]


def consumer_group(group: str, incarnation: str) -> str:
    """The Kafka consumer group of a source on one broker incarnation. A new incarnation means new, empty topics, so
    the jobs start a new group there (earliest offsets); offsets committed by a job still running against the old
    incarnation's positions (before the runner restarts it) can never make the new one skip records."""
    return f"{group}.{incarnation}"


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
            f"connector jars missing in {folder}: {', '.join(missing)}; run `python -m pipelines.flinkrun.jars "
            f"{settings.flink_jars_dir}` (make install does it)"
        )
    return [(folder / name).as_uri() for name in KAFKA_JARS] + [helper_jar(folder).as_uri()]


def helper_jar(folder: Path) -> Path:
    """Compiles pipelines/flinkrun/java against the connector and Flink jars unless the jar is newer than every
    source. Built into a temporary file and renamed, so jobs starting together never load a half-written jar."""
    target = folder / HELPER_JAR
    sources = sorted(JAVA_SOURCES.rglob("*.java"))
    if not sources and target.exists():  # running from a submitted package (Python files only): built before
        return target
    if target.exists() and target.stat().st_mtime >= max(source.stat().st_mtime for source in sources):
        return target
    import pyflink

    flink_lib = Path(pyflink.__file__).parent / "lib"
    classpath = os.pathsep.join([str(folder / name) for name in KAFKA_JARS] + [str(jar) for jar in flink_lib.glob("*.jar")])
    with tempfile.TemporaryDirectory() as classes:
        compiled = subprocess.run(
            ["javac", "--release", "11", "-nowarn", "-cp", classpath, "-d", classes, *map(str, sources)],
            capture_output=True,
            text=True,
        )
        if compiled.returncode:
            raise JobSetupError(f"cannot compile {JAVA_SOURCES} (a JDK's javac is needed):\n{compiled.stderr}")
        partial = folder / f".{HELPER_JAR}.{os.getpid()}"
        with zipfile.ZipFile(partial, "w") as jar:
            for path in Path(classes).rglob("*.class"):
                jar.write(path, path.relative_to(classes).as_posix())
        partial.replace(target)
    return target


def checkpoint_dir(settings: Settings, job: str) -> Path:
    return (settings.data_dir / "checkpoints" / job).resolve()


LOOPBACK = "127.0.0.1"
LOOPBACK_OPTIONS = {
    "jobmanager.bind-host": LOOPBACK,
    "jobmanager.rpc.address": LOOPBACK,
    "taskmanager.bind-host": LOOPBACK,
    "taskmanager.host": LOOPBACK,
    "rest.bind-address": LOOPBACK,
    "rest.address": LOOPBACK,
}


def no_python_worker_pool(options: dict[str, str]) -> None:
    """In a local MiniCluster PyFlink starts its "loopback" worker pool, a gRPC server in this process on [::]:0,
    every interface (hard-coded in pyflink.fn_execution.beam.beam_worker_pool_service), whatever the job needs.
    Thread-mode jobs (all of ours) run their Python inside the JVM and never use it: tell PyFlink not to start it.
    Process mode is not an option for that reason too: its task manager's Beam servers bind every interface,
    hard-coded in Beam's ServerFactory."""
    if options.get("python.execution-mode") == "thread":
        os.environ["_python_worker_execution_mode"] = "process"


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
        "python.state.cache-size": "100000",
        # Every listener of the local MiniCluster on loopback only: RPC, blob server, REST and the task manager's
        # data port bind every interface by default (Python's worker pool: see no_python_worker_pool).
        **LOOPBACK_OPTIONS,
        **thread_mode_options(),
    }
    if rest_port is not None:
        options["rest.port"] = str(rest_port)
    if recover_from:
        options["execution.state-recovery.path"] = recover_from
        # Sources carry the broker incarnation in their uid: after a broker restart their old offsets are not
        # claimed by the new job and are dropped, while every other operator's state restores by its stable uid.
        options["execution.state-recovery.ignore-unclaimed-state"] = "true"
    return options


def thread_mode_options() -> dict[str, str]:
    """`python.execution-mode: thread`, with the interpreter's site-packages and the repository on the embedded
    interpreter's path: PEMJA starts the base interpreter behind the venv's python (a symlink), which sees neither,
    and fails every task with `No module named 'pemja'` (the job restarts forever and processes nothing)."""
    repository = Path(__file__).resolve().parents[2]
    return {
        "python.execution-mode": "thread",
        "python.pythonpath": os.pathsep.join([sysconfig.get_path("purelib"), str(repository)]),
    }


def stream_environment(options: dict[str, str]):
    from pyflink.common import Configuration
    from pyflink.datastream import StreamExecutionEnvironment

    configuration = Configuration()
    for key, value in options.items():
        configuration.set_string(key, value)
    no_python_worker_pool(options)
    return StreamExecutionEnvironment.get_execution_environment(configuration)


def kafka_source(
    settings: Settings,
    topics: list[str] | None = None,
    pattern: str | None = None,
    group: str = "",
    from_earliest: bool = False,
    with_keys: bool = False,
):
    """A string source from the committed offsets of `group` (earliest when it has none, or always with
    `from_earliest`). On restore the checkpointed offsets win, which is what makes replays exact. `with_keys`:
    Row(key, value) records (Java deserializer, an absent key is ""), the input `keyed_by_first_field` expects."""
    from pyflink.common.serialization import SimpleStringSchema
    from pyflink.datastream.connectors.kafka import KafkaOffsetsInitializer, KafkaSource
    from pyflink.java_gateway import get_gateway

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
    if with_keys:  # on the Java builder: PyFlink's builder takes value-only deserializers
        builder._j_builder.setDeserializer(get_gateway().jvm.org.trackflow.flink.KeyedRecordDeserializationSchema())
    return builder.build()


def kafka_stream(
    env,
    settings: Settings,
    name: str,
    group: str,
    topics: list[str] | None = None,
    pattern: str | None = None,
    from_earliest: bool = False,
    with_keys: bool = False,
):
    """A stream from one Kafka source (`kafka_source`) whose operator uid and consumer group name the broker
    incarnation. Restored from a checkpoint of another incarnation (restores allow unclaimed state), the source's
    offsets, which belong to the old broker's topics, are left behind while every other operator's state (its own
    stable uid) restores; the source starts from its new group's committed offsets, else the earliest."""
    from pyflink.common import WatermarkStrategy

    group_id = consumer_group(group, job_incarnation(settings))
    source = kafka_source(settings, topics, pattern, group_id, from_earliest, with_keys)
    return env.from_source(source, WatermarkStrategy.no_watermarks(), name).uid(f"source:{group_id}")


def keyed_by_first_field(rows):
    """A stream of Row(key: str, value: str) -> the values keyed by `key`, with no Python step: PyFlink's `key_by`
    runs its key selector as a Python operator of its own (one more JVM<->Python crossing per record). Built as
    `key_by` builds its KeyedStream, so `.process(KeyedProcessFunction)` receives the value."""
    from pyflink.common import Types
    from pyflink.datastream.data_stream import KeyedStream
    from pyflink.java_gateway import get_gateway

    first_field = get_gateway().jvm.org.apache.flink.streaming.api.functions.python.KeyByKeySelector()
    key_type = Types.ROW([Types.STRING()]).get_java_type_info()
    return KeyedStream(rows._j_data_stream.keyBy(first_field, key_type), Types.STRING(), rows)


def micro_batches(strings, max_messages: int, max_chars: int, max_delay_ms: int):
    """A stream of strings -> a stream of string lists of consecutive elements, cut at `max_messages` elements or
    `max_chars` characters and held at most `max_delay_ms` (pipelines/flinkrun/java MicroBatcher). One Python call
    then handles hundreds of messages: in PyFlink the crossing per record, not the Python work, dominates. The
    batcher emits its buffer before each checkpoint barrier, so it holds no state and exactly-once is unaffected."""
    from pyflink.common import Types
    from pyflink.datastream import DataStream
    from pyflink.java_gateway import get_gateway

    batcher = get_gateway().jvm.org.trackflow.flink.MicroBatcher(max_messages, max_chars, max_delay_ms)
    batch_type = Types.BASIC_ARRAY(Types.STRING()).get_java_type_info()
    return DataStream(strings._j_data_stream.transform("micro-batch", batch_type, batcher))


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


def kafka_sink(settings: Settings, topic: str):
    """String records to one topic, unkeyed."""
    from pyflink.common.serialization import SimpleStringSchema
    from pyflink.datastream.connectors.kafka import KafkaRecordSerializationSchema

    serializer = KafkaRecordSerializationSchema.builder().set_value_serialization_schema(SimpleStringSchema())
    return _sink_builder(settings).set_record_serializer(serializer.set_topic(topic).build()).build()


def keyed_kafka_sink(settings: Settings):
    """Rows of strings (topic, key, value) -> their topic, with their key; serialized on the Java side, so no
    Python step runs per record (as PyFlink's topic selector would)."""
    from pyflink.java_gateway import get_gateway

    builder = _sink_builder(settings)
    # Set on the Java builder: PyFlink's set_record_serializer only accepts serializers from its own builder.
    builder._j_builder.setRecordSerializer(get_gateway().jvm.org.trackflow.flink.KeyedRecordSerializationSchema())
    return builder.build()


def _sink_builder(settings: Settings):
    """AT_LEAST_ONCE: the default NONE loses the tail on job end (PLATFORM_NOTES); downstream dedups by event_id."""
    from pyflink.datastream.connectors.base import DeliveryGuarantee
    from pyflink.datastream.connectors.kafka import KafkaSink

    return (
        KafkaSink.builder()
        .set_bootstrap_servers(settings.kafka_bootstrap)
        .set_delivery_guarantee(DeliveryGuarantee.AT_LEAST_ONCE)
        .set_property("compression.type", "lz4")
        .set_property("linger.ms", "5")
    )
