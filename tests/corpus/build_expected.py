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
from tests.corpus.corpus import chdb_corpus_session  # noqa: E402


def clickhouse_literal(value) -> str:
    """Query-parameter text as ClickHouse parses it: arrays as ['a', 'b'] (clickhouse-connect does the same)."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join("'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'" for v in value) + "]"
    return str(value)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        chdb = chdb_corpus_session(folder)

        def run(sql: str, parameters: dict) -> str:
            bound = {name: clickhouse_literal(value) for name, value in parameters.items()}
            return chdb.query(sql, "TSVRaw", params=bound).bytes().decode("utf-8", "replace")

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
