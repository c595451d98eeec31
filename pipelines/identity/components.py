"""Which ids the real-time job's links ever tied together, ignoring the rules, with the links of each such
component: what the job needs to re-decide a component the way the offline recompute does when a link arrives
out of canonical order.

Why: the graph's decisions for a component depend only on the order of that component's links. Links that arrive
in canonical order (`links.link_order`) give exactly the offline result; a component that breaks no rule as a whole
gives the same membership in any order (the rules are monotone). So only a *late* link (one that sorts before the
newest link the component has seen) into a *conflicted* component (more ids of a unique or limited type than
allowed, the offline test) can make real time differ from the recompute: then the job replays the component's
links through the recompute itself (`offline.recompute`), so both sides apply one rule.

Both mappings are Flink MapState in the job (dicts in tests): `roots` node -> its component's root node, `members`
root -> `ComponentLinks`. A union moves the smaller component into the larger one, so an id is relabelled at most
log2(n) times.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import MutableMapping

import pandas as pd

from pipelines.identity.links import Link, link_order
from pipelines.identity.rules import Rules, node_type


@dataclass
class ComponentLinks:
    links: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (strong, weak) -> [first, last] seen
    newest: tuple = ()  # the latest link in canonical order seen so far
    complete: bool = True  # False: it holds an id the job knew before it saw its links (see `Components.add`)

    def nodes(self) -> set[str]:
        return {node for pair in self.links for node in pair}

    def expired(self, rules: Rules, now_ms: int) -> bool:
        """Whether an id here was last seen longer ago than its type's TTL (the recompute would drop it)."""
        last: dict[str, int] = {}
        for pair, seen in self.links.items():
            for node in pair:
                last[node] = max(last.get(node, seen[1]), seen[1])
        for node, seen in last.items():
            rule = rules.rule(node_type(node))
            if rule is not None and rule.ttl_ms and seen < now_ms - rule.ttl_ms:
                return True
        return False

    def frame(self) -> pd.DataFrame:
        """The links as the recompute reads them from oneid_edges."""
        rows = [(strong, weak, seen[0], seen[1]) for (strong, weak), seen in self.links.items()]
        return pd.DataFrame(rows, columns=["strong", "weak", "first_seen", "last_seen"])


class Components:
    def __init__(self, roots: MutableMapping[str, str], members: MutableMapping[str, ComponentLinks]):
        self.roots = roots
        self.members = members

    def add(self, link: Link, known: MutableMapping[str, str]) -> tuple[str, bool]:
        """Record `link`; returns its component's root and whether the link is late: it adds to what a replay reads
        (a new pair, or an earlier first sighting of one) and sorts before the newest link of a component it joins.
        A repeat of a known pair changes only its last sighting, which no decision of a replay reads. An id that
        `known` (the graph's nodes) already holds but this tracker never saw came from a state older than the tracker
        or from an offline correction: its component is marked incomplete, because a replay of the links known here
        would not be the whole story."""
        pair = (link.strong, link.weak)
        key = link_order(link)
        roots = [self.roots.get(node) for node in dict.fromkeys(pair)]
        if None not in roots:
            root = roots[0]
            component = self.members[root]
            seen = component.links.get(pair)
            if seen is not None and seen[0] <= link.ts:
                if link.ts > seen[1]:
                    seen[1] = link.ts
                    self.members[root] = component  # written back: Flink state holds a copy
                return root, False
        late = any(root is not None and key < self.members[root].newest for root in roots)
        root = None
        for node, other in zip(dict.fromkeys(pair), roots):
            if other is None:
                other = root if root is not None else node
                self.roots[node] = other
                if other == node:
                    self.members[node] = ComponentLinks(complete=node not in known)
                elif node in known:
                    self.members[other].complete = False
            root = other if root is None else self._union(root, other)
        component = self.members[root]
        seen = component.links.get(pair)
        if seen is None:
            component.links[pair] = [link.ts, link.ts]
        else:
            seen[0], seen[1] = min(seen[0], link.ts), max(seen[1], link.ts)
        component.newest = max(component.newest, key)
        self.members[root] = component  # written back: Flink state holds a copy
        return root, late

    def _union(self, first: str, second: str) -> str:
        if first == second:
            return first
        big, small = self.members[first], self.members[second]
        if len(big.links) < len(small.links):
            first, second, big, small = second, first, small, big
        for node in small.nodes() | {second}:
            self.roots[node] = first
        for pair, seen in small.links.items():  # a pair lives in one component: the two never share a link
            big.links[pair] = seen
        big.newest = max(big.newest, small.newest)
        big.complete = big.complete and small.complete
        del self.members[second]
        self.members[first] = big
        return first


def conflicted(rules: Rules, nodes: set[str]) -> bool:
    """The offline recompute's test: more ids of a unique or limited type than one person may hold."""
    for id_type, count in Counter(map(node_type, nodes)).items():
        rule = rules.rule(id_type)
        limit = 0 if rule is None else 1 if rule.unique else rule.max_per_person
        if limit and count > limit:
            return True
    return False


def grouping(mapping: MutableMapping[str, str]) -> set[frozenset[str]]:
    """Id -> OneID as the sets of ids held together, whatever the names."""
    members: dict[str, set[str]] = {}
    for node, oneid in mapping.items():
        members.setdefault(oneid, set()).add(node)
    return {frozenset(nodes) for nodes in members.values()}
