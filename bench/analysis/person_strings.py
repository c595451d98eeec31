"""What keeping the id strings (sql/migrations/0080_person_strings.sql) costs the detail table's insert path: the
same generated frames inserted into dwd_default with the materialized view and without it, in turns, best of
`--repeat` per side.

    flock -x /tmp/trackflow-cpu.lock .venv/bin/python -m bench.analysis.person_strings     # 500k-event frames

A private warehouse (temporary directory, bench.analysis.run's set-up with a small dataset); each insert is
pipelines.demogen.insert_frame of a new frame (new event ids, the same sizes), as the 10M-event benches load theirs.
"""

from __future__ import annotations

import argparse
import os
import time

from bench.analysis.run import APP, DAYS, demo_warehouse
from pipelines.demogen import DemoSpec, generate_frame, insert_frame
from pipelines.warehouse import person_strings
from pipelines.warehouse.client import Warehouse

VIEW = person_strings.view_name("dwd_default")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=500_000, help="events per inserted frame")
    parser.add_argument("--repeat", type=int, default=4)
    args = parser.parse_args(argv)
    setup = argparse.Namespace(events=100_000, persons=10_000, chunks=1, repeat=1, keep=None)
    create_view = person_strings.view_ddl("dwd_default")  # migration 0080's statement
    with demo_warehouse(setup) as (settings, end):
        writer = Warehouse(settings)
        print(f"load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        seconds = {"with the view": [], "without": []}
        for k in range(2 * args.repeat):
            frame = generate_frame(DemoSpec(events=args.rows, persons=args.rows // 10, days=DAYS, end=end, app_id=APP, seed=100 + k))
            side = "with the view" if k % 2 == 0 else "without"
            writer.command(create_view if side == "with the view" else f"DROP VIEW IF EXISTS {VIEW}")
            started = time.perf_counter()
            insert_frame(writer, frame)
            seconds[side].append(time.perf_counter() - started)
        writer.command(create_view)
        best = {side: min(values) for side, values in seconds.items()}
        for side, values in seconds.items():
            print(f"{side:<14} best {best[side]:.3f} s  ({', '.join(f'{v:.3f}' for v in values)}) for {args.rows:,} events")
        print(f"insert with the view / without: {best['with the view'] / best['without']:.3f}x")
        kept = writer.scalar("SELECT count() FROM person_strings")
        print(f"person_strings rows (before merges): {kept:,}")
        print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
