"""The alerts component's cost to the collector: events/s and latency of batched requests with the component on and
off, side by side, on one private stack (broker, warehouse, collector; the component started and stopped between
modes, the order alternating between rounds).

    flock -x /tmp/trackflow-cpu.lock .venv/bin/python -m bench.monitoring.overhead [--seconds 8] [--rounds 3] [--interval 15]

The component scrapes the collector's /metrics, reads the consumer groups and partition ends from Kafka and queries
the warehouse every `--interval` seconds (15 by default, as shipped; the drills use 2). Goal: <= 3% events/s.
"""

from __future__ import annotations

import argparse
import os
import tempfile

from bench.collector.run import load
from pipelines.config import Settings
from pipelines.stack.components import ALERTS, BROKER, COLLECTOR, WAREHOUSE
from pipelines.stack.manager import Stack

GOAL_COST = 0.03


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--interval", type=float, default=15.0)
    args = parser.parse_args()
    runs: dict[bool, list[dict]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="trackflow-bench-monitoring-") as tmp:
        # The children read the same settings from the environment: rate limit lifted, free ports.
        os.environ.update({
            "TRACKFLOW_DATA_DIR": tmp, "TRACKFLOW_CONFIG": f"{tmp}/absent.toml", "TRACKFLOW_KAFKA_PORT": "0",
            "TRACKFLOW_WAREHOUSE_PORT": "0", "TRACKFLOW_COLLECTOR_PORT": "0", "TRACKFLOW_ALERTS_PORT": "0",
            "TRACKFLOW_COLLECTOR_RATE_PER_S": "1000000", "TRACKFLOW_COLLECTOR_BURST": "1000000",
            "TRACKFLOW_ALERTS_INTERVAL_S": str(args.interval), "TRACKFLOW_POSTGRES_URL": "postgresql://127.0.0.1:1/unused",
        })  # fmt: skip
        for name in ("TRACKFLOW_CLICKHOUSE_URL", "TRACKFLOW_KAFKA_BOOTSTRAP"):
            os.environ.pop(name, None)
        settings = Settings()
        engines = Stack(settings, [BROKER, WAREHOUSE, COLLECTOR])
        monitoring = Stack(settings, [ALERTS])
        engines.up(report=lambda _: None)
        try:
            port = engines.port(COLLECTOR)
            load(port, args.batch, 4, 2, 1_000)  # warm-up: topics' metadata, first inserts
            for round_number in range(args.rounds):
                for on in (False, True) if round_number % 2 == 0 else (True, False):
                    if on:
                        monitoring.up(report=lambda _: None)
                    runs[on].append(load(port, args.batch, 4, args.seconds, 4_000))
                    if on:
                        monitoring.down(report=lambda _: None)
        finally:
            monitoring.down(report=lambda _: None)
            engines.down(report=lambda _: None)

    def mean(results: list[dict], figure: str) -> float:
        return sum(r[figure] for r in results) / len(results)

    print(f"{'alerts component':<18}{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    for on in (False, True):
        print(f"{'on' if on else 'off':<18}{mean(runs[on], 'events_per_s'):>10,.0f}{mean(runs[on], 'p50_ms'):>9.1f}{mean(runs[on], 'p99_ms'):>9.1f}")
    ratio = mean(runs[True], "events_per_s") / max(mean(runs[False], "events_per_s"), 1)
    per_round = [on["events_per_s"] / max(off["events_per_s"], 1) for on, off in zip(runs[True], runs[False])]
    print(f"on/off events/s: {ratio:.3f}x (rounds: {', '.join(f'{r:.3f}' for r in per_round)}); goal >= {1 - GOAL_COST:.2f}x: {'met' if ratio >= 1 - GOAL_COST else 'NOT met'}")
    print(f"{args.rounds} round(s) of {args.seconds:g} s, batches of {args.batch}, evaluation every {args.interval:g} s; "
          f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
