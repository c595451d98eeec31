"""jobs/oneid: ods.* event ids -> links -> the identity graph in keyed state -> identity.changes + the warehouse
(oneid_edges, oneid_map, oneid_merge_log). Offline corrections and splits come back in from identity.changes.

The graph is one key: a merge can touch any two persons, so all links meet in one keyed operator (parallelism of
that operator is 1; decoding and writing scale with the job's parallelism). The offline daily recompute is what
scales to the full history; docs/oneid.md has the figures. Arrival order across partitions does not decide: a late
link into a component that breaks a rule is re-decided as the recompute decides it (pipelines/identity/realtime.py),
so the job keeps each component's links in state as well.

Run: `python -m jobs.oneid [--recover latest|none|PATH]` (MiniCluster, same options as the other jobs).
"""

from __future__ import annotations

import json
import logging
from collections import Counter

from pyflink.common import Types
from pyflink.datastream.functions import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import MapStateDescriptor

from pipelines import messaging
from pipelines.config import Settings
from pipelines.flinkrun.environment import kafka_sink, kafka_stream
from pipelines.flinkrun.writers import TimedWarehouseWriter
from pipelines.identity.links import Link, RecentLinks, event_links
from pipelines.identity.metrics import record_links
from pipelines.identity.realtime import MirroredStateMap, RealtimeProcessor, link_message
from pipelines.identity.rules import load_rules
from pipelines.streaming.decode import decode_message

GROUP = "trackflow-oneid"
GRAPH_KEY = "graph"
WRITER_KEY = "oneid-writer"
log = logging.getLogger("trackflow.jobs.oneid")


def to_links(rules, settings: Settings):
    """ods message -> (kind, ts, strong, weak) records: kind "link" for the graph, "repeat" for a pair the graph saw
    within `oneid_link_refresh_ms` (it only counts in oneid_edges). Undecodable messages are the dwd job's to
    quarantine (it reads the same topics); here they are only counted in the log."""
    rejected = Counter()
    recent = RecentLinks(settings.oneid_link_refresh_ms, settings.oneid_link_cache)

    def derive(value):
        events, dead = decode_message(value, stage="oneid")
        if dead:
            log.debug("oneid: %d undecodable events skipped (quarantined by dwd)", len(dead))
        for event in events:
            for link in event_links(rules, event.get("ids"), int(float(event["ts"])), rejected):
                yield "link" if recent.admit(link) else "repeat", link.ts, link.strong, link.weak

    return derive


def to_corrections(value):
    """identity.changes message -> ("change", json) for offline corrections and splits (own output is skipped)."""
    try:
        message = json.loads(value)
    except ValueError:
        return
    if isinstance(message, dict) and (message.get("source") == "offline" or message.get("kind") == "block"):
        yield "change", value, "", ""


class GraphFunction(KeyedProcessFunction):
    def __init__(self, rules):
        self.rules = rules  # loaded once on the client and shipped: workers need not see the rules file

    def open(self, runtime_context: RuntimeContext):
        pickled = Types.PICKLED_BYTE_ARRAY()
        self.states = [
            runtime_context.get_map_state(MapStateDescriptor(name, Types.STRING(), kind))
            for name, kind in (("nodes", Types.STRING()), ("persons", pickled), ("redirects", Types.STRING()), ("blocks", Types.BOOLEAN()),
                               ("component_roots", Types.STRING()), ("components", pickled))  # fmt: skip
        ]
        self.processor = None  # built on the first record: keyed state is only readable inside a key's context

    def process_element(self, value, ctx):
        if self.processor is None:
            nodes, persons, redirects, blocks, roots, components = (MirroredStateMap(state) for state in self.states)
            self.processor = RealtimeProcessor(self.rules, nodes, persons, redirects, blocks,
                                               component_roots=roots, component_links=components)  # fmt: skip
        kind, first, strong, weak = value
        if kind == "link":
            yield from self.processor.on_link(Link(int(first), strong, weak))
        else:
            self.processor.on_change(json.loads(first))


class WarehouseWriter(TimedWarehouseWriter):
    """Writes buffered links and changes every `oneid_flush_ms`: oneid_edges, oneid_map and oneid_merge_log. Writes
    are idempotent in effect: edges fold with min/max, map rows are versioned states, a replayed decision is a
    duplicate log line at worst."""

    def __init__(self, settings: Settings, rules_label: str):
        super().__init__(settings, flush_ms=settings.oneid_flush_ms)
        self.rules_label = rules_label

    def write(self, items: list) -> None:
        from pipelines.identity import store

        messages = [json.loads(value) for value in items]
        links = [Link(m["ts"], m["strong"], m["weak"]) for m in messages if m["kind"] == "link"]
        store.write_links(self.warehouse, links)
        record_links(self.warehouse, len(links))  # links/s for monitoring (pipelines/identity/metrics.py)
        store.write_messages(self.warehouse, [m for m in messages if m["kind"] != "link"], self.rules_label)


def build(env, settings: Settings) -> None:
    rules = load_rules(settings.identity_rules)  # fail fast on the client when the rules file is invalid
    record = Types.TUPLE([Types.STRING(), Types.STRING(), Types.STRING(), Types.STRING()])
    events = kafka_stream(env, settings, "ods.*", GROUP, pattern=settings.oneid_source_pattern)
    derive = to_links(rules, settings)
    links = events.flat_map(lambda value: ((k, str(ts), s, w) for k, ts, s, w in derive(value)), output_type=record).name("ids -> links")
    corrections = kafka_stream(
        env, settings, "identity.changes", f"{GROUP}-corrections", [messaging.IDENTITY_CHANGES]
    ).flat_map(to_corrections, output_type=record).name("offline corrections")
    changes = (
        links.filter(lambda item: item[0] == "link")
        .union(corrections)
        .key_by(lambda item: GRAPH_KEY, key_type=Types.STRING())
        .process(GraphFunction(rules), output_type=Types.STRING())
        .name("identity graph")
        .uid("oneid:graph")
    )
    changes.sink_to(kafka_sink(settings, messaging.IDENTITY_CHANGES)).name(messaging.IDENTITY_CHANGES).uid("oneid:sink:changes")
    # Links go to oneid_edges straight from the decoder: the single graph task only decides.
    link_rows = links.map(lambda item: link_message(Link(int(item[1]), item[2], item[3])), output_type=Types.STRING())
    (
        changes.union(link_rows)
        .key_by(lambda item: WRITER_KEY, key_type=Types.STRING())
        .process(WarehouseWriter(settings, rules.label))
        .name("write oneid tables")
        .uid("oneid:write")
    )


def run(settings: Settings | None = None, recover: str = "latest", parallelism: int | None = None, wait: bool = True):
    """Build and start on a local MiniCluster (the streaming runner's options and checkpoint recovery)."""
    from pipelines.config import get_settings
    from pipelines.flinkrun.environment import flink_configuration, runtime_settings, stream_environment
    from pipelines.flinkrun.runner import resolve_recovery

    settings = runtime_settings(settings or get_settings())
    messaging.ensure_topics(settings)
    options = flink_configuration(settings, "oneid", parallelism, resolve_recovery(settings, "oneid", recover))
    env = stream_environment(options)
    build(env, settings)
    return env.execute(options["pipeline.name"]) if wait else env.execute_async(options["pipeline.name"])


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recover", default="latest", help="latest | none | a checkpoint or savepoint path")
    parser.add_argument("--parallelism", type=int, default=None)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    run(recover=arguments.recover, parallelism=arguments.parallelism)
