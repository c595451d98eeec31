"""The alerts component's cost to the streaming jobs at full load: layering + dwd working off a backlog on
events.raw (the figure of bench/streaming/pipeline.py: events over the time from the first to the last row in the
warehouse, the jobs' start excluded), with the component off and on, order alternating per round, on one private
stack (broker, warehouse).

    flock -x /tmp/trackflow-cpu.lock .venv/bin/python -m bench.monitoring.jobs [--events 300000] [--rounds 3] [--interval 15]

With it on, the component samples every `--interval` seconds what it does on a real stack: each job's Flink REST
(checkpoints, restarts, back-pressure of every vertex), the consumer groups' lag read to the real partition ends
(reading the backlog's partitions on from the committed offsets), the warehouse's system tables and
pipeline_metrics, and writes monitoring_samples once a minute. Goal: <= 3% events/s.

The measured window (first to last row) must span more than one evaluation interval, or a run may see no sample
at all: at ~15k events/s 100,000 events pass in ~7 s, half the shipped 15 s interval. Each run prints its window
in intervals, and each run with the component on how many evaluations it made during the run and how long its
last one took per source (read from its /metrics).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench.streaming.pipeline import bench_throughput, load, private_stack, start_jobs, stop_jobs, wait_for_offsets_committed

GOAL_COST = 0.03


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300_000, help="backlog per run (its window should span several intervals)")
    parser.add_argument("--per-message", type=int, default=20)
    parser.add_argument("--parallelism", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--interval", type=float, default=15.0, help="the component's evaluation interval (s)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="trackflow-bench-monitoring-jobs-"))
    # Read by the component's process too: free port, the interval, no PostgreSQL (no push forecasts to sample).
    os.environ.update({"TRACKFLOW_ALERTS_PORT": "0", "TRACKFLOW_ALERTS_INTERVAL_S": str(args.interval),
                       "TRACKFLOW_POSTGRES_URL": "postgresql://127.0.0.1:1/unused", "TRACKFLOW_COLLECTOR_PORT": "0"})  # fmt: skip
    settings, stack = private_stack(root)
    from pipelines.flinkrun.environment import runtime_settings
    from pipelines.stack.components import ALERTS
    from pipelines.stack.manager import Stack
    from pipelines.warehouse.client import Warehouse

    settings = runtime_settings(settings)
    warehouse = Warehouse(settings)
    monitoring = Stack(settings, [ALERTS])
    runs: dict[bool, list[float]] = {False: [], True: []}
    loads: list[float] = []

    def start(processes: list[subprocess.Popen]) -> None:
        ports: list[int] = []
        start_jobs(settings, args.parallelism, root, processes, ports)
        # Where the component finds the jobs' Flink REST, as the stack records its MiniClusters (jobs, oneid-job).
        for component, port, process in zip(("jobs", "oneid-job"), ports, processes):
            (settings.state_dir / f"{component}.port").write_text(str(port))
            (settings.state_dir / f"{component}.pid").write_text(str(process.pid))

    def component_metrics() -> tuple[float, dict[str, float], dict[str, float]]:
        """(evaluations so far, the last evaluation's seconds per source, failed samples per source so far) from the
        running component's /metrics: a source that failed is not measured, it is broken."""
        from pipelines.monitoring.sources import exposition

        triples = exposition(httpx.get(f"http://127.0.0.1:{monitoring.port(ALERTS)}/metrics", timeout=10).text)
        evaluations = sum(value for name, _, value in triples if name == "trackflow_alerts_evaluations_total")
        took = {labels["source"]: value for name, labels, value in triples if name == "trackflow_alerts_sample_seconds"}
        failed = {labels["source"]: value for name, labels, value in triples if name == "trackflow_alerts_sample_errors_total"}
        return evaluations, took, failed

    try:
        for round_number in range(args.rounds):
            for on in (False, True) if round_number % 2 == 0 else (True, False):
                if on:
                    monitoring.up(report=lambda _: None)
                processes: list[subprocess.Popen] = []
                try:
                    evaluations_before = component_metrics()[0] if on else 0.0
                    runs[on].append(bench_throughput(settings, warehouse, args.events, args.per_message, start=lambda: start(processes)))
                    loads.append(os.getloadavg()[0])
                    window_s = args.events / runs[on][-1]
                    line = (f"round {round_number + 1}, component {'on ' if on else 'off'}: {runs[on][-1]:>9,.0f} events/s ({load()}), "
                            f"window {window_s:.1f} s = {window_s / args.interval:.1f} intervals")  # fmt: skip
                    if on:
                        evaluations, took, failed = component_metrics()
                        line += (f"; {evaluations - evaluations_before:.0f} evaluations during the run (backlog, jobs' start, window), "
                                 f"last one's seconds: {', '.join(f'{source} {seconds:.2f}' for source, seconds in sorted(took.items()))}; "
                                 f"failed samples so far: {dict(failed) or 'none'}")  # fmt: skip
                    print(line, flush=True)
                    wait_for_offsets_committed(settings, since=time.time())
                finally:
                    stop_jobs(processes)
                    for component in ("jobs", "oneid-job"):
                        for suffix in ("port", "pid"):
                            (settings.state_dir / f"{component}.{suffix}").unlink(missing_ok=True)
                    if on:
                        monitoring.down(report=lambda _: None)
    finally:
        monitoring.down(report=lambda _: None)
        stack.down(report=lambda _: None)
        shutil.rmtree(root, ignore_errors=True)

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    ratio = mean(runs[True]) / mean(runs[False])
    per_round = [on / off for on, off in zip(runs[True], runs[False])]
    print(f"layering+dwd events/s: off {mean(runs[False]):,.0f}, on {mean(runs[True]):,.0f}")
    print(f"on/off: {ratio:.3f}x (rounds: {', '.join(f'{r:.3f}' for r in per_round)}); goal >= {1 - GOAL_COST:.2f}x: {'met' if ratio >= 1 - GOAL_COST else 'NOT met'}")
    print(f"{args.rounds} round(s), backlog {args.events:,} events, {args.per_message} per message, parallelism {args.parallelism}, "
          f"evaluation every {args.interval:g} s; machine: {os.cpu_count()} cores, load average {min(loads):.1f}-{max(loads):.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
