"""Wall time of `trackflow query` for a small event request: this tree against an older checkout, in one run.

    git worktree add /tmp/tf-cli-before <commit>
    export TRACKFLOW_DATA_DIR=$(mktemp -d) TRACKFLOW_WAREHOUSE_PORT=0 TRACKFLOW_KAFKA_PORT=0 ...  # a private stack
    .venv/bin/trackflow up && .venv/bin/trackflow demo generate --events 20000
    flock -x /tmp/trackflow-cpu.lock .venv/bin/python bench/cli/query_wall.py --before /tmp/tf-cli-before --runs 10

Both trees run with this interpreter (same .venv) against the same stack, interleaved run by run so load drift
hits both alike. Each run is a fresh `python -m pipelines.cli query` process, as a shell would start it. After a
run of this tree the benchmark waits until its heat drain has recorded the query (the pending directory is
empty), so no run is measured beside the previous run's drain; that wait is printed as its own figure. At the end
it checks that every run of both trees reached query_log.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pipelines.config import get_settings  # noqa: E402
from pipelines.heat.handoff import pending_dir  # noqa: E402
from pipelines.warehouse.client import Warehouse  # noqa: E402


def small_event_request(app_id: str) -> dict:
    today = date.today()
    return {
        "model": "event", "app_id": app_id, "granularity": "day",
        "date_from": (today - timedelta(days=6)).isoformat(), "date_to": today.isoformat(),
        "metrics": [{"event": "pay", "math": "total"}],
    }


def run_query(tree: Path, spec: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, "-m", "pipelines.cli", "query", "--spec", str(spec), "--format", "json"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or '"rows"' not in done.stdout:
        raise SystemExit(f"trackflow query failed in {tree}:\n{done.stderr}")
    return elapsed


def wait_for_drain(directory: Path, timeout_s: float = 60.0) -> float:
    started = time.perf_counter()
    while any(directory.glob("*.jsonl")):
        if time.perf_counter() - started > timeout_s:
            raise SystemExit(f"heat drain did not empty {directory} in {timeout_s:.0f}s (see drain.log beside it)")
        time.sleep(0.02)
    return time.perf_counter() - started


def module_file(tree: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    probe = [sys.executable, "-c", "import pipelines.cli; print(pipelines.cli.__file__)"]
    return subprocess.run(probe, cwd=tree, env=env, capture_output=True, text=True, check=True).stdout.strip()


def figures(label: str, samples: list[float]) -> str:
    return (f"{label:<28} min {min(samples):6.3f} s   median {statistics.median(samples):6.3f} s   "
            f"max {max(samples):6.3f} s   (n={len(samples)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout of the baseline commit")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--app-id", default="demo-shop")
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": ROOT}
    for name, tree in trees.items():  # each tree must run its own code, not the .venv's editable install
        loaded = module_file(tree)
        if not loaded.startswith(str(tree)):
            raise SystemExit(f"{name}: pipelines.cli loads from {loaded}, not {tree}")

    settings = get_settings()
    warehouse = Warehouse(settings)
    pending = pending_dir(settings)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec_file:
        json.dump(small_event_request(args.app_id), spec_file)
    spec = Path(spec_file.name)
    logged_before = warehouse.scalar("SELECT count() FROM query_log")

    for tree in trees.values():  # warm the page cache and .pyc files of both trees
        run_query(tree, spec)
        wait_for_drain(pending)
    samples: dict[str, list[float]] = {name: [] for name in trees}
    drains: list[float] = []
    for _ in range(args.runs):
        samples["before"].append(run_query(trees["before"], spec))
        samples["after"].append(run_query(trees["after"], spec))
        drains.append(wait_for_drain(pending))
    logged = warehouse.scalar("SELECT count() FROM query_log") - logged_before
    spec.unlink()

    print(f"trackflow query, small event request ({args.app_id}, 7 days by day), {args.runs} runs each, interleaved")
    print(figures(f"before ({args.before.name})", samples["before"]))
    print(figures("after (this tree)", samples["after"]))
    print(figures("after: its heat drain took", drains))
    expected = 2 * (args.runs + 1)
    print(f"query_log rows added: {logged} (at least {expected} expected: each run of either tree queries once or more)")
    if logged < expected:
        raise SystemExit("some runs' heat did not reach query_log")


if __name__ == "__main__":
    main()
