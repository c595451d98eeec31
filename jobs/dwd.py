"""jobs/dwd: ods.* -> normalise -> drop re-sent event_ids -> batched idempotent inserts into dwd_<layer>; a summary
of each insert -> metrics.dwd_written (for jobs/metrics); undecodable messages -> events.quarantine."""

from __future__ import annotations

from pyflink.common import Types, WatermarkStrategy
from pyflink.datastream import OutputTag
from pyflink.datastream.functions import KeyedProcessFunction, ProcessFunction, RuntimeContext
from pyflink.datastream.state import ListStateDescriptor, ValueStateDescriptor

from pipelines import messaging
from pipelines.config import Settings
from pipelines.flinkrun.environment import kafka_sink, kafka_source
from pipelines.streaming.batching import BatchPolicy, layer_of_shard, shard_key
from pipelines.streaming.decode import dead_letter, decode_message
from pipelines.streaming.metrics import WRITTEN_TOPIC, summarise_written
from pipelines.streaming.normalise import normalise
from pipelines.streaming.writer import DetailWriter

DEAD_LETTERS = OutputTag("dwd-dead-letters", Types.STRING())
GROUP = "trackflow-dwd"
ODS_PATTERN = r"ods\..+"


class Normalise(ProcessFunction):
    """ods message -> (shard key, normalised event); the layer comes from the message (set by jobs/layering)."""

    def __init__(self, settings: Settings):
        self.tolerance_ms = settings.clock_skew_tolerance_ms
        self.shards = settings.dwd_write_shards

    def process_element(self, value, ctx):
        events, dead = decode_message(value, stage="dwd")
        for letter in dead:
            yield DEAD_LETTERS, letter.to_json()
        for event in events:
            try:
                clean = normalise(event, self.tolerance_ms)
            except (TypeError, ValueError, OverflowError) as exc:
                yield DEAD_LETTERS, dead_letter("dwd", f"cannot normalise: {exc}", event).to_json()
                continue
            layer = clean.get("layer") or messaging.DEFAULT_LAYER
            yield shard_key(layer, clean["event_id"], self.shards), clean


class BatchWriter(KeyedProcessFunction):
    """Per (layer, shard) key: buffers events in keyed list state (so a buffer survives failures with the checkpoint)
    and writes it when full or when its oldest row is due. Re-sent event_ids are dropped by the writer (within the
    batch, and against what the table already holds): see pipelines/streaming/writer.py."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.policy = BatchPolicy(settings.dwd_batch_rows, settings.dwd_batch_max_delay_ms)

    def open(self, runtime_context: RuntimeContext):
        self.buffer = runtime_context.get_list_state(ListStateDescriptor("buffer", Types.PICKLED_BYTE_ARRAY()))
        self.buffered = runtime_context.get_state(ValueStateDescriptor("buffered", Types.INT()))
        self.due = runtime_context.get_state(ValueStateDescriptor("due", Types.LONG()))
        self.writer = DetailWriter(self.settings)

    def close(self):
        self.writer.close()

    def process_element(self, value, ctx):
        _, event = value
        self.buffer.add(event)
        count = (self.buffered.value() or 0) + 1
        self.buffered.update(count)
        if count == 1:
            due = self.policy.deadline(ctx.timer_service().current_processing_time())
            self.due.update(due)
            ctx.timer_service().register_processing_time_timer(due)
        if self.policy.full(count):
            yield from self.flush(ctx.get_current_key())

    def on_timer(self, timestamp, ctx):
        due = self.due.value()
        if due is not None and timestamp >= due:  # else: a timer of a buffer already flushed for being full
            yield from self.flush(ctx.get_current_key())

    def flush(self, key: str):
        events = list(self.buffer.get() or [])
        self.buffer.clear()
        self.buffered.clear()
        self.due.clear()
        if not events:
            return
        layer = layer_of_shard(key)
        result = self.writer.write(layer, events)
        yield from summarise_written(layer, result.events, result.written_at_ms)


def build(env, settings: Settings) -> None:
    messaging.ensure_topics(settings, [messaging.TopicSpec(WRITTEN_TOPIC, 1, {})])
    ods = env.from_source(
        kafka_source(settings, pattern=ODS_PATTERN, group=GROUP), WatermarkStrategy.no_watermarks(), "ods.*"
    )
    normalised = ods.process(Normalise(settings)).name("normalise")
    written = (
        normalised.key_by(lambda item: item[0], key_type=Types.STRING())
        .process(BatchWriter(settings), output_type=Types.STRING())
        .name("dedup+write dwd_<layer>")
    )
    written.sink_to(kafka_sink(settings, WRITTEN_TOPIC)).name(WRITTEN_TOPIC)
    normalised.get_side_output(DEAD_LETTERS).sink_to(kafka_sink(settings, messaging.QUARANTINE)).name("events.quarantine")


if __name__ == "__main__":
    from pipelines.flinkrun.runner import main

    main("dwd")
