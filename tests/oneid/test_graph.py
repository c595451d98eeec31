"""The rule-aware graph core: refusals with reasons, oldest survives, redirects, interleavings of merges."""

from __future__ import annotations

import itertools

from pipelines.identity.graph import IdentityGraph, mint_oneid
from pipelines.identity.links import event_links


def feed(graph, rules, events):
    decisions = []
    for ts, ids in events:
        for link in event_links(rules, ids, ts):
            decisions.extend(graph.observe(link).decisions)
    return decisions


def test_two_user_ids_never_merge_through_a_shared_device(rules):
    graph = IdentityGraph(rules)
    decisions = feed(graph, rules, [
        (1, {"device_id": "tablet", "user_id": "alice"}),
        (2, {"device_id": "tablet", "user_id": "bob"}),
    ])  # fmt: skip
    assert graph.oneid_of("user_id:alice") != graph.oneid_of("user_id:bob")
    assert graph.oneid_of("device_id:tablet") == graph.oneid_of("user_id:alice")
    refused = [d for d in decisions if d.action == "refuse"]
    assert refused and refused[0].rule == "unique:user_id"


def test_limit_per_window_refuses_the_extra_id(rules):
    graph = IdentityGraph(rules)
    limit = rules.types["device_id"].max_per_person
    events = [(i, {"user_id": "u", "device_id": f"dev{i}"}) for i in range(limit + 1)]
    decisions = feed(graph, rules, events)
    assert graph.oneid_of(f"device_id:dev{limit}") != graph.oneid_of("user_id:u")
    assert decisions[-1].rule == "limit:device_id"
    # Outside the window the old devices no longer count: a new one joins again.
    later = rules.types["device_id"].window_ms + 100
    feed(graph, rules, [(later, {"user_id": "u", "device_id": "fresh"})])
    assert graph.oneid_of("device_id:fresh") == graph.oneid_of("user_id:u")


def test_the_older_oneid_survives_and_the_other_redirects(rules):
    graph = IdentityGraph(rules)
    feed(graph, rules, [(10, {"device_id": "a"}), (20, {"cookie_id": "b"}), (30, {"device_id": "a", "cookie_id": "b"})])
    older, newer = mint_oneid("device_id:a"), mint_oneid("cookie_id:b")
    assert graph.oneid_of("cookie_id:b") == older
    assert graph.resolve(newer) == older and newer not in graph.persons


def test_merges_touching_the_same_persons_in_any_order_never_lose_or_duplicate_an_id(rules):
    """Two merges racing on the same persons: the graph operator serialises them (one key), so every
    interleaving is some order of the two. All orders must keep each id in exactly one person, lose no id, and
    end with the same membership."""
    base = [(1, {"user_id": "u1", "device_id": "d1"}), (2, {"device_id": "d2", "cookie_id": "c2"}), (3, {"device_id": "d3"})]
    racing = [(4, {"device_id": "d1", "cookie_id": "c2"}), (4, {"cookie_id": "c2", "device_id": "d3"}), (4, {"device_id": "d3", "device_id2": "x"})]
    outcomes = set()
    for order in itertools.permutations(racing):
        graph = IdentityGraph(rules)
        feed(graph, rules, base + list(order))
        members = [node for person in graph.persons.values() for node in person.ids]
        assert len(members) == len(set(members)) == len(graph.nodes)
        assert all(graph.nodes[node] == oneid for oneid, person in graph.persons.items() for node in person.ids)
        outcomes.add(frozenset(graph.nodes.items()))
    assert len(outcomes) == 1
