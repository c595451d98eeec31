"""CDP sync throughput: N rows of tags (a person id and two tag columns each) from the real PostgreSQL 15 into the
warehouse through `pipelines/cdp/sync.py`, next to a plain COPY of the same rows out of PostgreSQL measured in the
same run (the floor: reading the rows at all). Three syncs:

- full, first run: every row new (read, stage, map ids to OneIDs inside the warehouse, append every tag);
- full, second run with 1% of the rows changed: the same read, only the changed values appended;
- incremental, after the same 1% changed again: only the changed rows read.

95% of the person ids have a OneID (oneid_map rows written up front); the rest are counted unmapped.

    .venv/bin/python -m bench.cdp.run                 # 1M rows
    .venv/bin/python -m bench.cdp.run --rows 200000   # smaller

A private stack (warehouse + PostgreSQL) runs in a temporary data dir, removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time

from bench.private_stack import private_stack

DATABASE = "bench_cdp"
MAPPED_SHARE = 0.95


def prepare(settings, warehouse, rows: int) -> None:
    from pipelines.push.connection import connect, ensure_database

    ensure_database(settings, DATABASE)
    with connect(settings, DATABASE) as pg:
        pg.execute("DROP TABLE IF EXISTS person_tags")
        pg.execute("CREATE TABLE person_tags (user_id text PRIMARY KEY, level text, city text, updated_at timestamptz NOT NULL)")
        pg.execute(
            "INSERT INTO person_tags SELECT 'bu' || g, (ARRAY['bronze','silver','gold','platinum'])[1 + g %% 4], "
            "'city' || (g %% 300), timestamptz '2026-11-01' + g * interval '1 millisecond' FROM generate_series(0, %s - 1) AS g",
            (rows,),
        )
        pg.execute("VACUUM ANALYZE person_tags")
    warehouse.command(
        "INSERT INTO oneid_map (id_type, id_value, oneid, anchor, oneid_created_at, first_seen, last_seen, source, rules, version) "
        "SELECT 'user_id', concat('bu', toString(number)), concat('bo', toString(number)), '', now64(3), now64(3), now64(3), "
        "'bench', 'bench', 1 FROM numbers({n:UInt64})",
        {"n": int(rows * MAPPED_SHARE)},
        settings={"async_insert": 0},
    )


def plain_copy(settings) -> tuple[int, float]:
    """The baseline: COPY of the same columns out of PostgreSQL as CSV, bytes read and discarded."""
    from pipelines.push.connection import connect

    started, size = time.perf_counter(), 0
    with connect(settings, DATABASE) as pg, pg.cursor() as cursor:
        with cursor.copy("COPY (SELECT user_id, level, city, updated_at FROM person_tags) TO STDOUT (FORMAT csv)") as copy:
            for block in copy:
                size += len(block)
    return size, time.perf_counter() - started


def change(settings, rows: int, share: float, round_: int) -> int:
    """A share of the rows gets a new level (and a newer updated_at)."""
    from pipelines.push.connection import connect

    step = max(1, int(1 / share))
    with connect(settings, DATABASE) as pg:
        changed = pg.execute(
            "UPDATE person_tags SET level = 'changed' || %s, updated_at = updated_at + interval '30 days' * %s "
            "WHERE (substr(user_id, 3)::bigint) %% %s = 0",
            (round_, round_, step),
        ).rowcount
    return changed


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the source table (default 1M)")
    args = parser.parse_args(argv)

    from pipelines.stack.components import POSTGRES, WAREHOUSE

    data_dir, settings, stack = private_stack([WAREHOUSE, POSTGRES], prefix="tf-bench-cdp-")
    from pipelines.cdp.sources import Source
    from pipelines.cdp.sync import sync
    from pipelines.identity.rules import load_rules
    from pipelines.warehouse.client import Warehouse

    try:
        writer, analyst = Warehouse(settings), Warehouse(settings, role="analyst")
        rules = load_rules(settings.identity_rules)
        prepare(settings, writer, args.rows)

        def source(name: str, mode: str) -> Source:
            return Source.model_validate({
                "name": name, "postgres": {"database": DATABASE, "query": "SELECT * FROM person_tags"},
                "person": {"column": "user_id", "id_type": "user_id"}, "mode": mode, "updated": "updated_at",
                "tags": ["level", "city"],
            })  # fmt: skip

        print(f"cores: {os.cpu_count()}, load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        size, copy_s = plain_copy(settings)
        print(f"{'run':<42} {'rows':>10} {'seconds':>8} {'rows/s':>10}   detail")
        print(f"{'plain COPY out of PostgreSQL (baseline)':<42} {args.rows:>10,} {copy_s:>8.2f} {args.rows / copy_s:>10,.0f}   {size / 1e6:.0f} MB of CSV, read and dropped")

        def report(label: str, result) -> None:
            if not result.ok:
                raise SystemExit(f"{label}: {result.error}")
            phases = " + ".join(f"{k} {v:.2f}" for k, v in result.phases.items())
            print(
                f"{label:<42} {result.rows_read:>10,} {result.seconds:>8.2f} {result.rows_read / result.seconds:>10,.0f}   "
                f"{phases}; {result.persons_mapped:,} persons, {result.unmapped:,} unmapped, tags {result.tags_written:,} written "
                f"{result.tags_deleted:,} deleted; {result.seconds / copy_s:.1f}x the COPY",
                flush=True,
            )

        full = source("bench_full", "full")
        report("full sync, first run", sync(settings, writer, analyst, full, rules, data_dir))
        changed = change(settings, args.rows, 0.01, 1)
        report(f"full sync, {changed:,} rows changed", sync(settings, writer, analyst, full, rules, data_dir))
        incremental = source("bench_incremental", "incremental")
        first = sync(settings, writer, analyst, incremental, rules, data_dir)
        report("incremental, first run (all rows)", first)
        changed = change(settings, args.rows, 0.01, 2)
        report(f"incremental, {changed:,} rows changed", sync(settings, writer, analyst, incremental, rules, data_dir))
        print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        stack.down(report=lambda line: None)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
