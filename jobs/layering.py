"""jobs/layering: events.raw -> ods.<layer> by the live rules of control.layering (broadcast state); bad messages
-> events.quarantine."""

from __future__ import annotations

import logging

from pyflink.common import Types, WatermarkStrategy
from pyflink.datastream import OutputTag
from pyflink.datastream.functions import BroadcastProcessFunction
from pyflink.datastream.state import MapStateDescriptor

from pipelines import messaging
from pipelines.config import Settings
from pipelines.flinkrun.environment import kafka_sink, kafka_source
from pipelines.layering.control import decode_control_message
from pipelines.layering.publish import encode_routed, ods_topic_of
from pipelines.layering.route import route
from pipelines.layering.rules import RuleSet
from pipelines.streaming.decode import decode_message

log = logging.getLogger("trackflow.jobs.layering")
RULES_STATE = MapStateDescriptor("layering-rules", Types.STRING(), Types.STRING())
CURRENT = "current"
DEAD_LETTERS = OutputTag("dead-letters", Types.STRING())
GROUP = "trackflow-layering"


class LayeringFunction(BroadcastProcessFunction):
    """Routes each raw message's events with the newest valid rule set in broadcast state.

    Broadcast state holds the document text (identical on every instance, checkpointed); the compiled RuleSet is
    a per-instance cache keyed by that text. `initial` is the set current when the job was built, used until the
    control stream's first element arrives so a starting job does not route by defaults for a moment.
    """

    def __init__(self, initial: RuleSet):
        self.initial = initial
        self._text: str | None = None
        self._rules = initial

    def _rules_for(self, ctx) -> RuleSet:
        text = ctx.get_broadcast_state(RULES_STATE).get(CURRENT)
        if text is not None and text != self._text:
            self._rules, self._text = decode_control_message(text), text
        return self._rules

    def process_element(self, value, ctx):
        rules = self._rules_for(ctx)
        events, dead = decode_message(value, stage="layering")
        for letter in dead:
            yield DEAD_LETTERS, letter.to_json()
        for event in events:
            routed = route(event, rules)
            yield encode_routed(routed.layer, routed.event)

    def process_broadcast_element(self, value, ctx):
        try:
            candidate = decode_control_message(value)
        except ValueError as exc:  # published around `layering apply`: keep the last good set
            log.error("ignoring invalid layering rules: %s", exc)
            return
        state = ctx.get_broadcast_state(RULES_STATE)
        held = state.get(CURRENT)
        held_version = decode_control_message(held).version if held is not None else self.initial.version
        if candidate.version >= held_version:
            state.put(CURRENT, value)


def build(env, settings: Settings, initial: RuleSet) -> None:
    no_watermarks = WatermarkStrategy.no_watermarks()
    raw = env.from_source(kafka_source(settings, [messaging.RAW], group=GROUP), no_watermarks, "events.raw")
    control = env.from_source(
        kafka_source(settings, [messaging.LAYERING_CONTROL], group=f"{GROUP}-control", from_earliest=True),
        no_watermarks,
        "control.layering",
    ).set_parallelism(1)
    routed = (
        raw.connect(control.broadcast(RULES_STATE))
        .process(LayeringFunction(initial), output_type=Types.STRING())
        .name("route")
    )
    routed.sink_to(kafka_sink(settings, topic_selector=ods_topic_of)).name("ods.<layer>")
    routed.get_side_output(DEAD_LETTERS).sink_to(kafka_sink(settings, messaging.QUARANTINE)).name("events.quarantine")


if __name__ == "__main__":
    from pipelines.flinkrun.runner import main

    main("layering")
