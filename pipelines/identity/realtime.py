"""What the real-time job does per record, without Flink: links in, identity.changes messages out.

`RealtimeProcessor` wraps an `IdentityGraph` over any mappings: the job hands it Flink MapState (through
`StateMap`), the tests hand it dicts. Offline corrections and splits arrive on identity.changes and are applied
to the same state, so after a publish the real-time graph is the offline one.

Arrival order does not decide: a link that arrives after links that sort after it (another partition, a late
batch) into a component that breaks a rule as a whole is re-decided by replaying that component's links through the
offline recompute (`components.py` says why only those), and the changes are published like any other.
"""

from __future__ import annotations

import json
from typing import Any, Iterator, MutableMapping

import pandas as pd

from pipelines.identity import changes
from pipelines.identity.components import Components, conflicted, grouping
from pipelines.identity.graph import IdentityGraph, Person
from pipelines.identity.links import Link
from pipelines.identity.offline import Blocks, recompute
from pipelines.identity.reconcile import differences, publish_messages
from pipelines.identity.rules import Rules

SOURCE = "realtime"
BLOCK_PREFIX = {"value": "v", "link": "l"}
TTL_SWEEP_MS = 3_600_000  # expiry is checked once per hour of event time: a sweep reads every person


class StateMap(MutableMapping):
    """A Flink MapState seen as a dict (the graph core only needs get/set/delete/contains)."""

    def __init__(self, state):
        self.state = state

    def __getitem__(self, key):
        if not self.state.contains(key):
            raise KeyError(key)
        return self.state.get(key)

    def get(self, key, default=None):
        value = self.state.get(key)
        return default if value is None else value

    def __setitem__(self, key, value):
        self.state.put(key, value)

    def __delitem__(self, key):
        self.state.remove(key)

    def __contains__(self, key):
        return self.state.contains(key)

    def __iter__(self):
        return iter(list(self.state.keys()))

    def __len__(self):
        return sum(1 for _ in self.state.keys())

    def items(self):
        return list(self.state.items())

    def pop(self, key, default=None):
        value = self.state.get(key)
        if value is None:
            return default
        self.state.remove(key)
        return value


class MirroredStateMap(StateMap):
    """A MapState with every entry mirrored in a Python dict: reads never go to the state backend (in PyFlink a
    read of a key missing from the small read cache is a round trip to the JVM, and nearly every link asks about an
    id never seen before). Writes go to both, so the checkpoint holds everything. Built once per task after a
    (re)start, inside a key's context, with one iteration over the state."""

    def __init__(self, state):
        super().__init__(state)
        self.mirror = dict(state.items())

    def __getitem__(self, key):
        return self.mirror[key]

    def get(self, key, default=None):
        return self.mirror.get(key, default)

    def __setitem__(self, key, value):
        self.mirror[key] = value
        self.state.put(key, value)

    def __delitem__(self, key):
        del self.mirror[key]
        self.state.remove(key)

    def __contains__(self, key):
        return key in self.mirror

    def __iter__(self):
        return iter(list(self.mirror))

    def __len__(self):
        return len(self.mirror)

    def items(self):
        return list(self.mirror.items())

    def pop(self, key, default=None):
        if key not in self.mirror:
            return default
        self.state.remove(key)
        return self.mirror.pop(key)


