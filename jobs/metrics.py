"""jobs/metrics: per-minute counts of every stage (collected, raw, ods.<layer>, dwd.<layer>, quarantined) per app and
event, and the received_at -> warehouse latency histogram, into pipeline_metrics. Also runs jobs/quarantine (the
quarantine table's loader) and jobs/person_properties (the person-property table's loader)."""

from __future__ import annotations

import json

from pyflink.common import Types
from pyflink.datastream.functions import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ValueStateDescriptor

from jobs import person_properties, quarantine
from pipelines import messaging
from pipelines.config import Settings
from pipelines.flinkrun.environment import kafka_stream
from pipelines.flinkrun.writers import TimedWarehouseWriter
from pipelines.streaming.decode import decode_message
from pipelines.streaming.metrics import METRIC_COLUMNS, WRITTEN_TOPIC, MinuteCounts, minute_of

GROUP = "trackflow-metrics"
KEY_SEPARATOR = "\x1f"
WRITER_KEY = "pipeline_metrics"


def stage_counts(stage: str):
    """Message of an event topic -> (metric key, summary) per event: one count each."""

    def observe(value):
        events, _ = decode_message(value, stage="metrics")
        for event in events:
            at = int(float(event.get("received_at") or event["ts"]))
            name = stage if stage != "ods" else f"ods.{event.get('layer') or messaging.DEFAULT_LAYER}"
            yield metric_key(minute_of(at), name, str(event["app_id"]), str(event["event"])), 1, None
        # Malformed messages are not counted here: the dead letters they became are, as `quarantined`.

    return observe


def quarantined(value):
    try:
        letter = json.loads(value)
        at = int(letter.get("rejected_at") or 0) if isinstance(letter, dict) else 0
    except ValueError:
        letter, at = {}, 0
    letter = letter if isinstance(letter, dict) else {}
    yield metric_key(minute_of(at), "quarantined", str(letter.get("app_id") or ""), str(letter.get("event") or "")), 1, None


def summarised(value):
    """A summary message (the dwd job's per insert, the collector's per flush) -> its metric key and count."""
    summary = json.loads(value)
    yield (
        metric_key(int(summary["minute"]), summary["stage"], summary["app_id"], summary["event"]),
        int(summary["events"]),
        summary.get("latency_ms_hist") or {},
    )


def metric_key(minute_s: int, stage: str, app_id: str, event: str) -> str:
    return KEY_SEPARATOR.join((str(minute_s), stage, app_id, event))


class CountPerKey(KeyedProcessFunction):
    """Adds up one metric key in keyed state and hands the delta on at the next flush tick."""

    def __init__(self, flush_ms: int):
        self.flush_ms = flush_ms

    def open(self, runtime_context: RuntimeContext):
        self.count = runtime_context.get_state(ValueStateDescriptor("count", Types.LONG()))
        self.histogram = runtime_context.get_state(ValueStateDescriptor("histogram", Types.PICKLED_BYTE_ARRAY()))

    def process_element(self, value, ctx):
        _, events, histogram = value
        previous = self.count.value()
        self.count.update((previous or 0) + events)
        if histogram:
            merged = dict(self.histogram.value() or {})
            for bound, n in histogram.items():
                merged[int(bound)] = merged.get(int(bound), 0) + int(n)
            self.histogram.update(merged)
        if previous is None:  # first delta since the last flush: schedule this key's next tick
            now = ctx.timer_service().current_processing_time()
            ctx.timer_service().register_processing_time_timer((now // self.flush_ms + 1) * self.flush_ms)

    def on_timer(self, timestamp, ctx):
        minute, stage, app_id, event = ctx.get_current_key().split(KEY_SEPARATOR)
        yield int(minute), stage, app_id, event, self.count.value() or 0, self.histogram.value() or {}
        self.count.clear()
        self.histogram.clear()


class MetricsWriter(TimedWarehouseWriter):
    """Collects the deltas of one tick into a single insert."""

    state_type = Types.PICKLED_BYTE_ARRAY()

    def __init__(self, settings: Settings):
        super().__init__(settings, flush_ms=500)

    def write(self, items: list) -> None:
        counts = MinuteCounts()
        for minute, stage, app_id, event, events, histogram in items:
            counts.merge_summary(
                {"minute": minute, "stage": stage, "app_id": app_id, "event": event, "events": events, "latency_ms_hist": histogram}
            )
        if len(counts):
            self.warehouse.insert("pipeline_metrics", counts.rows(job="metrics"), METRIC_COLUMNS, settings={"async_insert": 0})


def build(env, settings: Settings) -> None:
    messaging.ensure_topics(settings, [messaging.TopicSpec(WRITTEN_TOPIC, 1, {})])

    def read(name: str, observe, topics=None, pattern=None):
        stream = kafka_stream(env, settings, f"metrics:{name}", f"{GROUP}-{name}", topics, pattern)
        return stream.flat_map(observe).name(f"count {name}").uid(f"metrics:count-{name}")

    deltas = read("raw", stage_counts("raw"), [messaging.RAW]).union(
        read("ods", stage_counts("ods"), pattern=r"ods\..+"),
        read("quarantine", quarantined, [messaging.QUARANTINE]),
        read("dwd", summarised, [WRITTEN_TOPIC]),
        read("collected", summarised, [messaging.COLLECTED_COUNTS]),
    )
    (
        deltas.key_by(lambda delta: delta[0], key_type=Types.STRING())
        .process(CountPerKey(settings.metrics_flush_ms))
        .uid("metrics:count-per-key")
        .key_by(lambda row: WRITER_KEY, key_type=Types.STRING())
        .process(MetricsWriter(settings))
        .name("insert pipeline_metrics")
        .uid("metrics:write")
    )
    quarantine.build(env, settings)
    person_properties.build(env, settings)


if __name__ == "__main__":
    from pipelines.flinkrun.runner import main

    main("metrics")
