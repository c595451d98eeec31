"""jobs/layering: events.raw -> micro-batches of raw messages (on the JVM side) -> decode, normalise, route by the
live rules of control.layering (broadcast state) -> ods.<layer>, one message per (layer, dwd shard) of each
micro-batch, keyed by the shard; bad messages -> events.quarantine."""

from __future__ import annotations

import logging

from pyflink.common import Row, Types
from pyflink.datastream import OutputTag
from pyflink.datastream.functions import BroadcastProcessFunction
from pyflink.datastream.state import MapStateDescriptor

from pipelines import messaging
from pipelines.config import Settings
from pipelines.flinkrun.environment import kafka_sink, kafka_stream, keyed_kafka_sink, micro_batches
from pipelines.layering.control import decode_control_message
from pipelines.layering.publish import ods_records
from pipelines.layering.route import route
from pipelines.layering.rules import RuleSet
from pipelines.streaming.decode import dead_letter, decode_message
from pipelines.streaming.normalise import normalise

log = logging.getLogger("trackflow.jobs.layering")
RULES_STATE = MapStateDescriptor("layering-rules", Types.STRING(), Types.STRING())
CURRENT = "current"
DEAD_LETTERS = OutputTag("dead-letters", Types.STRING())
GROUP = "trackflow-layering"
ODS_RECORD = Types.ROW([Types.STRING(), Types.STRING(), Types.STRING()])  # topic, key, value: keyed_kafka_sink's input


class LayeringFunction(BroadcastProcessFunction):
    """Normalises and routes the events of a micro-batch of raw messages with the newest valid rule set in broadcast
    state.

    Events are decoded and normalised once, here: the dwd job writes them as they come. A micro-batch yields one
    record per (layer, dwd shard), so the records crossing into Python stay few in both jobs whatever the messages'
    size (one event each, as beacons send, or a batch request's).

    Broadcast state holds the document text (identical on every instance, checkpointed); the compiled RuleSet is
    a per-instance cache keyed by that text. `initial` is the set current when the job was built, used until the
    control stream's first element arrives so a starting job does not route by defaults for a moment.
    """

    def __init__(self, initial: RuleSet, skew_tolerance_ms: int, shards: int):
        self.initial = initial
        self.skew_tolerance_ms = skew_tolerance_ms
        self.shards = shards
        self._text: str | None = None
        self._rules = initial
        self._rules_state = None

    def _rules_for(self, ctx) -> RuleSet:
        # The handle wraps the operator's live broadcast state (updates by process_broadcast_element show through it);
        # fetched once because fetching converts the descriptor to Java on every call: a third of this function's
        # time per single-event message in thread mode.
        if self._rules_state is None:
            self._rules_state = ctx.get_broadcast_state(RULES_STATE)
        text = self._rules_state.get(CURRENT)
        if text is not None and text != self._text:
            self._rules, self._text = decode_control_message(text), text
        return self._rules

    def process_element(self, messages, ctx):
        rules = self._rules_for(ctx)
        routed = []
        for value in messages:
            events, dead = decode_message(value, stage="layering")
            for letter in dead:
                yield DEAD_LETTERS, letter.to_json()
            for event in events:
                try:
                    clean = normalise(event, self.skew_tolerance_ms)
                except (TypeError, ValueError, OverflowError) as exc:
                    yield DEAD_LETTERS, dead_letter("layering", f"cannot normalise: {exc}", event).to_json()
                    continue
                result = route(clean, rules)
                routed.append((result.layer, result.event))
        for record in ods_records(routed, self.shards):
            yield Row(*record)

    def process_broadcast_element(self, value, ctx):
        try:
            candidate = decode_control_message(value)
        except ValueError as exc:  # published around `layering apply`: keep the last good set
            log.error("ignoring invalid layering rules: %s", exc)
            return ()  # no output; thread mode iterates the result, and None fails the task
        state = ctx.get_broadcast_state(RULES_STATE)
        held = state.get(CURRENT)
        held_version = decode_control_message(held).version if held is not None else self.initial.version
        if candidate.version >= held_version:
            state.put(CURRENT, value)
        return ()


def build(env, settings: Settings, initial: RuleSet) -> None:
    # Stable uids: a restore maps state to operators by them (sources' uids name the broker incarnation).
    raw = micro_batches(
        kafka_stream(env, settings, "events.raw", GROUP, [messaging.RAW]),
        settings.layering_batch_messages,
        settings.layering_batch_chars,
        settings.layering_batch_max_delay_ms,
    ).uid("layering:micro-batch")
    control = kafka_stream(
        env, settings, "control.layering", f"{GROUP}-control", [messaging.LAYERING_CONTROL], from_earliest=True
    ).set_parallelism(1)
    routed = (
        raw.connect(control.broadcast(RULES_STATE))
        .process(
            LayeringFunction(initial, settings.clock_skew_tolerance_ms, settings.dwd_write_shards),
            output_type=ODS_RECORD,
        )
        .name("normalise+route")
        .uid("layering:normalise+route")
    )
    routed.sink_to(keyed_kafka_sink(settings)).name("ods.<layer>").uid("layering:sink:ods")
    (
        routed.get_side_output(DEAD_LETTERS)
        .sink_to(kafka_sink(settings, messaging.QUARANTINE))
        .name("events.quarantine")
        .uid("layering:sink:quarantine")
    )


if __name__ == "__main__":
    from pipelines.flinkrun.runner import main

    main("layering")
