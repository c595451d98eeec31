"""Arrival order does not decide: the real-time job, fed the same links in any order (partitions consumed
interleaved, a shuffled backfill), groups ids exactly as the offline recompute does, and the daily run then finds
nothing to reconcile. Before, a shared device went to whichever claim arrived first."""

from __future__ import annotations

import random
import zlib

import pandas as pd
import pytest

from pipelines.identity import store
from pipelines.identity.changes import MAP_COLUMNS, map_rows
from pipelines.identity.components import grouping
from pipelines.identity.index import OneIdIndex
from pipelines.identity.links import Link, link_order, links_of_events
from pipelines.identity.offline import recompute
from pipelines.identity.realtime import RealtimeProcessor
from pipelines.identity.reconcile import differences
from pipelines.identity.synthetic import generate

PARTITIONS = 4


def partitioned(links, seed: int) -> list:
    """Links keyed by their strong id onto partitions, each in time order, consumed in a random interleaving (what
    the job's single graph task sees of a backfill produced in time order)."""
    queues = [[] for _ in range(PARTITIONS)]
    for link in sorted(links, key=link_order):
        queues[zlib.crc32(link.strong.encode()) % PARTITIONS].append(link)
    rng, arrival = random.Random(seed), []
    while any(queues):
        queue = rng.choice([q for q in queues if q])
        taken = rng.randint(1, 50)  # a fetch: up to 50 records of one partition
        arrival.extend(queue[:taken])
        del queue[:taken]
    return arrival


def arrivals(links):
    shuffled = list(links)
    random.Random(3).shuffle(shuffled)
    return {"partitions-1": partitioned(links, 1), "partitions-2": partitioned(links, 2), "shuffled": shuffled,
            "newest-first": sorted(links, key=link_order, reverse=True)}  # fmt: skip


@pytest.fixture(scope="module")
def backfill(rules):
    world = generate(rules, persons=300, seed=17, shared_share=0.05)
    return links_of_events(rules, world.events)


@pytest.mark.parametrize("order", ["partitions-1", "partitions-2", "shuffled", "newest-first"])
def test_realtime_groups_ids_as_the_recompute_does_in_any_arrival_order(backfill, rules, order):
    arrival = arrivals(backfill)[order]
    assert sorted(arrival, key=link_order) == sorted(backfill, key=link_order)
    processor = RealtimeProcessor(rules, {}, {}, {}, {})
    index = OneIdIndex()
    newest: dict[tuple[str, str], list] = {}  # oneid_map as ReplacingMergeTree leaves it: the highest version per id
    for link in arrival:
        for message in store.decode(list(processor.on_link(link))):
            index.apply(message)
            for row in map_rows(message, rules.label) if message["kind"] != "decision" else ():
                entry = dict(zip(MAP_COLUMNS, row))
                key = (entry["id_type"], entry["id_value"])
                if key not in newest or newest[key]["version"] < entry["version"]:
                    newest[key] = entry
    realtime = processor.graph.membership()
    offline = recompute(rules, backfill)
    assert processor.redecided > 0  # late links into shared devices' components were re-decided
    assert grouping(realtime) == grouping(offline.mapping())
    # What was published is what the graph holds: in the lookup index and in oneid_map, where no live person is
    # still redirected elsewhere by a merge that a re-decision undid.
    assert index.nodes == realtime
    live_rows = {f"{t}:{v}": row["oneid"] for (t, v), row in newest.items() if t != "oneid" and not row["deleted"]}
    assert live_rows == realtime
    redirected = {v for (t, v), row in newest.items() if t == "oneid" and not row["deleted"]}
    assert not redirected & set(realtime.values())

    # The daily run (recompute against the real-time mapping, names kept) finds nothing to reconcile.
    persons = processor.graph.persons
    previous = pd.DataFrame(
        [(node, oneid, persons[oneid].created_at, persons[oneid].anchor) for node, oneid in realtime.items()],
        columns=["node", "oneid", "created_at", "anchor"],
    )
    daily = recompute(rules, backfill, previous, dict(processor.graph.redirects))
    assert differences(realtime, daily, daily.dropped).empty


def _daily_differences(rules, processor, links):
    realtime = processor.graph.membership()
    persons = processor.graph.persons
    previous = pd.DataFrame(
        [(node, oneid, persons[oneid].created_at, persons[oneid].anchor) for node, oneid in realtime.items()],
        columns=["node", "oneid", "created_at", "anchor"],
    )
    daily = recompute(rules, links, previous, dict(processor.graph.redirects))
    return differences(realtime, daily, daily.dropped)


def test_a_component_the_job_knows_only_in_part_is_left_to_the_recompute_which_reports_it(rules):
    """A kiosk the graph holds from a state restored from before component tracking: a replay of the links seen
    since would be wrong, so a late link there is decided in arrival order, and the daily reconciliation names the
    difference. The same links with the whole component known are re-decided at once and leave nothing to report."""
    links = [Link(10, "user_id:alice", "device_id:kiosk"), Link(20, "user_id:carol", "device_id:kiosk"), Link(5, "user_id:bob", "device_id:kiosk")]
    whole = RealtimeProcessor(rules, {}, {}, {}, {})
    for link in links:
        list(whole.on_link(link))
    assert whole.redecided == 1 and whole.graph.oneid_of("device_id:kiosk") == whole.graph.oneid_of("user_id:bob")
    assert _daily_differences(rules, whole, links).empty

    partial = RealtimeProcessor(rules, {}, {}, {}, {})
    list(partial.on_link(links[0]))
    partial.components.roots.clear()  # as restored from a checkpoint taken before the job tracked components
    partial.components.members.clear()
    for link in links[1:]:
        list(partial.on_link(link))
    assert partial.redecided == 0 and partial.graph.oneid_of("device_id:kiosk") == partial.graph.oneid_of("user_id:alice")
    reasons = set(_daily_differences(rules, partial, links)["reason"])
    assert reasons and reasons <= {"merged_offline", "split_offline", "regrouped"}
