"""Cost of the analyst's access check (pipelines/warehouse/access.py) in the embedded engine, same run, same data.

The writer's statements run unchecked: they are the baseline. Per query, median of --repeat runs:
- the check alone (formatQuery + EXPLAIN AST + the tree walk) on a short query and on a funnel model's SQL, cache
  missed (each run's text differs by a comment) and cache hit;
- a short parameterised query end to end (engine.execute) as the writer, as the analyst with the check cached (the
  parameters change, the text does not: an analysis repeated with other dates) and with it missed.
Usage:  .venv/bin/python bench/warehouse/analyst_check.py [--repeat 300]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from clickhouse_connect.driver.binding import bind_query

from pipelines.analysis import build_queries, parse_request
from pipelines.warehouse.access import AnalystPolicy
from pipelines.warehouse.engine import ChdbEngine, Statement, User

SHORT = "SELECT event, count() FROM trackflow.t WHERE k > {x:UInt64} GROUP BY event"
FUNNEL = {"model": "funnel", "app_id": "a", "date_from": "2026-11-01", "date_to": "2026-11-08",
          "steps": [{"event": "view"}, {"event": "cart"}, {"event": "pay"}], "breakdown": "platform"}  # fmt: skip


def median_ms(run, repeat: int) -> float:
    times = []
    for i in range(repeat):
        started = time.perf_counter()
        run(i)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=300)
    repeat = parser.parse_args().repeat
    writer, analyst = User("writer", "w", readonly=False), User("analyst", "a", readonly=True)
    with tempfile.TemporaryDirectory() as directory:
        engine = ChdbEngine(directory, [writer, analyst], pool_size=1)
        try:
            engine.execute(writer, Statement("CREATE DATABASE trackflow"))
            engine.execute(writer, Statement("CREATE TABLE trackflow.t (k UInt64, event String) ENGINE = MergeTree ORDER BY k"))
            engine.execute(writer, Statement("INSERT INTO trackflow.t SELECT number, toString(number % 7) FROM numbers(10000)"))
            funnel = next(iter(build_queries(parse_request(FUNNEL)).values()))
            connection = engine._pooled(True)

            def parse_only(sql, parameters):
                return connection.query(sql, "TabSeparatedRaw", params=parameters or None).bytes().decode()

            def check(sql: str, parameters: dict, cached: bool):
                policy = AnalystPolicy("trackflow")
                if cached:
                    policy.check_statement(parse_only, sql, parameters)
                    return lambda i: policy.check_statement(parse_only, sql, parameters)
                return lambda i: policy.check_statement(parse_only, f"{sql}\n-- run {i}", parameters)

            # the `param_*` values exactly as clickhouse-connect sends them
            funnel_sql, bound = bind_query(funnel.sql, funnel.parameters)
            funnel_parameters = {name.removeprefix("param_"): value for name, value in bound.items()}
            rows = [
                ("check, short query, missed", median_ms(check(SHORT, {"x": "1"}, cached=False), repeat)),
                ("check, short query, cached", median_ms(check(SHORT, {"x": "1"}, cached=True), repeat)),
            ]
            rows.append(("check, funnel SQL, missed", median_ms(check(funnel_sql, funnel_parameters, cached=False), repeat)))
            engine._release(True, connection)

            def execute(user, vary_text: bool):
                def run(i):
                    sql = f"{SHORT} -- {i}" if vary_text else SHORT
                    engine.execute(user, Statement(sql, parameters={"x": str(i)}, database="trackflow"))

                return run

            rows += [
                ("query as the writer (baseline, no check)", median_ms(execute(writer, False), repeat)),
                ("query as the analyst, check cached", median_ms(execute(analyst, False), repeat)),
                ("query as the analyst, check missed", median_ms(execute(analyst, True), repeat)),
            ]
        finally:
            engine.close()
    print(f"analyst access check, median of {repeat} runs (funnel SQL: {len(funnel.sql):,} characters)")
    for name, value in rows:
        print(f"  {name:<48} {value:8.3f} ms")


if __name__ == "__main__":
    main()
