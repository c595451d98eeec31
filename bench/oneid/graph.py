"""Real-time links/s through the graph core, and the offline recompute of N links (default 10M) next to plain
connected components (scipy, and networkx on a smaller slice) on the same links. Each offline run is a fresh
process so its peak RAM (ru_maxrss) is its own.

    .venv/bin/python -m bench.oneid.graph [--links 10000000] [--networkx-links 1000000] [--realtime-persons 20000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import time
from pathlib import Path

import numpy as np

RULES = Path("identity.yaml")
BASE_TS = 1_790_000_000_000


def synthetic_edges(links: int, seed: int = 3):
    """~`links` distinct edges shaped like event links: persons with a user_id (80%), 1-3 devices, 1-4 cookies per
    device, and 1% of devices shared between users (conflicted components the rules must refuse)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    persons = max(1, links // 7)
    devices_per = rng.integers(1, 4, persons)
    device_owner = np.repeat(np.arange(persons), devices_per)
    cookies_per = rng.integers(1, 5, len(device_owner))
    cookie_device = np.repeat(np.arange(len(device_owner)), cookies_per)
    identified = rng.random(persons) < 0.8
    device_names = np.array([f"device_id:d{i:x}" for i in range(len(device_owner))], dtype=object)
    user_names = np.array([f"user_id:u{i:x}" for i in range(persons)], dtype=object)
    strong = [device_names[cookie_device], device_names[device_owner[identified[device_owner]]]]
    weak = [np.array([f"cookie_id:c{i:x}" for i in range(len(cookie_device))], dtype=object), None]
    strong[1], weak[1] = user_names[device_owner[identified[device_owner]]], device_names[identified[device_owner]]
    shared = rng.choice(len(device_owner), max(1, len(device_owner) // 100), replace=False)
    strong.append(user_names[rng.integers(0, persons, len(shared))])
    weak.append(device_names[shared])
    frame = pd.DataFrame({"strong": np.concatenate(strong), "weak": np.concatenate(weak)})
    first = BASE_TS + rng.integers(0, 30 * 86_400_000, len(frame))
    return frame.assign(first_seen=first, last_seen=first + rng.integers(0, 86_400_000, len(frame)))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def offline_run(kind: str, links: int, queue) -> None:
    os.sched_setaffinity(0, {0})
    edges = synthetic_edges(links)
    before = _peak_mb()
    started, cpu_started = time.perf_counter(), time.process_time()
    if kind == "oneid":
        from pipelines.identity.offline import recompute
        from pipelines.identity.rules import load_rules

        result = recompute(load_rules(RULES), edges)
        detail = f"{result.stats['persons']:,} persons, {result.stats['conflicted_components']:,} conflicted components replayed, {result.stats['refused']:,} refusals"
    elif kind == "scipy":
        import pandas as pd
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        codes, nodes = pd.factorize(np.concatenate([edges["strong"].to_numpy(), edges["weak"].to_numpy()]))
        half = len(edges)
        matrix = coo_matrix((np.ones(half, np.int8), (codes[:half], codes[half:])), shape=(len(nodes), len(nodes)))
        count, _ = connected_components(matrix, directed=False)
        detail = f"{count:,} components (no rules: shared devices glue users together)"
    else:
        import networkx

        graph = networkx.Graph()
        graph.add_edges_from(zip(edges["strong"], edges["weak"]))
        count = networkx.number_connected_components(graph)
        detail = f"{count:,} components (no rules)"
    queue.put((kind, len(edges), time.perf_counter() - started, time.process_time() - cpu_started, _peak_mb(), before, detail))


def realtime_rate(persons: int) -> tuple[int, float]:
    from pipelines.identity.links import link_order, links_of_events
    from pipelines.identity.realtime import RealtimeProcessor
    from pipelines.identity.rules import load_rules
    from pipelines.identity.synthetic import generate

    rules = load_rules(RULES)
    links = sorted(links_of_events(rules, generate(rules, persons=persons, seed=4).events), key=link_order)
    processor = RealtimeProcessor(rules, {}, {}, {}, {})
    started = time.process_time()
    for link in links:
        for _ in processor.on_link(link):
            pass
    return len(links), time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--links", type=int, default=10_000_000)
    parser.add_argument("--networkx-links", type=int, default=1_000_000)
    parser.add_argument("--realtime-persons", type=int, default=20_000)
    args = parser.parse_args()
    count, seconds = realtime_rate(args.realtime_persons)
    print(f"real-time graph core: {count:,} links in {seconds:.2f} s = {count / seconds:,.0f} links/s per CPU-second (dict state, change messages built)")
    context = multiprocessing.get_context("spawn")
    for kind, links in (("oneid", args.links), ("scipy", args.links), ("networkx", args.networkx_links)):
        queue = context.Queue()
        process = context.Process(target=offline_run, args=(kind, links, queue))
        process.start()
        kind, edges, seconds, cpu, peak, before, detail = queue.get()
        process.join()
        print(f"offline {kind:9s} {edges:>11,} links  {seconds:7.1f} s wall  {cpu:7.1f} s CPU  peak RSS {peak:7.0f} MB (input alone {before:.0f} MB)  {detail}")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
