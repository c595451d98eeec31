"""What order-independence costs the real-time job: links per CPU-second of `RealtimeProcessor` (component tracking,
re-decisions of late links, change messages) next to the bare `IdentityGraph` deciding in arrival order (the job's
core before re-decisions; its results depend on the order) on the same links, for links in canonical order, as
interleaved partitions (keyed by the strong id; and unkeyed, as `realtime_flink` produces its events, which spreads
a person's links over every partition and makes many more of them late) and shuffled. Also how many components were
re-decided and whether the grouping equals the offline recompute's.

    .venv/bin/python -m bench.oneid.arrival [--persons 20000] [--shared 0.01]
"""

from __future__ import annotations

import argparse
import os
import random
import time
import zlib
from pathlib import Path

from pipelines.identity.components import grouping
from pipelines.identity.graph import IdentityGraph
from pipelines.identity.links import link_order, links_of_events
from pipelines.identity.offline import recompute
from pipelines.identity.realtime import RealtimeProcessor
from pipelines.identity.rules import load_rules
from pipelines.identity.synthetic import generate

RULES = Path("identity.yaml")
PARTITIONS = 8


def interleave(queues: list[list], rng: random.Random) -> list:
    """Partitions read as a consumer reads them: a fetch of up to 500 records from one partition at a time."""
    interleaved = []
    while any(queues):
        queue = rng.choice([q for q in queues if q])
        taken = rng.randint(1, 500)
        interleaved.extend(queue[:taken])
        del queue[:taken]
    return interleaved


def orders(links: list, seed: int = 1) -> dict[str, list]:
    canonical = sorted(links, key=link_order)
    rng = random.Random(seed)
    keyed, unkeyed = ([[] for _ in range(PARTITIONS)] for _ in range(2))
    for link in canonical:
        keyed[zlib.crc32(link.strong.encode()) % PARTITIONS].append(link)
        unkeyed[rng.randrange(PARTITIONS)].append(link)
    shuffled = list(canonical)
    rng.shuffle(shuffled)
    return {"canonical": canonical, f"{PARTITIONS} keyed": interleave(keyed, rng), f"{PARTITIONS} unkeyed": interleave(unkeyed, rng),
            "shuffled": shuffled}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--shared", type=float, default=0.01, help="share of devices used by several users")
    args = parser.parse_args()
    rules = load_rules(RULES)
    links = links_of_events(rules, generate(rules, persons=args.persons, seed=4, shared_share=args.shared).events)
    offline = grouping(recompute(rules, links).mapping())
    print(f"{len(links):,} links of {args.persons:,} persons ({args.shared:.0%} shared devices)")
    for name, arrival in orders(links).items():
        graph = IdentityGraph(rules)
        started = time.process_time()
        for link in arrival:
            graph.observe(link)
        bare = time.process_time() - started
        processor = RealtimeProcessor(rules, {}, {}, {}, {})
        started = time.process_time()
        for link in arrival:
            for _ in processor.on_link(link):
                pass
        full = time.process_time() - started
        print(f"{name:11s} RealtimeProcessor {len(arrival) / full:>9,.0f} links/CPU-s ({processor.redecided:,} re-decided, "
              f"= recompute: {grouping(processor.graph.membership()) == offline})   bare IdentityGraph {len(arrival) / bare:>9,.0f} "
              f"links/CPU-s (= recompute: {grouping(graph.membership()) == offline})")  # fmt: skip
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
