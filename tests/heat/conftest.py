"""Fixtures of the heat tests: the corpus schema in its own database of the session warehouse and a catalog of it."""

from __future__ import annotations

import pytest

from tests.corpus.corpus import schema_statements


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
