"""`trackflow warehouse load` throughput on a generated file, on a private embedded warehouse.

    .venv/bin/python bench/warehouse/load.py [--events 200000] [--days 30] [--chunk-rows 50000]

Prints events/s of: the first load of the file (`load_file`), a re-load of the same file (every event already
stored), and, as the baseline of the same run, the same rows inserted in the same chunks straight into a detail
table (what a load costs without any dedup: validation is included in both, the event index only in the first two).
Each line says how many rows the table holds afterwards, so a re-load that added rows shows. The figures depend on
nothing but `load_file`'s public signature, so the same script measures an older checkout (run it from there).
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPOSITORY))


def private_warehouse(root: Path):
    os.environ.update(TRACKFLOW_DATA_DIR=str(root), TRACKFLOW_WAREHOUSE_PORT="0", TRACKFLOW_CONFIG=str(root / "absent.toml"))
    os.environ.pop("TRACKFLOW_CLICKHOUSE_URL", None)
    from pipelines.config import get_settings
    from pipelines.stack import Stack
    from pipelines.stack.components import WAREHOUSE
    from pipelines.warehouse.client import Warehouse
    from pipelines.warehouse.migrate import migrate

    get_settings.cache_clear()
    settings = get_settings()
    stack = Stack(settings, [WAREHOUSE])
    stack.up(report=lambda _: None)
    warehouse = Warehouse(settings)
    migrate(warehouse)
    return warehouse, stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000, help="events in the generated file")
    parser.add_argument("--days", type=int, default=30, help="days the events span (day partitions)")
    parser.add_argument("--chunk-rows", type=int, default=50_000, help="rows per insert")
    args = parser.parse_args()

    from pipelines.backfill import load_file, validate_line
    from pipelines.demogen import DemoSpec, generate_frame, write_jsonl
    from pipelines.envelope import DETAIL_COLUMNS, detail_row

    with tempfile.TemporaryDirectory(prefix="trackflow-loadbench-") as tmp:
        root = Path(tmp)
        warehouse, stack = private_warehouse(root / "data")
        try:
            path = root / "events.jsonl.gz"
            write_jsonl(generate_frame(DemoSpec(events=args.events, persons=max(1, args.events // 20), days=args.days)), path)
            count = lambda table: int(warehouse.scalar(f"SELECT count() FROM {table}"))  # noqa: E731
            print(f"warehouse load of {args.events:,} events over {args.days} days, {args.chunk_rows:,} rows per insert:")

            warehouse.command("CREATE TABLE dwd_plain AS dwd_default")
            started = time.perf_counter()
            with gzip.open(path, "rt", encoding="utf-8") as lines:
                rows = []
                for line in lines:
                    rows.append(detail_row(validate_line(line)))
                    if len(rows) == args.chunk_rows:
                        warehouse.insert("dwd_plain", rows, DETAIL_COLUMNS, settings={"async_insert": 0})
                        rows = []
                if rows:
                    warehouse.insert("dwd_plain", rows, DETAIL_COLUMNS, settings={"async_insert": 0})
            print(f"  baseline, plain inserts         {args.events / (time.perf_counter() - started):>9,.0f} events/s  ({count('dwd_plain'):,} rows)")
            for name in ("first load", "re-load of the same file"):
                started = time.perf_counter()
                load_file(path, warehouse, chunk_rows=args.chunk_rows)
                elapsed = time.perf_counter() - started
                print(f"  load_file, {name:<22}{args.events / elapsed:>9,.0f} events/s  ({count('dwd_default'):,} rows)")
        finally:
            warehouse.close()
            stack.down(report=lambda _: None)


if __name__ == "__main__":
    main()
