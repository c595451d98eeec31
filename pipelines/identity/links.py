"""An event's `ids` -> the links it proves. Pure: the real-time job, the generator and the tests all call this.

One event proves that its ids belong to one person at that moment. We link every id to the event's strongest id
(a star, not all pairs): n ids give n-1 links that connect them all, and a refused link (say a shared device next
to a second user_id) then refuses exactly that id instead of every pair it is part of.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Any, Iterable, NamedTuple

from pipelines.identity.rules import Rules


class Link(NamedTuple):
    """`strong` and `weak` are node keys ("type:value"), `strong` the one with the lower (priority, key); a lone id
    is a link of a node to itself, so it still gets a person."""

    ts: int  # epoch ms of the event
    strong: str
    weak: str


def orient(rules: Rules, a: str, b: str) -> tuple[str, str]:
    return (a, b) if (rules.priority(a), a) <= (rules.priority(b), b) else (b, a)


def event_links(rules: Rules, ids: dict[str, Any] | None, ts: int, rejected: Counter | None = None) -> list[Link]:
    """Links of one event, in a canonical order (so replaying the same events gives the same decisions). Junk
    values are dropped and counted in `rejected` by reason."""
    nodes = set()
    for id_type, value in (ids or {}).items():
        node, reason = rules.normalise(str(id_type), value)
        if node is None:
            if rejected is not None and reason != "empty":
                rejected[reason] += 1
            continue
        nodes.add(node)
    if not nodes:
        return []
    ranked = sorted(nodes, key=lambda node: (rules.priority(node), node))
    strongest = ranked[0]
    if len(ranked) == 1:
        return [Link(ts, strongest, strongest)]
    return [Link(ts, strongest, other) for other in ranked[1:]]


def links_of_events(rules: Rules, events: Iterable[dict[str, Any]], rejected: Counter | None = None) -> list[Link]:
    links: list[Link] = []
    for event in events:
        links.extend(event_links(rules, event.get("ids"), int(float(event["ts"])), rejected))
    return links


def link_order(link: Link) -> tuple:
    """The canonical processing order (event time, then the pair): offline replay uses it, and a real-time run that
    sees links in this order reaches exactly the offline result."""
    return (link.ts, link.strong, link.weak)


class RecentLinks:
    """Which links the graph needs to see. A person's events repeat the same ids all session long, and a link the
    graph saw a moment ago changes nothing there but last-seen times: `admit` passes a pair the first time, again
    once `refresh_ms` of event time has passed since it last passed, and whenever it is older than anything passed
    (an earlier first sighting). So the graph's work follows new pairs, not events, and its last-seen times are
    exact to `refresh_ms` (far below any TTL or limit window). Bounded: the least recently seen pairs are forgotten,
    which only means their next sighting passes again."""

    def __init__(self, refresh_ms: int, capacity: int):
        self.refresh_ms = refresh_ms
        self.capacity = capacity
        self.passed: OrderedDict[tuple[str, str], tuple[int, int]] = OrderedDict()  # pair -> (first, last) passed

    def admit(self, link: Link) -> bool:
        pair = (link.strong, link.weak)
        known = self.passed.get(pair)
        if known is not None:
            first, last = known
            if first <= link.ts < last + self.refresh_ms:
                self.passed.move_to_end(pair)
                return False
            self.passed[pair] = (min(first, link.ts), max(last, link.ts))
            self.passed.move_to_end(pair)
            return True
        self.passed[pair] = (link.ts, link.ts)
        if len(self.passed) > self.capacity:
            self.passed.popitem(last=False)
        return True
