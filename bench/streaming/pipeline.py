"""Streaming benchmark: events/s through layering + dwd at parallelism 1 and 2, freshness p50/p95 at a steady rate,
and warehouse insert batching (1k/10k/100k rows per insert vs row-at-a-time), all in one run on a private stack.

    .venv/bin/python bench/streaming/pipeline.py [--events 200000] [--per-message 20] [--rate 500] [--seconds 15]

Throughput: a backlog of N events is put on events.raw, then the jobs start (dwd, then layering, so both work on the
backlog together); events/s is N over the time from the first to the last row appearing in the warehouse (the jobs'
start-up is excluded). The backlog is large enough to take several dwd flush intervals: a backlog that passes in two
seconds (40,000 events at 15k/s) makes one flush deadline more or less move the figure by half. Between phases the
jobs stop only once their offsets are committed past the backlog (`wait_for_offsets_committed`). Two message shapes:
batches of one device's events (up to --per-message, keyed by the device, as the collector writes a /v1/batch
request of the Web/H5 SDKs' batch reporting) and single events (one per message, the worst case). Every dwd
insert looks its batch's ids up in the event index first (pipelines/warehouse/eventindex.py). The
backlog is produced with the jobs stopped; they are started for each shape. Freshness: single-event messages at a
steady rate below capacity with `received_at` stamped at send time (as the collector does at ack); freshness is the
warehouse's `inserted_at` (synchronous insert: queryable from then) minus `received_at`.
Each figure is printed with the 1-minute load average when it was taken: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPOSITORY))


def private_stack(root: Path):
    os.environ.update(
        TRACKFLOW_DATA_DIR=str(root),
        TRACKFLOW_WAREHOUSE_PORT="0",
        TRACKFLOW_KAFKA_PORT="0",
        TRACKFLOW_CONFIG=str(root / "absent.toml"),
        TRACKFLOW_FLINK_JARS_DIR=str(REPOSITORY / "jars"),
    )
    for name in ("TRACKFLOW_CLICKHOUSE_URL", "TRACKFLOW_KAFKA_BOOTSTRAP"):
        os.environ.pop(name, None)
    from pipelines.config import get_settings
    from pipelines.messaging import ensure_topics
    from pipelines.stack import Stack
    from pipelines.stack.components import BROKER, WAREHOUSE
    from pipelines.warehouse.client import Warehouse
    from pipelines.warehouse.migrate import migrate

    get_settings.cache_clear()
    settings = get_settings()
    stack = Stack(settings, [BROKER, WAREHOUSE])
    stack.up(report=lambda _: None)
    ensure_topics(settings)
    migrate(Warehouse(settings))
    return settings, stack


def events_for(count: int, run: str) -> list[dict]:
    from pipelines.demo import sample_events

    return list(sample_events(count, run))


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


# -- insert batching ----------------------------------------------------------------------------------------------
def bench_inserts(settings) -> list[tuple[str, float]]:
    from pipelines.envelope import DETAIL_COLUMNS, detail_row
    from pipelines.streaming.normalise import normalise
    from pipelines.streaming.writer import DetailWriter

    writer = DetailWriter(settings)  # every write looks its ids up in the event index, claims, inserts, confirms
    results = []
    singles = [normalise(dict(e, received_at=e["ts"]), 60_000) for e in events_for(300, "single")]
    started = time.perf_counter()
    for event in singles:
        writer.write("bench", [event])
    results.append(("row at a time (300 inserts)", len(singles) / (time.perf_counter() - started)))
    for size in (1_000, 10_000, 100_000):
        batch = [normalise(dict(e, received_at=e["ts"]), 60_000) for e in events_for(size, f"batch-{size}")]
        started = time.perf_counter()
        writer.write("bench", batch)
        results.append((f"{size:,} rows per insert", size / (time.perf_counter() - started)))
    started = time.perf_counter()
    writer.write("bench", batch)  # the 100,000 again: what a replay after a restore or a re-load costs
    results.append(("100,000 rows, all already stored", len(batch) / (time.perf_counter() - started)))
    plain = [normalise(dict(e, received_at=e["ts"]), 60_000) for e in events_for(10_000, "plain")]
    started = time.perf_counter()  # the baseline: the insert alone, as before the event index
    writer.warehouse.insert("dwd_bench", [detail_row(e, "bench") for e in plain], DETAIL_COLUMNS, settings={"async_insert": 0})
    results.append(("10,000 rows per insert, no index (baseline)", len(plain) / (time.perf_counter() - started)))
    return results


# -- jobs -----------------------------------------------------------------------------------------------------------
def start_jobs(settings, parallelism: int, log_dir: Path, processes: list[subprocess.Popen], ports: list[int] | None = None) -> None:
    """Appends each job's process as soon as it exists, so the caller stops it even when a later job fails to start
    (a layering job was once left running for 45 minutes that way); each job's Flink REST port to `ports` if given."""
    from pipelines.flinkrun.rest import job_running
    from pipelines.ports import free_port

    # dwd first: layering starts only once dwd runs, so both jobs work on the backlog at the same time and the
    # figure is the pipeline's, not dwd's alone over an ods backlog layering filled while dwd's JVM started.
    for job in ("dwd", "layering"):
        port = free_port()
        log = open(log_dir / f"{job}-p{parallelism}.log", "ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "pipelines.flinkrun.runner", job, "--parallelism", str(parallelism),
             "--rest-port", str(port), "--recover", "none"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=REPOSITORY,
        )  # fmt: skip
        processes.append(process)
        if ports is not None:
            ports.append(port)
        deadline = time.monotonic() + 180
        while not job_running(f"http://127.0.0.1:{port}"):
            if process.poll() is not None or time.monotonic() > deadline:
                log_text = (log_dir / f"{job}-p{parallelism}.log").read_text()
                raise RuntimeError(f"{job} did not start:\n{log_text[-3000:]}")
            time.sleep(0.5)


