"""The alerts component's cost to the streaming jobs at full load: layering + dwd working off a backlog on
events.raw, with the component off and on, order alternating per round, on one private stack (broker, warehouse).

    flock -x /tmp/trackflow-cpu.lock .venv/bin/python -m bench.monitoring.jobs [--events 300000] [--rounds 3] [--interval 15]

The jobs and the component start once (their start-up is no part of any run: starting the jobs per run left only
~25 s of work per ~90 s run); a warm-up backlog goes through first. Between runs the component is frozen (SIGSTOP:
"off", it costs nothing) or let go on (SIGCONT: "on"; its rounds go on numbered from before, so the reads taken
every few rounds fall where they would on a real stack), and in an "on" run its catch-up round ends before the run.
A run: a backlog of --events is generated, then produced (the jobs take it as it comes); the window is from the end
of production to the last row in the warehouse. Two figures from the same window:

- events/s: the events stored in the window over its length (wall clock: on this shared 2-core machine it moves
  with whatever else runs, ~10% between runs);
- CPU-seconds per 1,000 events of all the stack's processes — broker, warehouse, both jobs' process trees (runner,
  JVM, Python workers) and the component — from /proc/<pid>/stat at both ends of the window (bench/monitoring/cpu.py).
  It counts the work, not the waiting for the cores. On saturated cores what the component costs the jobs'
  throughput is about the extra CPU it brings (its own and what its reads make the others do): throughput on/off ~
  CPU per event off/on. Each run prints how many cores the stack kept busy: short of the machine's, the jobs also
  wait (on inserts, on each other), and work spent per second rather than per event (checkpoints, flushes, timers,
  the warehouse's merges) makes CPU per event move with the rate too.

Goal: <= 3% events/s. Each run prints its window in evaluation intervals and, with the component on, the evaluations
inside the window and the component's own CPU per evaluation. The bench takes ~4-6 minutes at the defaults.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx

from bench.monitoring.cpu import tree_cpu_seconds
from bench.streaming.pipeline import events_for, load, private_stack, produce, start_jobs, stop_jobs

GOAL_COST = 0.03
# Rows stored in the detail tables, from the parts' metadata: polled every 0.2 s, a count over the rows (what
# bench/streaming polls) scanned the growing table each time, ~0.4 of a core of the warehouse's work that no real
# stack does and that grew with the window, so with slower runs.
STORED_SQL = "SELECT sum(rows) FROM system.parts WHERE active AND database = currentDatabase() AND table LIKE 'dwd\\_%'"
GROUPS = ("broker", "warehouse", "jobs", "alerts")


@dataclass
class Run:
    events: int  # stored inside the window
    seconds: float
    cpu: dict[str, float]  # CPU-seconds per group inside the window

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def cores(self) -> float:
        """How many cores the stack kept busy on average: below the machine's, it is not purely CPU-bound."""
        return sum(self.cpu.values()) / self.seconds

    def per_1000(self, group: str | None = None) -> float:
        spent = sum(self.cpu.values()) if group is None else self.cpu[group]
        return spent / self.events * 1000


def window(warehouse, settings, count: int, per_message: int, roots: dict[str, list[int]]) -> Run:
    """Produces a backlog of `count` events to the running jobs; the window runs from the end of production to the
    last of them in the warehouse."""
    def stored() -> int:
        return int(warehouse.scalar(STORED_SQL) or 0)

    events = events_for(count, uuid.uuid4().hex[:10])  # generated before: the bench's own work is kept out of the window
    expected = stored() + count
    produce(settings, events, per_message)
    before, started = tree_cpu_seconds(roots), time.monotonic()
    at_start = now = stored()
    deadline = started + 600
    while now < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {count - expected + now} of {count} events arrived")
        time.sleep(0.2)
        now = stored()
    ended, after = time.monotonic(), tree_cpu_seconds(roots)
    return Run(expected - at_start, ended - started, {group: after[group] - before[group] for group in roots})


