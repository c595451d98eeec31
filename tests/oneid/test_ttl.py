"""TTLs in the real-time graph: an id not seen for its type's TTL leaves its person on event time, the lookup
index forgets it, and after the daily reconciliation the real-time state is the offline recompute's."""

from __future__ import annotations

import pandas as pd

from pipelines.identity import store
from pipelines.identity.reconcile import publish_messages
from pipelines.identity.index import OneIdIndex
from pipelines.identity.links import link_order, links_of_events
from pipelines.identity.offline import recompute
from pipelines.identity.realtime import RealtimeProcessor
from pipelines.identity.reconcile import differences
from pipelines.identity.rules import DAY_MS, parse_rules
from pipelines.identity.synthetic import generate, quality
from tests.oneid.conftest import RULES_FILE


def processor_for(rules) -> RealtimeProcessor:
    return RealtimeProcessor(rules, {}, {}, {}, {})


def run(processor, links) -> list[dict]:
    return [message for link in links for message in store.decode(list(processor.on_link(link)))]


def test_an_id_past_its_ttl_leaves_its_person_and_the_index_forgets_it(rules):
    ttl = rules.types["cookie_id"].ttl_ms
    processor = processor_for(rules)
    index = OneIdIndex()
    early = links_of_events(rules, [
        {"ts": 1_000, "ids": {"device_id": "phone", "cookie_id": "old-cookie"}},
        {"ts": 2_000, "ids": {"cookie_id": "lonely-cookie"}},
    ])  # fmt: skip
    for message in run(processor, early):
        index.apply(message)
    person = processor.graph.oneid_of("device_id:phone")
    assert index.lookup("cookie_id:old-cookie") == person and index.lookup("cookie_id:lonely-cookie")

    # Just inside the TTL nothing moves; one sweep later both cookies are past it.
    later = links_of_events(rules, [{"ts": 1_000 + ttl, "ids": {"device_id": "phone", "cookie_id": "new-cookie"}}])
    assert not [m for m in run(processor, later) if m["kind"] == "delete"]
    latest = links_of_events(rules, [{"ts": 2_001 + ttl + processor.sweep_ms, "ids": {"device_id": "phone"}}])
    messages = run(processor, latest)
    for message in messages:
        index.apply(message)

    deletes = {m["oneid"]: m["nodes"] for m in messages if m["kind"] == "delete"}
    assert deletes[person] == ["cookie_id:old-cookie"]
    assert list(deletes.values()).count(["cookie_id:lonely-cookie"]) == 1
    survivor = [m for m in messages if m["kind"] == "person" and m["oneid"] == person][-1]
    assert set(survivor["ids"]) == {"device_id:phone", "cookie_id:new-cookie"}
    assert processor.graph.oneid_of("cookie_id:old-cookie") is None
    assert index.lookup("cookie_id:old-cookie") is None and index.lookup("cookie_id:lonely-cookie") is None
    assert index.lookup("cookie_id:new-cookie") == person
    assert [m["deleted"] for m in _map_rows(messages, rules) if m["id_value"] == "old-cookie"] == [1]


def _map_rows(messages, rules) -> list[dict]:
    from pipelines.identity.changes import MAP_COLUMNS, map_rows

    return [dict(zip(MAP_COLUMNS, row)) for message in messages for row in map_rows(message, rules.label)]


def test_a_rules_file_without_ttls_never_sweeps():
    text = RULES_FILE.read_text().replace("ttl_days: 400", "ttl_days: 0").replace(", ttl_days: 180", "")
    rules = parse_rules(text)
    assert not rules.expires
    processor = processor_for(rules)
    links = links_of_events(rules, [{"ts": 1, "ids": {"cookie_id": "c"}}, {"ts": 10_000 * DAY_MS, "ids": {"device_id": "d"}}])
    assert not [m for m in run(processor, links) if m["kind"] == "delete"]
    assert processor.graph.oneid_of("cookie_id:c")


def test_realtime_with_ttls_equals_offline_after_reconciliation():
    """Cookies live 3 days in a world of 20: the real-time job expires them on its way through the links; the
    offline recompute at the same moment drops the same ids, and its published corrections (splits the
    real-time graph cannot make alone) bring the real-time state to the offline one."""
    rules = parse_rules(RULES_FILE.read_text().replace(", ttl_days: 180", ", ttl_days: 3"))
    world = generate(rules, persons=600, seed=21, days=20)
    links = sorted(links_of_events(rules, world.events), key=link_order)
    processor = processor_for(rules)
    messages = run(processor, links)
    now = links[-1].ts
    messages += store.decode(list(processor.expire(now)))
    assert any(m["kind"] == "delete" for m in messages)
    realtime = processor.graph.membership()
    assert quality(world, realtime)["over_merged"] == 0

    previous = pd.DataFrame(
        [(node, oneid, processor.graph.persons[oneid].created_at, processor.graph.persons[oneid].anchor) for node, oneid in realtime.items()],
        columns=["node", "oneid", "created_at", "anchor"],
    )
    offline = recompute(rules, links, previous, dict(processor.graph.redirects), now_ms=now)
    assert set(realtime) == set(offline.mapping())  # the same ids expired on both sides
    assert "ttl_expired" in set(offline.dropped.values())
    diff = differences(realtime, offline, offline.dropped)
    for message in store.decode(publish_messages(offline, realtime, dict(processor.graph.redirects), diff, "offline")):
        processor.on_change(message)
    assert processor.graph.membership() == offline.mapping()
