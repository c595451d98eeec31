"""The rule-aware identity graph: a union-find whose merges must pass the rules. Pure Python, no I/O.

The same class runs in the real-time job (its three maps are Flink keyed MapState), in the offline recompute
(replaying the links of conflicted components in canonical order) and in the tests (plain dicts).

Decisions, each logged with the rule that made it:
  new     a link of two unseen ids (or a lone id) founds a person; its strongest id is the anchor and names it
  join    an unseen id joins the person of the other id of its link
  merge   two persons become one; the older (created_at, then anchor) survives, the other OneID redirects to it
  refuse  the join or merge would break a rule: `unique:<type>` (two values of a unique type) or
          `limit:<type>` (more values of a type within its window than allowed); a refused unseen id founds a
          person of its own
Membership never changes for a link of two ids already in one person (only first/last seen move), except through
`expire`: an id not seen for its type's TTL leaves its person.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter
from dataclasses import dataclass, field
from typing import MutableMapping

from pipelines.identity.links import Link
from pipelines.identity.rules import Rules, node_type

MAX_REDIRECT_HOPS = 32  # a retired id points at its survivor, which may itself retire later: chains stay short


def mint_oneid(anchor: str) -> str:
    """A person's OneID is a digest of its anchor (the id that founded it): deterministic, so the real-time job,
    an offline recompute and a replay all name the same person the same way without a shared counter."""
    return "o" + hashlib.blake2b(anchor.encode(), digest_size=8).hexdigest()


def follow_redirects(redirects, oneid: str) -> str:
    """A retired OneID -> the person it now belongs to (itself when live)."""
    for _ in range(MAX_REDIRECT_HOPS):
        target = redirects.get(oneid)
        if target is None:
            return oneid
        oneid = target
    return oneid


@dataclass
class Person:
    oneid: str
    anchor: str
    created_at: int  # epoch ms: the event time of the founding link
    ids: dict[str, list[int]] = field(default_factory=dict)  # node -> [first_seen, last_seen] (epoch ms)

    def seniority(self) -> tuple[int, str]:
        """Smaller is older: the survivor of a merge."""
        return (self.created_at, self.anchor)

    def touch(self, node: str, ts: int) -> None:
        seen = self.ids.get(node)
        if seen is None:
            self.ids[node] = [ts, ts]
        else:
            if ts < seen[0]:
                seen[0] = ts
            if ts > seen[1]:
                seen[1] = ts

    def to_dict(self) -> dict:
        return {"oneid": self.oneid, "anchor": self.anchor, "created_at": self.created_at, "ids": self.ids}

    @classmethod
    def from_dict(cls, data: dict) -> "Person":
        return cls(data["oneid"], data["anchor"], int(data["created_at"]), {k: [int(v[0]), int(v[1])] for k, v in data["ids"].items()})


@dataclass(frozen=True)
class Decision:
    ts: int
    action: str  # new | join | merge | refuse
    rule: str  # anchor | member | oldest_survives | unique:<type> | limit:<type>
    oneid: str  # the person that holds the result (merge: the survivor; refuse: the person that refused)
    other: str  # merge: the retired OneID; refuse: the other person (or '' for a refused unseen id); else ''
    strong: str
    weak: str

    def to_dict(self) -> dict:
        return {"ts": self.ts, "action": self.action, "rule": self.rule, "oneid": self.oneid, "other": self.other,
                "strong": self.strong, "weak": self.weak}  # fmt: skip


@dataclass
class Outcome:
    decisions: list[Decision] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # OneIDs whose membership changed (to publish their snapshot)
    retired: list[tuple[str, str]] = field(default_factory=list)  # (retired OneID, survivor)


def _by_type(ids: dict[str, list[int]]) -> dict[str, list[tuple[str, int]]]:
    grouped: dict[str, list[tuple[str, int]]] = {}
    for node, seen in ids.items():
        grouped.setdefault(node[: node.index(":")], []).append((node, seen[1]))
    return grouped


def rule_conflict(rules: Rules, left: dict[str, list[int]], right: dict[str, list[int]], ts: int) -> str | None:
    """The rule a union of two id sets would break, or None. Unique types first: they are the strongest evidence.
    One pass over each side (a person holds dozens of ids; this runs for every join and merge)."""
    mine, theirs = _by_type(left), _by_type(right)
    for id_type in rules.unique_types:
        if id_type in mine and id_type in theirs and {n for n, _ in mine[id_type]} != {n for n, _ in theirs[id_type]}:
            return f"unique:{id_type}"
    for rule in rules.limited_types:
        added = theirs.get(rule.name)
        if not added:
            continue
        since = ts - rule.window_ms
        recent = {node for node, last in mine.get(rule.name, ()) if last >= since}
        recent.update(node for node, last in added if last >= since)
        if len(recent) > rule.max_per_person:
            return f"limit:{rule.name}"
    return None


class ExpiryQueue:
    """When ids may expire: a heap of (due, node) with due = last seen + TTL as it was when queued. A node sits in
    the heap at most once; when its due time passes, its real last sighting decides (expired, or queued again
    later), so sightings in between cost nothing here."""

    def __init__(self):
        self.heap: list[tuple[int, str]] = []
        self.queued: set[str] = set()

    def push(self, node: str, due: int) -> None:
        if node not in self.queued:
            self.queued.add(node)
            heapq.heappush(self.heap, (due, node))

    def due(self, now_ms: int) -> list[str]:
        """Pop the nodes due before `now_ms` (all of them first: the caller queues some of them again)."""
        popped = []
        while self.heap and self.heap[0][0] < now_ms:
            node = heapq.heappop(self.heap)[1]
            self.queued.discard(node)
            popped.append(node)
        return popped


class IdentityGraph:
    """Membership: `nodes` (node -> OneID), `persons` (OneID -> Person), `redirects` (retired OneID -> survivor).
    Any MutableMapping works; values read from a mapping are written back after a change (Flink state copies)."""

    def __init__(
        self,
        rules: Rules,
        nodes: MutableMapping[str, str] | None = None,
        persons: MutableMapping[str, Person] | None = None,
        redirects: MutableMapping[str, str] | None = None,
    ):
        self.rules = rules
        self.nodes = {} if nodes is None else nodes
        self.persons = {} if persons is None else persons
        self.redirects = {} if redirects is None else redirects
        self.blocked_nodes: set[str] = set()
        self.blocked_links: set[tuple[str, str]] = set()
        self.rejected: Counter = Counter()
        self.expiry: ExpiryQueue | None = None  # built by the first `expire`: graphs that never expire pay nothing

    # -- links ------------------------------------------------------------------------------------------------
    def unblocked(self, link: Link) -> Link | None:
        """The link as splits leave it: None when an id is blocked; a removed link is a lone id of its strong end
        (the link is gone, the id itself is still a touchpoint)."""
        if link.strong in self.blocked_nodes or link.weak in self.blocked_nodes:
            return None
        if (link.strong, link.weak) in self.blocked_links:
            return Link(link.ts, link.strong, link.strong)
        return link

    def observe(self, link: Link) -> Outcome:
        outcome = Outcome()
        effective = self.unblocked(link)
        if effective is None:
            self.rejected["blocked_by_split"] += 1
            return outcome
        if effective is not link:
            self.rejected["link_removed_by_split"] += 1
        ts, strong, weak = effective
        strong_owner = self.nodes.get(strong)
        if strong == weak:
            if strong_owner is None:
                self._found(strong, ts, link, outcome)
            else:
                self._touch(strong_owner, ts, strong)
            return outcome
        weak_owner = self.nodes.get(weak)
        if strong_owner is None and weak_owner is None:
            founded = self._found(strong, ts, link, outcome)
            self._attach(weak, founded, ts, link, outcome)
        elif weak_owner is None:
            self._attach(weak, strong_owner, ts, link, outcome)
        elif strong_owner is None:
            self._attach(strong, weak_owner, ts, link, outcome)
        elif strong_owner == weak_owner:
            self._touch(strong_owner, ts, strong, weak)
        else:
            self._merge(strong_owner, weak_owner, ts, link, outcome)
        return outcome

    def _found(self, anchor: str, ts: int, link: Link, outcome: Outcome) -> str:
        oneid = mint_oneid(anchor)
        person = Person(oneid, anchor, ts, {anchor: [ts, ts]})
        self.persons[oneid] = person
        self.nodes[anchor] = oneid
        if self.expiry is not None:
            self._queue_expiry(anchor, ts)
        self.redirects.pop(oneid, None)  # a person split off earlier comes back under its old name
        outcome.decisions.append(Decision(ts, "new", "anchor", oneid, "", link.strong, link.weak))
        outcome.changed.append(oneid)
        return oneid

    def _attach(self, node: str, oneid: str, ts: int, link: Link, outcome: Outcome) -> None:
        person = self.persons[oneid]
        reason = self._attach_conflict(person.ids, node, ts)
        if reason:
            own = self._found(node, ts, link, outcome)
            outcome.decisions.append(Decision(ts, "refuse", reason, oneid, own, link.strong, link.weak))
            self._touch(oneid, ts, link.strong if node == link.weak else link.weak)
            return
        for member in (link.strong, link.weak):
            person.touch(member, ts)
        self.nodes[node] = oneid
        if self.expiry is not None:
            self._queue_expiry(node, ts)
        self.persons[oneid] = person
        outcome.decisions.append(Decision(ts, "join", "member", oneid, "", link.strong, link.weak))
        if oneid not in outcome.changed:
            outcome.changed.append(oneid)

    def _attach_conflict(self, ids: dict[str, list[int]], node: str, ts: int) -> str | None:
        """`rule_conflict` for one new id (the common case): only its own type can break a rule."""
        id_type = node_type(node)
        rule = self.rules.rule(id_type)
        if rule is None or not (rule.unique or rule.max_per_person):
            return None
        prefix = id_type + ":"
        if rule.unique and any(member.startswith(prefix) for member in ids):
            return f"unique:{id_type}"
        if rule.max_per_person:
            since = ts - rule.window_ms
            recent = sum(1 for member, seen in ids.items() if seen[1] >= since and member.startswith(prefix))
            if recent + 1 > rule.max_per_person:
                return f"limit:{id_type}"
        return None

    def _merge(self, first: str, second: str, ts: int, link: Link, outcome: Outcome) -> None:
        left, right = self.persons[first], self.persons[second]
        reason = rule_conflict(self.rules, left.ids, right.ids, ts)
        if reason:
            outcome.decisions.append(Decision(ts, "refuse", reason, first, second, link.strong, link.weak))
            self._touch(first, ts, link.strong)
            self._touch(second, ts, link.weak)
            return
        survivor, retired = (left, right) if left.seniority() <= right.seniority() else (right, left)
        for node, seen in retired.ids.items():
            mine = survivor.ids.get(node)
            survivor.ids[node] = list(seen) if mine is None else [min(mine[0], seen[0]), max(mine[1], seen[1])]
            self.nodes[node] = survivor.oneid
        survivor.touch(link.strong, ts)
        survivor.touch(link.weak, ts)
        self.persons[survivor.oneid] = survivor
        del self.persons[retired.oneid]
        self.redirects[retired.oneid] = survivor.oneid
        outcome.decisions.append(Decision(ts, "merge", "oldest_survives", survivor.oneid, retired.oneid, link.strong, link.weak))
        outcome.retired.append((retired.oneid, survivor.oneid))
        outcome.changed.append(survivor.oneid)

    def _touch(self, oneid: str, ts: int, *members: str) -> None:
        person = self.persons[oneid]
        for member in members:
            person.touch(member, ts)
        self.persons[oneid] = person

    # -- TTL --------------------------------------------------------------------------------------------------------
    def expire(self, now_ms: int) -> dict[str, list[str]]:
        """Ids whose last sighting is older than their type's TTL at `now_ms` leave their person, the same test as
        the offline recompute's `ttl_expired`. Returns OneID -> the ids that left; a person with no id left is gone.
        The remaining ids stay together even when an expired id was their only bridge: a split needs the whole
        link history, so it is the next recompute's (reconciliation reason `split_offline`).
        Only ids that may be due are read: the first call queues every id with a TTL, later ones read the queue."""
        if self.expiry is None:
            self.expiry = ExpiryQueue()
            for person in self.persons.values():
                for node, seen in person.ids.items():
                    self._queue_expiry(node, seen[1])
        expired: dict[str, list[str]] = {}
        for node in self.expiry.due(now_ms):
            oneid = self.nodes.get(node)
            person = self.persons.get(oneid) if oneid is not None else None
            seen = person.ids.get(node) if person is not None else None
            if seen is None:
                continue  # left the graph meanwhile (an offline correction, a split)
            if not self._queue_expiry(node, seen[1], now_ms):
                expired.setdefault(oneid, []).append(node)
        for oneid, gone in expired.items():
            person = self.persons[oneid]
            for node in gone:
                del person.ids[node]
                del self.nodes[node]
            if person.ids:
                self.persons[oneid] = person
            else:
                del self.persons[oneid]
        return expired

    def _queue_expiry(self, node: str, last_seen: int, now_ms: int | None = None) -> bool:
        """Queue `node` for when it would expire; False when that moment is already past `now_ms`."""
        rule = self.rules.rule(node_type(node))
        if rule is None or not rule.ttl_ms:
            return True
        due = last_seen + rule.ttl_ms
        if now_ms is not None and due < now_ms:
            return False
        self.expiry.push(node, due)
        return True

    # -- reads ------------------------------------------------------------------------------------------------
    def resolve(self, oneid: str) -> str:
        return follow_redirects(self.redirects, oneid)

    def oneid_of(self, node: str) -> str | None:
        return self.nodes.get(node)

    def membership(self) -> dict[str, str]:
        return dict(self.nodes.items())

    # -- corrections published by the offline recompute (and splits) -----------------------------------------------
    def apply_person(self, person: Person) -> None:
        """Make `person` exactly as given: its ids leave whatever person held them, ids it no longer has leave it."""
        previous = self.persons.get(person.oneid)
        if previous is not None:
            for node in previous.ids:
                if node not in person.ids and self.nodes.get(node) == person.oneid:
                    del self.nodes[node]
        for node in person.ids:
            holder = self.nodes.get(node)
            if holder is not None and holder != person.oneid:
                other = self.persons.get(holder)
                if other is not None:
                    other.ids.pop(node, None)
                    if other.ids:
                        self.persons[holder] = other
                    else:
                        del self.persons[holder]
            self.nodes[node] = person.oneid
            if self.expiry is not None:
                self._queue_expiry(node, person.ids[node][1])
        self.persons[person.oneid] = person
        self.redirects.pop(person.oneid, None)

    def apply_redirect(self, retired: str, survivor: str) -> None:
        person = self.persons.get(retired)
        if person is not None:
            for node in person.ids:
                if self.nodes.get(node) == retired:
                    del self.nodes[node]
            del self.persons[retired]
        self.redirects[retired] = survivor