def stop_jobs(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def wait_for_offsets_committed(settings, since: float) -> None:
    """Until layering and dwd each completed a checkpoint one interval after `since` (epoch s; so it began after
    `since`), plus a second for the offset commit that follows it. The next phase's jobs use the same consumer
    groups: stopped earlier, they re-read everything after the last checkpoint (up to an interval of backlog, all
    duplicates for dwd's event index) and that work fell into the next phase's figure."""
    from pipelines.flinkrun.checkpoints import latest_checkpoint
    from pipelines.flinkrun.environment import checkpoint_dir

    after = since + settings.flink_checkpoint_interval_ms / 1000
    deadline = time.monotonic() + 120
    for job in ("layering", "dwd"):
        while time.monotonic() < deadline:
            latest = latest_checkpoint(checkpoint_dir(settings, job))
            if latest is not None and (latest / "_metadata").stat().st_mtime > after:
                break
            time.sleep(0.5)
    time.sleep(1)


def messages_of(events: list[dict], per_message: int) -> list[tuple[str, list[dict]]]:
    """(key, events) per message: each device's events in batches of up to `per_message`, in event order."""
    from pipelines.envelope import partition_key

    by_device: dict[str, list[dict]] = {}
    for event in events:
        by_device.setdefault(partition_key(event), []).append(event)
    return [
        (key, device[start : start + per_message])
        for key, device in by_device.items()
        for start in range(0, len(device), per_message)
    ]


def produce(settings, events: list[dict], per_message: int, rate: float | None = None) -> None:
    """As the collector writes: keyed by device, `received_at` stamped at send, one object or an array per message."""
    from pipelines import messaging

    producer = messaging.producer(settings)
    jitter = random.Random(0)
    started = time.monotonic()
    sent = 0
    for key, chunk in messages_of(events, per_message):
        if rate:  # pace to `rate` events/s
            ahead = sent / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        now = int(time.time() * 1000)
        stamped = [dict(event, received_at=now, ts=now - jitter.randrange(30_000)) for event in chunk]
        producer.send(messaging.RAW, key=key.encode(), value=json.dumps(stamped if per_message > 1 else stamped[0]).encode())
        sent += len(chunk)
    producer.flush()
    producer.close()


def count_run(warehouse, run: str) -> int:
    return int(warehouse.scalar("SELECT count() FROM events WHERE props['demo_run'] = {r:String}", {"r": run}))


def bench_throughput(settings, warehouse, count: int, per_message: int, start) -> float:
    """Puts the backlog on events.raw, then calls `start()` to start the jobs."""
    run = uuid.uuid4().hex[:10]
    produce(settings, events_for(count, run), per_message)
    start()
    first = None
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        stored = count_run(warehouse, run)
        if stored and first is None:
            first = time.monotonic()
        if stored >= count:
            break
        time.sleep(0.2)
    if stored < count:
        raise RuntimeError(f"only {stored} of {count} events arrived")
    return count / (time.monotonic() - first)


def bench_freshness(settings, warehouse, rate: float, seconds: float) -> tuple[float, float, int, int]:
    run = uuid.uuid4().hex[:10]
    events = events_for(int(rate * seconds), run)
    produce(settings, events, per_message=1, rate=rate)
    deadline = time.monotonic() + 120
    while count_run(warehouse, run) < len(events) and time.monotonic() < deadline:
        time.sleep(0.2)
    arrived = count_run(warehouse, run)  # reported: a shortfall is a finding, not something to average over
    p50, p95 = warehouse.rows(
        "SELECT quantiles(0.5, 0.95)(dateDiff('millisecond', received_at, inserted_at)) FROM events "
        "WHERE props['demo_run'] = {r:String}",
        {"r": run},
    )[0][0]
    return float(p50), float(p95), len(events), arrived


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000, help="backlog size per throughput run")
    parser.add_argument("--per-message", type=int, default=20, help="events per message of one device (batched backlog)")
    parser.add_argument("--rate", type=float, default=500, help="steady send rate of the freshness run (events/s)")
    parser.add_argument("--seconds", type=float, default=15, help="length of the freshness run")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="trackflow-bench-streaming-"))
    settings, stack = private_stack(root)
    from pipelines.flinkrun.environment import runtime_settings
    from pipelines.warehouse.client import Warehouse

    settings = runtime_settings(settings)
    warehouse = Warehouse(settings)
    try:
        print(f"insert batching into dwd_bench (rows/s, same run; {load()}):")
        for label, rate in bench_inserts(settings):
            print(f"  {label:<44} {rate:>12,.0f}")
        for parallelism in (1, 2):
            for per_message in (args.per_message, 1):
                processes: list[subprocess.Popen] = []
                try:
                    throughput = bench_throughput(
                        settings, warehouse, args.events, per_message,
                        start=lambda: start_jobs(settings, parallelism, root, processes),
                    )  # fmt: skip
                    print(
                        f"layering+dwd parallelism {parallelism}, {per_message} events per message: "
                        f"{throughput:,.0f} events/s (backlog of {args.events:,}; {load()})", flush=True
                    )  # fmt: skip
                    if per_message == 1:
                        p50, p95, sent, arrived = bench_freshness(settings, warehouse, args.rate, args.seconds)
                        print(
                            f"  freshness at {args.rate:,.0f} events/s, single-event messages: p50 {p50 / 1000:.2f}s "
                            f"p95 {p95 / 1000:.2f}s ({arrived:,} of {sent:,} events arrived; {load()})", flush=True
                        )  # fmt: skip
                    wait_for_offsets_committed(settings, since=time.time())
                finally:
                    stop_jobs(processes)
    finally:
        stack.down(report=lambda _: None)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
