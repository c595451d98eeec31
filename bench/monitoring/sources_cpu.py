"""What each of the alerts component's sources costs the stack per sample: the CPU it makes the broker, the warehouse
and the jobs' processes spend (from /proc, less what they spend idle over the same time) next to its own.

    flock -x /tmp/trackflow-cpu.lock .venv/bin/python -m bench.monitoring.sources_cpu [--samples 5]

The stack of bench.monitoring.jobs (broker, warehouse, layering + dwd idle after a backlog went through; the
component frozen) and the sources sampled here in-process, one at a time, a second apart. The jobs' Flink metric
read (restarts and back-pressure, which the jobs source takes every few rounds) is measured on its own. Idle jobs:
the cost of a read of a busy stack can be larger (more parts, busier partitions), not smaller.

Then the component itself (its whole rounds: sources, rules, silences, history writes), let go on and frozen in
turns of --period seconds at its shipped 15 s: the stack's CPU while it runs less while it is frozen, per evaluation.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.monitoring.cpu import tree_cpu_seconds
from bench.monitoring.jobs import window, watched

PAUSE_S = 1.0  # between two samples: the stack's idle work goes on and is subtracted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=5, help="samples per source")
    parser.add_argument("--backlog", type=int, default=100_000, help="events through the jobs first (tables, parts, offsets)")
    parser.add_argument("--period", type=float, default=30.0, help="each turn of the component on and off (s)")
    parser.add_argument("--turns", type=int, default=2)
    args = parser.parse_args()

    with watched(15.0, 1) as bench:
        from pipelines.monitoring.sources import JobsSource, sources

        window(bench.warehouse, bench.settings, args.backlog, 20, bench.roots)
        time.sleep(5)  # the last flushes and checkpoints

        def idle_per_s() -> dict[str, float]:
            before, started = tree_cpu_seconds(bench.roots), time.monotonic()
            time.sleep(args.samples * PAUSE_S)
            after = tree_cpu_seconds(bench.roots)
            return {g: (after[g] - before[g]) / (time.monotonic() - started) for g in bench.roots}

        baselines = [idle_per_s()]
        probes = [(source.name, source.sample) for source in sources(bench.settings, bench.warehouse)]
        jobs = JobsSource(bench.settings)
        jobs.sample()  # its first sample reads the metrics and the vertex ids
        probes.append(("jobs: Flink metrics", lambda: [jobs.read_flink_metrics(url) for url in jobs.flink_metrics]))
        results = []
        for name, sample in probes:
            try:
                sample()  # first: clients made, vertex ids read
            except Exception as exc:  # a stage the bench does not run (the collector, PostgreSQL for pushes)
                print(f"{name}: skipped ({exc.__class__.__name__})")
                continue
            before, started, own = tree_cpu_seconds(bench.roots), time.monotonic(), time.process_time()
            for _ in range(args.samples):
                sample()
                time.sleep(PAUSE_S)
            own, after = time.process_time() - own, tree_cpu_seconds(bench.roots)
            results.append((name, own, {g: after[g] - before[g] for g in bench.roots}, time.monotonic() - started))
        baselines.append(idle_per_s())
        turns = []  # (CPU per group and seconds while on, the same while off, evaluations while on)
        for _ in range(args.turns):
            spent, evaluations = {}, 0.0
            for on in (True, False):
                first = bench.thaw() if on else 0.0
                before, started = tree_cpu_seconds(bench.roots), time.monotonic()
                time.sleep(args.period)
                after = tree_cpu_seconds(bench.roots)
                spent[on] = ({g: after[g] - before[g] for g in bench.roots}, time.monotonic() - started)
                if on:
                    bench.freeze()
                    evaluations = bench.frozen_at - first
            turns.append((spent[True], spent[False], evaluations))

    idle = {g: statistics.fmean(b[g] for b in baselines) for g in baselines[0]}
    groups = ("broker", "warehouse", "jobs")
    print(f"idle (per second, before and after): {', '.join(f'{g} {idle[g] * 1000:.0f} ms' for g in groups)}")
    print(f"{'ms of CPU per sample':<22} {'own':>6} " + " ".join(f"{g:>9}" for g in groups) + f" {'total':>7}")
    for name, own, spent, seconds in results:
        induced = {g: (spent[g] - idle[g] * seconds) / args.samples * 1000 for g in groups}
        total = own / args.samples * 1000 + sum(induced.values())
        print(f"{name:<22} {own / args.samples * 1000:>6.0f} " + " ".join(f"{induced[g]:>9.0f}" for g in groups) + f" {total:>7.0f}")
    print(f"{args.samples} samples per source, {PAUSE_S:g} s apart; CPU ticks are 10 ms, the idle work is subtracted")
    for (on, on_s), (off, off_s), evaluations in turns:
        extra = {g: on[g] - off[g] * on_s / off_s for g in on}
        print(f"component on {on_s:.0f} s ({evaluations:.0f} evaluations) against off {off_s:.0f} s: per evaluation "
              f"{', '.join(f'{g} {extra[g] / evaluations * 1000:.0f} ms' for g in on)}, total {sum(extra.values()) / evaluations * 1000:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
