"""The corpus files in one place: entries of queries.jsonl and the statements of schema.sql."""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent


def entries() -> list[dict]:
    return [json.loads(line) for line in (HERE / "queries.jsonl").read_text().splitlines() if line.strip()]


def schema_statements() -> list[str]:
    text = "\n".join(line for line in (HERE / "schema.sql").read_text().splitlines() if not line.startswith("--"))
    return [statement.strip() for statement in text.split(";") if statement.strip()]


def chdb_corpus_session(folder: str):
    """An in-process ClickHouse (chDB) holding the corpus schema, for tools that run without the stack."""
    from chdb import session

    chdb = session.Session(folder)
    chdb.query("CREATE DATABASE IF NOT EXISTS corpus")
    for statement in schema_statements():
        chdb.query(statement)
    chdb.query("USE corpus")
    return chdb
