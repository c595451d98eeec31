"""Adds `expected` (tables, columns, events from EXPLAIN QUERY TREE) to every query in tests/corpus/queries.jsonl.

Runs ClickHouse in-process (chDB) with tests/corpus/schema.sql, so it needs no running stack:
    .venv/bin/python tests/corpus/build_expected.py
tests/heat/test_corpus.py re-checks the stored expectations against the embedded warehouse's EXPLAIN, so a
stale or hand-edited expectation fails the suite.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1]))

from pipelines.heat.oracle import explain  # noqa: E402


def clickhouse_literal(value) -> str:
    """Query-parameter text as ClickHouse parses it: arrays as ['a', 'b'] (clickhouse-connect does the same)."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join("'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'" for v in value) + "]"
    return str(value)


def schema_statements() -> list[str]:
    text = "\n".join(line for line in (HERE / "schema.sql").read_text().splitlines() if not line.startswith("--"))
    return [statement.strip() for statement in text.split(";") if statement.strip()]


def main() -> None:
    from chdb import session

    with tempfile.TemporaryDirectory() as folder:
        chdb = session.Session(folder)
        chdb.query("CREATE DATABASE IF NOT EXISTS corpus")
        for statement in schema_statements():
            chdb.query(statement)

        def run(sql: str, parameters: dict) -> str:
            bound = {name: clickhouse_literal(value) for name, value in parameters.items()}
            return chdb.query(sql, "TSVRaw", params=bound).bytes().decode("utf-8", "replace")

        chdb.query("USE corpus")
        path = HERE / "queries.jsonl"
        entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        failures = 0
        for entry in entries:
            entry.pop("expected", None)
            if entry.get("parse_only"):
                continue
            try:
                ref = explain(run, entry["sql"], entry.get("parameters"))
            except Exception as exc:  # an invalid corpus query: report it, keep going
                failures += 1
                print(f"{entry['id']}: {str(exc).splitlines()[0][:300]}")
                continue
            entry["expected"] = {"tables": sorted(ref.tables), "columns": sorted(ref.columns), "events": sorted(ref.events)}
        with open(path, "w") as out:
            for entry in entries:
                out.write(json.dumps(entry, ensure_ascii=False) + "\n")
        print(f"{len(entries)} queries, {failures} rejected by ClickHouse")


if __name__ == "__main__":
    main()