def summary(values: list[float]) -> str:
    spread = f", sd {statistics.stdev(values):.3f}" if len(values) > 1 else ""
    return f"mean {statistics.fmean(values):.3f} (rounds: {', '.join(f'{v:.3f}' for v in values)}{spread})"


@dataclass
class Watched:
    """A private stack (broker, warehouse) with layering + dwd running where the component finds them, and the
    component started, then frozen."""

    settings: object
    warehouse: object
    roots: dict[str, list[int]]  # the stack's process trees by group (bench/monitoring/cpu.py)
    metrics_url: str
    frozen_at: float = 0.0  # its evaluations when it was last frozen

    def evaluations(self) -> float:
        from pipelines.monitoring.sources import exposition

        text = httpx.get(self.metrics_url, timeout=10).text
        return sum(value for name, _, value in exposition(text) if name == "trackflow_alerts_evaluations_total")

    def freeze(self) -> None:
        self.frozen_at = self.evaluations()  # (frozen, its /metrics does not answer either)
        os.kill(self.roots["alerts"][0], signal.SIGSTOP)

    def thaw(self) -> float:
        """Lets it go on; returns its evaluations once the round it owes since it was frozen ended."""
        os.kill(self.roots["alerts"][0], signal.SIGCONT)
        while (seen := self.evaluations()) == self.frozen_at:
            time.sleep(0.2)
        return seen


