"""Collector throughput and ack latency: single-event vs batch requests, with the journal on and off, side by side.

    .venv/bin/python -m bench.collector.run [--seconds 8] [--batch 100] [--rounds 2]

Starts a private embedded broker and, per round, one collector process with the journal off and one with it on
(rate limit lifted; one at a time, the order alternating between rounds so neither always runs on a warmer or a
busier machine), then runs the load generator (bench/collector/loadgen.py) as a separate process on loopback for
each mode, bounded in time. Every request is answered only after Kafka acknowledged it (acks=all), so events/s is
acknowledged events per second. Figures are the means over the rounds.
Goals: >= 25,000 events/s with batching, p99 <= 50 ms (issue 3); journal on within 10% of off (issue 16).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipelines import messaging
from pipelines.config import Settings
from pipelines.ports import free_port
from pipelines.stack.processes import Broker, start_collector, stop_process

GOAL_EVENTS_PER_S = 25_000
GOAL_P99_MS = 50.0
GOAL_JOURNAL_COST = 0.10
FIGURES = ("events_per_s", "requests_per_s", "p50_ms", "p99_ms")


def load(port: int, batch: int, connections: int, seconds: float, requests: int, protocol: str = "native") -> dict:
    command = [
        sys.executable, "-m", "bench.collector.loadgen", "--port", str(port), "--batch", str(batch),
        "--connections", str(connections), "--seconds", str(seconds), "--requests", str(requests), "--protocol", protocol,
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 120).stdout
    return json.loads(output.strip().splitlines()[-1])


def measure(data_dir: Path, bootstrap: str, journal: bool, args) -> dict[str, dict]:
    """Both modes against one fresh collector process."""
    process, url = start_collector(
        data_dir,
        bootstrap,
        collector_journal="true" if journal else "false",
        collector_rate_per_s="1000000",
        collector_burst="1000000",
        collector_metrics_flush_s="0",
    )
    port = int(url.rsplit(":", 1)[1])
    try:
        return {"single": load(port, 1, 32, args.seconds, 60_000), "batch": load(port, args.batch, 4, args.seconds, 4_000)}
    finally:
        stop_process(process)


@contextmanager
def private_broker() -> Iterator[tuple[Path, str]]:
    """(a temporary folder, the bootstrap address of an embedded broker with the pipeline's topics), both gone on
    exit."""
    with tempfile.TemporaryDirectory(prefix="trackflow-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        broker = Broker(settings, free_port(), Path(tmp) / "broker.log")
        broker.start()
        try:
            messaging.ensure_topics(settings.model_copy(update={"kafka_bootstrap": broker.bootstrap}))
            yield Path(tmp), broker.bootstrap
        finally:
            broker.stop()


def mean(results: list[dict]) -> dict:
    merged = {name: sum(r[name] for r in results) / len(results) for name in FIGURES}
    merged["status"] = {}
    for result in results:
        for code, count in result["status"].items():
            merged["status"][code] = merged["status"].get(code, 0) + count
    merged["exhausted"] = any(r["exhausted"] for r in results)
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    runs: dict[bool, list[dict[str, dict]]] = {False: [], True: []}
    with private_broker() as (tmp, bootstrap):
        for round_number in range(args.rounds):
            for journal in (False, True) if round_number % 2 == 0 else (True, False):
                data_dir = tmp / f"collector-{round_number}-{'journal' if journal else 'plain'}"
                runs[journal].append(measure(data_dir, bootstrap, journal, args))

    results = {(mode, journal): mean([run[mode] for run in runs[journal]]) for mode in ("single", "batch") for journal in (False, True)}
    print(f"{'mode':<16}{'journal':<9}{'events/s':>10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}  statuses")
    for mode, label in (("single", "single event"), ("batch", f"batch of {args.batch}")):
        for journal in (False, True):
            result = results[(mode, journal)]
            print(
                f"{label:<16}{'on' if journal else 'off':<9}{result['events_per_s']:>10,.0f}{result['requests_per_s']:>9,.0f}"
                f"{result['p50_ms']:>9.1f}{result['p99_ms']:>9.1f}  {result['status']}"
                f"{'  (ran out of pre-built requests)' if result['exhausted'] else ''}"
            )
    print(f"machine: {os.cpu_count()} cores, load average during the run {os.getloadavg()[0]:.1f} (other work shares the cores)")
    print(f"{args.rounds} round(s) of {args.seconds:g} s per mode and setting; means shown")
    for mode in ("single", "batch"):
        off, on = results[(mode, False)], results[(mode, True)]
        ratio = on["events_per_s"] / max(off["events_per_s"], 1)
        print(
            f"journal on/off, {mode}: events/s {ratio:.2f}x, p50 {on['p50_ms'] / max(off['p50_ms'], 1e-9):.2f}x, "
            f"p99 {on['p99_ms'] / max(off['p99_ms'], 1e-9):.2f}x  (goal: events/s >= {1 - GOAL_JOURNAL_COST:.2f}x)"
        )
    batched = results[("batch", True)]
    print(f"batch/single events/s ratio (journal on): {batched['events_per_s'] / max(results[('single', True)]['events_per_s'], 1):.1f}x")
    met = batched["events_per_s"] >= GOAL_EVENTS_PER_S and batched["p99_ms"] <= GOAL_P99_MS
    print(f"goal (>= {GOAL_EVENTS_PER_S:,} events/s batched, p99 <= {GOAL_P99_MS:.0f} ms, journal on): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
