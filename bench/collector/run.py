"""Collector throughput and ack latency: single-event vs batch requests, side by side.

    .venv/bin/python -m bench.collector.run [--seconds 8] [--batch 100]

Starts a private embedded broker and one collector process (rate limit lifted), then runs the load generator
(bench/collector/loadgen.py) as a separate process on loopback for each mode, bounded in time. Every request is
answered only after Kafka acknowledged it (acks=all), so events/s is acknowledged events per second.
Goal (issue 3): >= 25,000 events/s with batching, p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from pipelines import messaging
from pipelines.config import Settings
from pipelines.stack.manager import free_port
from pipelines.stack.processes import Broker, start_collector, stop_process

GOAL_EVENTS_PER_S = 25_000
GOAL_P99_MS = 50.0


def load(port: int, batch: int, connections: int, seconds: float, requests: int) -> dict:
    command = [
        sys.executable, "-m", "bench.collector.loadgen", "--port", str(port), "--batch", str(batch),
        "--connections", str(connections), "--seconds", str(seconds), "--requests", str(requests),
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 120).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="trackflow-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        broker = Broker(settings, free_port(), Path(tmp) / "broker.log")
        broker.start()
        messaging.ensure_topics(settings.model_copy(update={"kafka_bootstrap": broker.bootstrap}))
        process, url = start_collector(
            Path(tmp) / "collector",
            broker.bootstrap,
            collector_rate_per_s="1000000",
            collector_burst="1000000",
            collector_quarantine_load_s="0",  # no warehouse here
        )
        port = int(url.rsplit(":", 1)[1])
        try:
            single = load(port, 1, 32, args.seconds, 60_000)
            batched = load(port, args.batch, 4, args.seconds, 4_000)
        finally:
            stop_process(process)
            broker.stop()

    print(f"{'mode':<22}{'events/s':>10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}  statuses")
    for name, result in (("single event", single), (f"batch of {args.batch}", batched)):
        print(
            f"{name:<22}{result['events_per_s']:>10,}{result['requests_per_s']:>9,}{result['p50_ms']:>9.1f}{result['p99_ms']:>9.1f}"
            f"  {result['status']}{'  (ran out of pre-built requests)' if result['exhausted'] else ''}"
        )
    print(f"machine: {os.cpu_count()} cores, load average during the run {os.getloadavg()[0]:.1f} (other work shares the cores)")
    ratio = batched["events_per_s"] / max(single["events_per_s"], 1)
    print(f"batch/single events/s ratio: {ratio:.1f}x")
    met = batched["events_per_s"] >= GOAL_EVENTS_PER_S and batched["p99_ms"] <= GOAL_P99_MS
    print(f"goal (>= {GOAL_EVENTS_PER_S:,} events/s batched, p99 <= {GOAL_P99_MS:.0f} ms): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