class RealtimeProcessor:
    """Links and offline corrections in, identity.changes messages out. TTLs run on event time: the newest link
    timestamp seen is "now", so a replay expires the same ids as the original run did."""

    def __init__(self, rules: Rules, nodes: MutableMapping, persons: MutableMapping, redirects: MutableMapping,
                 blocks: MutableMapping, sweep_ms: int = TTL_SWEEP_MS, component_roots: MutableMapping | None = None,
                 component_links: MutableMapping | None = None):  # fmt: skip
        self.graph = IdentityGraph(rules, nodes, persons, redirects)
        self.blocks = blocks  # "v<node>" or "l<strong>\x1f<weak>" -> True: splits survive restarts with the state
        for key in list(blocks):
            self._remember_block(key)
        self.components = Components(
            {} if component_roots is None else component_roots, {} if component_links is None else component_links
        )
        self.clock = changes.VersionClock()
        self.sweep_ms = sweep_ms
        self.next_sweep: int | None = None  # after a (re)start the first link sweeps
        self.now: int = 0  # the newest link time seen: event-time "now" for TTLs
        self.redecided = 0  # components re-decided because a link arrived out of order (for tests and the benchmark)

    def _remember_block(self, key: str) -> None:
        if key.startswith("v"):
            self.graph.blocked_nodes.add(key[1:])
        else:
            strong, _, weak = key[1:].partition("\x1f")
            self.graph.blocked_links.add((strong, weak))

    def on_link(self, link: Link) -> Iterator[str]:
        self.now = max(self.now, link.ts)
        effective = self.graph.unblocked(link)
        late_in = None
        if effective is not None:
            root, late = self.components.add(effective, self.graph.nodes)
            late_in = root if late else None
        outcome = self.graph.observe(link)
        for retired, survivor in outcome.retired:
            yield changes.redirect_message(retired, survivor, self.clock.next(), SOURCE)
        for oneid in outcome.changed:
            person = self.graph.persons.get(oneid)
            if person is not None:
                yield changes.person_message(person, self.clock.next(), SOURCE)
        for decision in outcome.decisions:
            if decision.action != "join":  # joins are the common case and visible in oneid_map already
                yield changes.decision_message(decision, SOURCE)
        if late_in is not None:
            yield from self._redecide(late_in)
        yield from self._sweep(link.ts)

    def _sweep(self, ts: int) -> Iterator[str]:
        if self.graph.rules.expires and (self.next_sweep is None or ts >= self.next_sweep):
            yield from self.expire(ts)

    def _redecide(self, root: str) -> list[str]:
        """A late link was just decided in arrival order: if its component's links in canonical order group the
        ids otherwise, re-decide the component with the offline recompute (names kept as the daily run keeps them)
        and publish the changes after the link's own (later versions win everywhere). Returns those messages.
        Skipped: a component that breaks no rule as a whole (any order gives the same membership), and one the job
        knows only in part (ids from a state older than the component tracking, or persons reaching into another
        component through an offline correction): the daily recompute has all their links, and its
        reconciliation reports what differs."""
        graph = self.graph
        component = self.components.members[root]
        nodes = component.nodes()
        if not component.complete or not conflicted(graph.rules, nodes):
            return []
        realtime = {node: graph.nodes[node] for node in nodes if node in graph.nodes}
        held = {oneid: graph.persons[oneid] for oneid in set(realtime.values())}
        if any(not nodes.issuperset(person.ids) for person in held.values()):
            component.complete = False
            self.components.members[root] = component
            return []
        if self._replay_agrees(component, realtime):
            return []
        previous = pd.DataFrame(
            [(node, oneid, held[oneid].created_at, held[oneid].anchor) for node, oneid in realtime.items()],
            columns=["node", "oneid", "created_at", "anchor"],
        )
        blocks = Blocks(set(graph.blocked_nodes), set(graph.blocked_links))
        result = recompute(graph.rules, component.frame(), previous, blocks=blocks, now_ms=self.now if graph.rules.expires else None)
        diff = differences(realtime, result, result.dropped)
        if diff.empty:
            return []
        self.redecided += 1
        messages = publish_messages(result, realtime, graph.redirects, diff, SOURCE, self.clock)
        for message in messages:
            self._apply(json.loads(message))
        return messages

    def _replay_agrees(self, component, realtime: dict[str, str]) -> bool:
        """The cheap test first (no DataFrames): replay the component's links in canonical order through a fresh
        graph, as the recompute does for a conflicted component, and compare the grouping. Only a component without
        splits or ids past their TTL replays this way; the others go to the recompute, which handles both."""
        rules, graph = self.graph.rules, self.graph
        if not graph.blocked_nodes.isdisjoint(realtime) or not graph.blocked_links.isdisjoint(component.links):
            return False
        if rules.expires and component.expired(rules, self.now):
            return False
        replay = IdentityGraph(rules)
        for (strong, weak), seen in sorted(component.links.items(), key=lambda item: (item[1][0], item[0])):
            replay.observe(Link(seen[0], strong, weak))
        return grouping(replay.nodes) == grouping(realtime)

    def expire(self, now_ms: int) -> Iterator[str]:
        """Drop the ids past their TTL at `now_ms`: the rest of a person is republished, the ids that left are
        deleted (oneid_map rows marked deleted, the lookup index forgets them)."""
        self.next_sweep = now_ms + self.sweep_ms
        for oneid, nodes in self.graph.expire(now_ms).items():
            person = self.graph.persons.get(oneid)
            if person is not None:
                yield changes.person_message(person, self.clock.next(), SOURCE)
            yield changes.delete_message(oneid, nodes, self.clock.next(), SOURCE)

    def on_change(self, message: dict[str, Any]) -> None:
        """Apply an offline correction or a split; the job's own messages come back here too and are skipped."""
        kind = message.get("kind")
        if kind == "block":
            key = BLOCK_PREFIX[message["block"]] + (message["strong"] if message["block"] == "value" else f"{message['strong']}\x1f{message['weak']}")
            self.blocks[key] = True
            self._remember_block(key)
            return
        if message.get("source") == "offline":
            self._apply(message)

    def _apply(self, message: dict[str, Any]) -> None:
        """Make a published person, redirect or delete the state (decisions change nothing here)."""
        kind = message.get("kind")
        if kind == "person":
            self.graph.apply_person(Person.from_dict(message))
        elif kind == "redirect":
            self.graph.apply_redirect(message["oneid"], message["to"])
        elif kind == "delete":
            person = self.graph.persons.get(message["oneid"])
            for node in message["nodes"]:
                if self.graph.nodes.get(node) == message["oneid"]:
                    del self.graph.nodes[node]
                if person is not None:
                    person.ids.pop(node, None)
            if person is not None:
                if person.ids:
                    self.graph.persons[message["oneid"]] = person
                else:
                    del self.graph.persons[message["oneid"]]


def link_message(link: Link) -> str:
    return json.dumps({"kind": "link", "ts": link.ts, "strong": link.strong, "weak": link.weak}, separators=(",", ":"))