@contextmanager
def watched(interval_s: float, parallelism: int) -> Iterator[Watched]:
    root = Path(tempfile.mkdtemp(prefix="trackflow-bench-monitoring-jobs-"))
    # Read by the component's process too: free port, the interval, no PostgreSQL (no push forecasts to sample).
    os.environ.update({"TRACKFLOW_ALERTS_PORT": "0", "TRACKFLOW_ALERTS_INTERVAL_S": str(interval_s),
                       "TRACKFLOW_POSTGRES_URL": "postgresql://127.0.0.1:1/unused", "TRACKFLOW_COLLECTOR_PORT": "0"})  # fmt: skip
    settings, stack = private_stack(root)
    from pipelines.flinkrun.environment import runtime_settings
    from pipelines.stack.components import ALERTS, BROKER, WAREHOUSE
    from pipelines.stack.manager import Stack
    from pipelines.warehouse.client import Warehouse

    settings = runtime_settings(settings)
    monitoring = Stack(settings, [ALERTS])
    processes: list[subprocess.Popen] = []
    component_pid = 0

    def pid_of(component) -> int:
        return int((settings.state_dir / f"{component.name}.pid").read_text())

    try:
        ports: list[int] = []
        start_jobs(settings, parallelism, root, processes, ports)
        # Where the component finds the jobs' Flink REST, as the stack records its MiniClusters (jobs, oneid-job).
        for component, port, process in zip(("jobs", "oneid-job"), ports, processes):
            (settings.state_dir / f"{component}.port").write_text(str(port))
            (settings.state_dir / f"{component}.pid").write_text(str(process.pid))
        monitoring.up(report=lambda _: None)  # healthy once its first round ran
        component_pid = pid_of(ALERTS)
        roots = {"broker": [pid_of(BROKER)], "warehouse": [pid_of(WAREHOUSE)], "jobs": [p.pid for p in processes], "alerts": [component_pid]}
        bench = Watched(settings, Warehouse(settings), roots, f"http://127.0.0.1:{monitoring.port(ALERTS)}/metrics")
        bench.freeze()
        yield bench
    finally:
        if component_pid:
            os.kill(component_pid, signal.SIGCONT)  # a frozen process would not act on the SIGTERM that stops it
        stop_jobs(processes)
        monitoring.down(report=lambda _: None)
        stack.down(report=lambda _: None)
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300_000, help="backlog per run (its window should span several intervals)")
    parser.add_argument("--warmup", type=int, default=60_000, help="a first backlog, not counted (the JVMs' JIT, the first flushes)")
    parser.add_argument("--per-message", type=int, default=20)
    parser.add_argument("--parallelism", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--interval", type=float, default=15.0, help="the component's evaluation interval (s)")
    args = parser.parse_args()

    began = time.monotonic()
    runs: dict[bool, list[Run]] = {False: [], True: []}
    loads: list[float] = []
    with watched(args.interval, args.parallelism) as bench:
        warm = window(bench.warehouse, bench.settings, args.warmup, args.per_message, bench.roots)
        print(f"warm-up: {warm.events:,} events, {warm.rate:,.0f} events/s ({load()}); set-up {time.monotonic() - began:.0f} s", flush=True)
        for round_number in range(args.rounds):
            for on in (False, True) if round_number % 2 == 0 else (True, False):
                before = bench.thaw() if on else 0.0
                run = window(bench.warehouse, bench.settings, args.events, args.per_message, bench.roots)
                runs[on].append(run)
                loads.append(os.getloadavg()[0])
                line = (f"round {round_number + 1}, component {'on ' if on else 'off'}: {run.rate:>7,.0f} events/s, "
                        f"{run.per_1000():.3f} CPU-s per 1,000 events ({', '.join(f'{g} {run.per_1000(g):.3f}' for g in GROUPS)}); "
                        f"stack busy {run.cores:.2f} cores; window {run.seconds:.1f} s = {run.seconds / args.interval:.1f} intervals, "
                        f"{run.events:,} events; {load()}")  # fmt: skip
                if on:
                    bench.freeze()
                    made = bench.frozen_at - before
                    own = f"{run.cpu['alerts'] / made * 1000:.0f} ms" if made else "-"
                    line += f"; {made:.0f} evaluations in the window, the component's own CPU per evaluation {own}"
                print(line, flush=True)

    rates = [on.rate / off.rate for on, off in zip(runs[True], runs[False])]
    # The throughput the CPU accounting predicts: on saturated cores the same work done with the component's extra
    # CPU besides it (its own and what its reads make the others do) goes at off/on of the rate.
    cpu = [off.per_1000() / on.per_1000() for on, off in zip(runs[True], runs[False])]
    print(f"layering+dwd events/s: off {statistics.fmean(r.rate for r in runs[False]):,.0f}, on {statistics.fmean(r.rate for r in runs[True]):,.0f}")
    print(f"  on/off (wall clock): {summary(rates)}")
    for on in (False, True):
        print(f"CPU-s per 1,000 events, component {'on ' if on else 'off'}: {statistics.fmean(r.per_1000() for r in runs[on]):.4f} "
              f"({', '.join(f'{g} {statistics.fmean(r.per_1000(g) for r in runs[on]):.4f}' for g in GROUPS)})")  # fmt: skip
    print(f"  CPU off/on (the throughput it predicts): {summary(cpu)}")
    busy = [run.cores for mode in runs.values() for run in mode]
    print(f"  the stack kept {min(busy):.2f}-{max(busy):.2f} of {os.cpu_count()} cores busy in the windows")
    for label, values in (("wall clock", rates), ("CPU", cpu)):
        mean = statistics.fmean(values)
        margin = 2 * statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else float("inf")
        if mean - margin >= 1 - GOAL_COST:
            verdict = "met (resolved: the mean less two standard errors is within the goal)"
        elif mean + margin < 1 - GOAL_COST:
            verdict = "NOT met (resolved)"
        else:
            verdict = "not resolved (two standard errors span the goal)"
        print(f"{label}: {mean:.3f}x +- {margin:.3f} (2 standard errors); goal >= {1 - GOAL_COST:.2f}x: {verdict}")
    print(f"{args.rounds} round(s), backlog {args.events:,} events per run, {args.per_message} per message, parallelism {args.parallelism}, "
          f"evaluation every {args.interval:g} s; machine: {os.cpu_count()} cores, load average {min(loads):.1f}-{max(loads):.1f}; "
          f"took {time.monotonic() - began:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
