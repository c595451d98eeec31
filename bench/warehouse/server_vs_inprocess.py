"""Embedded warehouse server (clickhouse-connect over HTTP) vs chDB called in-process, same data, same run.

Measures a 1M-row insert from a pandas DataFrame (through clickhouse-connect's `insert_df`, its Native encoder,
and through `Warehouse.insert_arrow`, Arrow IPC in two parallel slices), a scan (`count()` + `sum(cityHash64(...))`
over the columns), and fetching all rows into pandas. Each figure is the best of --repeat runs. Usage:
    .venv/bin/python bench/warehouse/server_vs_inprocess.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

import chdb
import numpy as np
import pandas as pd

from pipelines.config import Settings
from pipelines.stack import Stack
from pipelines.stack.components import WAREHOUSE
from pipelines.warehouse.client import Warehouse

DDL = """CREATE TABLE {name} (
    event_id UUID, event LowCardinality(String), app_id LowCardinality(String), ts DateTime64(3, 'UTC'),
    person_id String, price Float64, quantity UInt32
) ENGINE = MergeTree ORDER BY (app_id, event, person_id)"""
SCAN = "SELECT count(), sum(cityHash64(event_id, event, app_id, ts, person_id, price, quantity)) FROM {name}"


def make_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    events = np.array(["page_view", "click", "search", "product_view", "add_to_cart", "pay"])
    return pd.DataFrame(
        {
            "event_id": [str(uuid.UUID(int=int(a) << 64 | int(b))) for a, b in rng.integers(0, 2**63, (rows, 2))],
            "event": events[rng.integers(0, len(events), rows)],
            "app_id": "demo-shop",
            "ts": pd.to_datetime(1_760_000_000_000 + rng.integers(0, 30 * 86_400_000, rows), unit="ms", utc=True),
            "person_id": [f"dev-{p}" for p in rng.integers(0, rows // 20, rows)],
            "price": rng.uniform(1, 500, rows).round(2),
            "quantity": rng.integers(1, 5, rows).astype("uint32"),
        }
    )


def best(runs: int, action) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    frame = make_frame(args.rows)
    print(f"data: {args.rows:,} rows x {frame.shape[1]} columns")

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "server", warehouse_port=0, clickhouse_url="")
        stack = Stack(settings, components=[WAREHOUSE])
        stack.up(report=lambda _: None)
        try:
            server = Warehouse(settings, database="default")
            local = chdb.connect(str(Path(tmp) / "inprocess"))
            counter = iter(range(1_000))
            server_tables: list[str] = []
            local_tables: list[str] = []

            def new_table(prefix: str, create, tables: list[str]) -> str:
                tables.append(f"{prefix}{next(counter)}")
                create(DDL.format(name=tables[-1]))
                return tables[-1]

            def server_insert():
                server.insert_df(new_table("s", server.command, server_tables), frame)

            def server_insert_arrow():
                server.insert_arrow(new_table("s", server.command, server_tables), frame)

            def local_insert():
                name = new_table("l", local.query, local_tables)
                local.query(f"INSERT INTO {name} SELECT * FROM Python(frame)")

            results = {
                "insert (insert_df, Native)": (best(args.repeat, server_insert), best(args.repeat, local_insert)),
                "insert (insert_arrow, 2 slices)": (best(args.repeat, server_insert_arrow), best(args.repeat, local_insert)),
                "scan (count + cityHash64 of all columns)": (
                    best(args.repeat, lambda: server.rows(SCAN.format(name=server_tables[0]))),
                    best(args.repeat, lambda: local.query(SCAN.format(name=local_tables[0]), "CSV")),
                ),
                "fetch all rows into pandas": (
                    best(args.repeat, lambda: server.query_df(f"SELECT * FROM {server_tables[0]}")),
                    best(args.repeat, lambda: local.query(f"SELECT * FROM {local_tables[0]}", "DataFrame")),
                ),
            }
            local.close()
        finally:
            stack.down(report=lambda _: None)

    print(f"{'operation':<44}{'server (HTTP)':>15}{'in-process':>13}{'ratio':>8}")
    for name, (over_http, in_process) in results.items():
        print(f"{name:<44}{over_http:>14.3f}s{in_process:>12.3f}s{over_http / in_process:>7.2f}x")


if __name__ == "__main__":
    main()
