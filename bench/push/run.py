"""Offline push throughput: N rows of one day of the detail table into the real PostgreSQL 15, three ways in the
same run - one chunk (one COPY stream), parallel chunks (the push as configured), and a naive row-batch INSERT
baseline (rows fetched into Python, `executemany` of 1,000-row batches, as a hand-written loader would). Prints
rows/s for each and the wall time for the whole partition (plan + write + reconcile), with the reconciled source
and target row counts; a push that fails its reconciliation ends the run with exit status 1 and no figures.

    .venv/bin/python -m bench.push.run                 # 10M rows (about 10 GB of PostgreSQL table per copy)
    .venv/bin/python -m bench.push.run --rows 2000000  # smaller

A private stack (warehouse + PostgreSQL) runs in a temporary data dir, removed at the end; `--keep DIR` keeps
the data and the stack running (stop it with TRACKFLOW_DATA_DIR=DIR trackflow down) and reuses them next time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import time

from bench.private_stack import private_stack

APP = "bench-push"
DAY = dt.date(2026, 11, 1)
COLUMNS = [
    {"name": "event_id", "type": "uuid", "required": True}, "event", "app_id", {"name": "ts", "type": "timestamptz"},
    {"name": "received_at", "type": "timestamptz"}, "person_id", "oneid", "session_id", "platform", "url", "referrer",
    "title", "os", "browser", "device_type", "app_version", {"name": "props", "type": "json"},
]  # fmt: skip


def define(name: str, chunks: int, parallelism: int):
    from pipelines.push.definitions import Push

    return Push.model_validate(
        {
            "name": name, "department": "bench",
            "source": {"table": "dwd_default", "filter": f"app_id = '{APP}'", "columns": COLUMNS},
            "target": {"kind": "postgres", "table": f"bench.{name}"},
            "chunking": {"by": "key_hash", "key": "event_id", "chunks": chunks}, "parallelism": parallelism,
            "schedule": {"cron": "0 2 * * *", "timezone": "UTC"},
        }  # fmt: skip
    )


def load(warehouse, rows: int) -> None:
    from pipelines.demogen import DemoSpec, generate_frame, insert_frame

    present = warehouse.scalar("SELECT count() FROM dwd_default WHERE app_id = {a:String}", {"a": APP})
    if present >= rows:
        return
    started, step = time.perf_counter(), 1_000_000
    for k, first in enumerate(range(0, rows, step)):
        size = min(step, rows - first)
        spec = DemoSpec(events=size, persons=max(size // 20, 1), days=1, end=DAY, app_id=APP, seed=100 + k, first_person=first)
        frame = generate_frame(spec)
        insert_frame(warehouse, frame)
        print(f"  loaded {first + len(frame):,} rows ({time.perf_counter() - started:.0f}s)", flush=True)
    warehouse.command("OPTIMIZE TABLE dwd_default FINAL")


def naive_insert(settings, warehouse, push, limit: int) -> tuple[int, float]:
    """The baseline: fetch rows into Python, INSERT ... VALUES with executemany in 1,000-row batches."""
    from pipelines.push.connection import connect
    from pipelines.push.runner import prepare_target
    from pipelines.push.sql import day_bounds, target_columns

    names = target_columns(push, with_push_columns=False)
    start, end = day_bounds(push, DAY)
    select = ", ".join(f"toJSONString({n})" if n == "props" else n for n in names)
    started = time.perf_counter()
    result = warehouse.query(
        f"SELECT {select} FROM dwd_default WHERE app_id = {{a:String}} AND ts >= {{s:DateTime64(3, 'UTC')}} AND ts < {{e:DateTime64(3, 'UTC')}} LIMIT {limit}",
        {"a": APP, "s": start, "e": end},
    )
    rows = [tuple(r) + (DAY, 0) for r in result.result_rows]
    with connect(settings) as connection:
        prepare_target(connection, push)
        connection.execute(f"TRUNCATE {push.target.table}")
        placeholders = ", ".join(["%s"] * (len(names) + 2))
        columns = ", ".join(f'"{c}"' for c in target_columns(push, with_push_columns=True))
        with connection.transaction(), connection.cursor() as cursor:
            for batch in range(0, len(rows), 1000):
                cursor.executemany(f"INSERT INTO {push.target.table} ({columns}) VALUES ({placeholders})", rows[batch : batch + 1000])
    return len(rows), time.perf_counter() - started


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the partition (default 10M)")
    parser.add_argument("--chunks", type=int, default=8, help="chunks of the parallel push")
    parser.add_argument("--parallelism", type=int, default=4, help="chunks written at once by the parallel push")
    parser.add_argument("--baseline-rows", type=int, default=200_000, help="rows the naive INSERT baseline writes")
    parser.add_argument("--keep", help="keep the stack's data in this directory (and reuse it when run again)")
    args = parser.parse_args(argv)

    from pipelines.stack.components import POSTGRES, WAREHOUSE

    data_dir, settings, stack = private_stack([WAREHOUSE, POSTGRES], data_dir=args.keep, prefix="tf-bench-push-")
    from pipelines.push.runner import run_push
    from pipelines.warehouse.client import Warehouse

    try:
        warehouse = Warehouse(settings)
        load(warehouse, args.rows)
        print(f"cores: {os.cpu_count()}, load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print(f"{'mode':<34} {'rows':>11} {'seconds':>8} {'rows/s':>10}   whole partition (plan + write + reconcile)")
        for label, push in (
            ("single chunk (1 COPY stream)", define("single", 1, 1)),
            (f"parallel ({args.chunks} chunks, {args.parallelism} at once)", define("parallel", args.chunks, args.parallelism)),
        ):
            result = run_push(settings, push, DAY, warehouse)
            reconciliation = result.reconciliation
            if not reconciliation.ok:  # a figure for a partial push would be a lie: no figures, exit status 1
                raise SystemExit(f"{label}: push {push.name} {DAY} failed its reconciliation: {reconciliation.summary()}")
            print(
                f"{label:<34} {result.rows_written:>11,} {result.write_s:>8.1f} {result.rows_written / result.write_s:>10,.0f}   "
                f"{result.seconds:.1f}s = {result.plan_s:.1f} + {result.write_s:.1f} + {result.reconcile_s:.1f}; "
                f"reconciled: source {reconciliation.source_rows:,} = target {reconciliation.target_rows:,} rows",
                flush=True,
            )
        rows, seconds = naive_insert(settings, warehouse, define("naive", 1, 1), args.baseline_rows)
        print(f"{'naive INSERT, 1,000-row batches':<34} {rows:>11,} {seconds:>8.1f} {rows / seconds:>10,.0f}   (subset, fetch included)")
        print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        if not args.keep:  # the data is ~1 GB per million rows (warehouse + two PostgreSQL copies)
            stack.down(report=lambda line: None)
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
