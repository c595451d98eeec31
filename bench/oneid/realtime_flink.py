"""Real-time links/s through jobs/oneid on a local MiniCluster: a synthetic world's events are put on ods.default
first, then the job starts; the rate is counted from the first links written to the last (JVM start excluded).
Starts its own stack (broker + warehouse) in a temporary data dir and stops it afterwards.

    .venv/bin/python -m bench.oneid.realtime_flink [--persons 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.private_stack import private_stack

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=5000)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    data_dir, settings, stack = private_stack(prefix="oneid-bench-", TRACKFLOW_IDENTITY_RULES=str(ROOT / "identity.yaml"))
    from pipelines import messaging
    from pipelines.identity.links import links_of_events
    from pipelines.identity.rules import load_rules
    from pipelines.identity.synthetic import generate
    from pipelines.warehouse.client import Warehouse

    rules = load_rules(settings.identity_rules)
    world = generate(rules, persons=args.persons, seed=9)
    expected = len(links_of_events(rules, world.events))
    job = None
    try:
        producer = messaging.producer(settings)
        for event in world.events:
            event = {k: v for k, v in event.items() if not k.startswith("_")}
            producer.send(messaging.ods_topic(messaging.DEFAULT_LAYER), value=json.dumps(event).encode())
        producer.flush()
        producer.close()
        warehouse = Warehouse(settings)
        log = open(data_dir / "job.log", "w")
        job = subprocess.Popen([sys.executable, "-m", "jobs.oneid", "--recover", "none"], cwd=ROOT, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        started, first_at, seen = time.time(), None, 0
        while time.time() - started < args.timeout and seen < expected:
            time.sleep(1)
            seen = int(warehouse.scalar("SELECT sum(seen) FROM oneid_edges") or 0)
            if seen and first_at is None:
                first_at, first_seen = time.time(), seen
        done = time.time()
        rate = (seen - first_seen) / max(1e-9, done - first_at) if first_at else 0.0
        print(f"jobs/oneid: {len(world.events):,} events, {seen:,}/{expected:,} links written; "
              f"{rate:,.0f} links/s after the first write (first write {first_at - started:.0f} s after start)")  # fmt: skip
        print(f"load average: {os.getloadavg()}")
    finally:
        if job is not None:
            os.killpg(job.pid, signal.SIGTERM)
            try:
                job.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(job.pid, signal.SIGKILL)
        stack.down(report=lambda _: None)


if __name__ == "__main__":
    main()
