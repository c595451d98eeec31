"""jobs/dwd: ods.* -> drop re-sent event_ids (keyed state with TTL) -> batched idempotent inserts into dwd_<layer>; a
summary of each insert -> metrics.dwd_written (for jobs/metrics); undecodable messages -> events.quarantine.

The events arrive normalised (jobs/layering), in batches: one ods message per (layer, shard) of a layering
micro-batch, keyed by the shard. The records are keyed by that Kafka key on the JVM side (no Python key selector), and
every step here but the dedup works per message, so a record crossing between the JVM and Python carries many
events."""

from __future__ import annotations

import time

from pyflink.common import Time, Types, WatermarkStrategy
from pyflink.datastream import OutputTag
from pyflink.datastream.functions import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ListStateDescriptor, MapStateDescriptor, StateTtlConfig, ValueStateDescriptor

from pipelines import messaging
from pipelines.config import Settings
from pipelines.flinkrun.environment import kafka_sink, kafka_source, keyed_by_first_field
from pipelines.streaming.batching import BatchPolicy, by_layer
from pipelines.streaming.decode import ROUTED_FIELDS, decode_message
from pipelines.streaming.dedup import DedupWindow, by_person, drop_seen
from pipelines.streaming.metrics import WRITTEN_TOPIC, summarise_written
from pipelines.streaming.writer import DetailWriter

DEAD_LETTERS = OutputTag("dwd-dead-letters", Types.STRING())
GROUP = "trackflow-dwd"
ODS_PATTERN = r"ods\..+"


def seen_ttl(ttl_ms: int) -> StateTtlConfig:
    """Expired entries may still be returned until cleaned up: PyFlink turns off its state caches for
    NeverReturnExpired (a JVM round trip per access), and remembering an id a little longer is harmless.

    Cleanup is the heap backend's default (incremental, 5 entries per access) stated explicitly: with the implicit
    default, thread mode converts the config on the task manager through a Py4J gateway it does not have there
    (a session cluster's tasks fail with FileNotFoundError while opening the state)."""
    return (
        StateTtlConfig.new_builder(Time.milliseconds(ttl_ms))
        .set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)
        .set_state_visibility(StateTtlConfig.StateVisibility.ReturnExpiredIfNotCleanedUp)
        .disable_cleanup_in_background()
        .cleanup_incrementally(5, False)
        .build()
    )


class DedupWriter(KeyedProcessFunction):
    """Per shard key (a hash of the person): drops event_ids seen within the TTL (map state person -> {event_id:
    seen at}, so one state read and write per person of a message, not per event), buffers the rest in keyed list
    state (part of the checkpoint) and writes the buffer when full or when its oldest message is due. Events the
    state cannot vouch for (late re-sends, the replay after a restart: pipelines/streaming/dedup.py) are looked up in
    the warehouse first."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.policy = BatchPolicy(settings.dwd_batch_rows, settings.dwd_batch_max_delay_ms)
        self.window = DedupWindow(settings.dwd_dedup_ttl_ms, settings.clock_skew_tolerance_ms)

    def open(self, runtime_context: RuntimeContext):
        pickled = Types.PICKLED_BYTE_ARRAY()
        seen = MapStateDescriptor("seen", Types.STRING(), pickled)
        seen.enable_time_to_live(seen_ttl(self.settings.dwd_dedup_ttl_ms))
        self.seen = runtime_context.get_map_state(seen)
        self.buffer = runtime_context.get_list_state(ListStateDescriptor("buffer", pickled))
        self.buffered = runtime_context.get_state(ValueStateDescriptor("buffered", Types.INT()))
        self.due = runtime_context.get_state(ValueStateDescriptor("due", Types.LONG()))
        self.writer = DetailWriter(self.settings)
        self.written_before: int | None = None  # newest received_at in the warehouse when this run began writing

    def close(self):
        self.writer.close()

    def process_element(self, value, ctx):
        events, dead = decode_message(value, stage="dwd", required=ROUTED_FIELDS)
        for letter in dead:
            yield DEAD_LETTERS, letter.to_json()
        if not events:
            return
        if self.written_before is None:
            self.written_before = self.writer.newest_received_ms()
        now = int(time.time() * 1000)
        fresh = []
        for person, own in by_person(events).items():
            seen = self.window.prune(self.seen.get(person) or {}, now)
            fresh += drop_seen(own, seen, now)
            self.seen.put(person, seen)
        if not fresh:
            return
        suspects = [e["event_id"] for e in fresh if self.window.needs_warehouse_check(e, now, self.written_before)]
        self.buffer.add((fresh, suspects))
        count = (self.buffered.value() or 0) + len(fresh)
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
        events = [event for fresh, _ in batches for event in fresh]
        suspect_ids = {event_id for _, suspects in batches for event_id in suspects}
        for layer, group in by_layer(events).items():
            result = self.writer.write(layer, group, [e for e in group if e["event_id"] in suspect_ids])
            yield from summarise_written(layer, result.events, result.written_at_ms)


def build(env, settings: Settings) -> None:
    messaging.ensure_topics(settings, [messaging.TopicSpec(WRITTEN_TOPIC, 1, {})])
    ods = env.from_source(
        kafka_source(settings, pattern=ODS_PATTERN, group=GROUP, with_keys=True),
        WatermarkStrategy.no_watermarks(),
        "ods.*",
    )
    written = (
        keyed_by_first_field(ods)  # the Kafka key: the shard jobs/layering computed from the person
        .process(DedupWriter(settings), output_type=Types.STRING())
        .name("dedup+write dwd_<layer>")
    )
    written.sink_to(kafka_sink(settings, WRITTEN_TOPIC)).name(WRITTEN_TOPIC)
    written.get_side_output(DEAD_LETTERS).sink_to(kafka_sink(settings, messaging.QUARANTINE)).name("events.quarantine")


if __name__ == "__main__":
    from pipelines.flinkrun.runner import main

    main("dwd")
