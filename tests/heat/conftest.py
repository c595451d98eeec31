"""Fixtures of the heat tests: the corpus schema in its own database of the session warehouse, a catalog of it,
and the corpus entries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def corpus_entries() -> list[dict]:
    return [json.loads(line) for line in (CORPUS / "queries.jsonl").read_text().splitlines() if line.strip()]


def schema_statements() -> list[str]:
    text = "\n".join(line for line in (CORPUS / "schema.sql").read_text().splitlines() if not line.startswith("--"))
    return [statement.strip() for statement in text.split(";") if statement.strip()]


@pytest.fixture(scope="session")
def corpus_warehouse(warehouse, stack_settings):
    """A writer Warehouse whose default database is `corpus`, holding the corpus tables (empty)."""
    from pipelines.warehouse.client import Warehouse

    warehouse.command("DROP DATABASE IF EXISTS corpus SYNC")
    warehouse.command("CREATE DATABASE corpus")
    for statement in schema_statements():
        warehouse.command(statement)
    handle = Warehouse(stack_settings, database="corpus")
    yield handle
    handle.close()


@pytest.fixture(scope="session")
def corpus_catalog(corpus_warehouse):
    from pipelines.heat.catalog import Catalog

    return Catalog.from_warehouse(corpus_warehouse)
