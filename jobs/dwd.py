"""jobs/dwd: ods.* -> batched inserts into dwd_<layer>, each event_id once (the warehouse's event index decides: see
pipelines/warehouse/eventindex.py); a summary of each insert and of the duplicates it dropped -> metrics.dwd_written
(for jobs/metrics); undecodable messages -> events.quarantine.

The events arrive normalised (jobs/layering), in batches: one ods message per (layer, shard) of a layering
micro-batch, keyed by the shard. The records are keyed by that Kafka key on the JVM side (no Python key selector), and
every step here works per message, so a record crossing between the JVM and Python carries many events."""

from __future__ import annotations

import time

from pyflink.common import Types
from pyflink.datastream import OutputTag
from pyflink.datastream.functions import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ListStateDescriptor, ValueStateDescriptor

from pipelines import messaging
from pipelines.config import Settings
from pipelines.flinkrun.environment import kafka_sink, kafka_stream, keyed_by_first_field
from pipelines.streaming.batching import BatchPolicy, by_layer
from pipelines.streaming.decode import ROUTED_FIELDS, decode_message
from pipelines.streaming.metrics import WRITTEN_TOPIC, summarise_dropped, summarise_written
from pipelines.streaming.writer import DetailWriter

DEAD_LETTERS = OutputTag("dwd-dead-letters", Types.STRING())
GROUP = "trackflow-dwd"
ODS_PATTERN = r"ods\..+"


class BufferedWriter(KeyedProcessFunction):
    """Per shard key (a hash of the person): buffers decoded events in keyed list state (part of the checkpoint)
    and writes the buffer when full or when its oldest message is due. Which events are new is decided at the write,
    by the event index: keyed state would only know this run's recent ids, and a restore rewinds it."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.policy = BatchPolicy(settings.dwd_batch_rows, settings.dwd_batch_max_delay_ms)

    def open(self, runtime_context: RuntimeContext):
        pickled = Types.PICKLED_BYTE_ARRAY()
        self.buffer = runtime_context.get_list_state(ListStateDescriptor("buffer", pickled))
        self.buffered = runtime_context.get_state(ValueStateDescriptor("buffered", Types.INT()))
        self.due = runtime_context.get_state(ValueStateDescriptor("due", Types.LONG()))
        self.writer = DetailWriter(self.settings)

    def close(self):
        self.writer.close()

    def process_element(self, value, ctx):
        events, dead = decode_message(value, stage="dwd", required=ROUTED_FIELDS)
        for letter in dead:
            yield DEAD_LETTERS, letter.to_json()
        if not events:
            return
        now = int(time.time() * 1000)
        self.buffer.add(events)
        count = (self.buffered.value() or 0) + len(events)
        self.buffered.update(count)
        timers = ctx.timer_service()
        due = self.due.value()
        if due is None:  # the buffer's first message since its last flush: its deadline
            due = self.policy.deadline(now)
            self.due.update(due)
        # Registered with every message (one timer per key and timestamp, so this costs nothing new), and an overdue
        # buffer flushes here: after a restore from a checkpoint, a buffer's restored timer was seen never to fire
        # (docs/streaming.md), and a buffer must not depend on it.
        timers.register_processing_time_timer(due)
        if self.policy.full(count) or due <= now:
            yield from self.flush()

    def on_timer(self, timestamp, ctx):
        due = self.due.value()
        if due is not None and timestamp >= due:  # else: a timer of a buffer already flushed for being full
            yield from self.flush()

    def flush(self):
        batches = list(self.buffer.get() or [])
        self.buffer.clear()
        self.buffered.clear()
        self.due.clear()
        events = [event for message in batches for event in message]
        for layer, group in by_layer(events).items():
            result = self.writer.write(layer, group)
            yield from summarise_written(layer, result.events, result.written_at_ms)
            yield from summarise_dropped(layer, result.dropped)  # counted where the index decided them


def build(env, settings: Settings) -> None:
    messaging.ensure_topics(settings, [messaging.TopicSpec(WRITTEN_TOPIC, 1, {})])
    ods = kafka_stream(env, settings, "ods.*", GROUP, pattern=ODS_PATTERN, with_keys=True)
    written = (
        keyed_by_first_field(ods)  # the Kafka key: the shard jobs/layering computed from the person
        .process(BufferedWriter(settings), output_type=Types.STRING())
        .name("write dwd_<layer> once")
        .uid("dwd:write")  # stable: its buffers restore under any broker incarnation
    )
    written.sink_to(kafka_sink(settings, WRITTEN_TOPIC)).name(WRITTEN_TOPIC).uid("dwd:sink:written")
    (
        written.get_side_output(DEAD_LETTERS)
        .sink_to(kafka_sink(settings, messaging.QUARANTINE))
        .name("events.quarantine")
        .uid("dwd:sink:quarantine")
    )


if __name__ == "__main__":
    from pipelines.flinkrun.runner import main

    main("dwd")
