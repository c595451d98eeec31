"""The cluster variant of the event model (sql/cluster/0001_events.sql) declares what the embedded migrations
create: its local table, made here with the non-replicated engine and without ON CLUSTER (no Keeper in tests),
must match the migrated `dwd_default` in columns, keys, TTL and storage policy."""

from __future__ import annotations

import re
import uuid

import pytest

from pipelines.warehouse.client import sql_dir
from pipelines.warehouse.migrate import Migration

CLUSTER_FILE = sql_dir() / "cluster" / "0001_events.sql"
# Later cluster files that alter the event tables, applied to the copy of the local table in order.
CLUSTER_ALTERS = [sql_dir() / "cluster" / "0003_terminal_columns.sql"]


def _alters(path) -> list[str]:
    """The file's statements without their comment lines."""
    return [re.sub(r"(?m)^--[^\n]*\n", "", s).strip() for s in Migration(path.name[:4], "alter", path).statements()]
REPLICATED = re.compile(r"ENGINE = ReplicatedReplacingMergeTree\('[^']*', '\{replica\}', (\w+)\)")


@pytest.fixture
def statements() -> list[str]:
    return Migration("0001", "events", CLUSTER_FILE).statements()


def _shape(warehouse, table: str) -> dict:
    columns = warehouse.rows(
        "SELECT name, type, default_kind, default_expression FROM system.columns "
        "WHERE database = currentDatabase() AND table = {t:String} ORDER BY position",
        {"t": table},
    )
    keys = warehouse.rows(
        "SELECT partition_key, sorting_key, primary_key, storage_policy, extract(engine_full, 'TTL (.*) SETTINGS') "
        "FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
        {"t": table},
    )
    return {"columns": columns, "keys": keys}


def test_cluster_local_table_matches_embedded(warehouse, statements):
    local = statements[0]
    assert "CREATE TABLE IF NOT EXISTS local_dwd_default ON CLUSTER '{cluster}' (" in local
    assert REPLICATED.search(local), "the local table is replicated, versioned by inserted_at like the embedded one"
    scratch = f"cluster_check_{uuid.uuid4().hex[:8]}"  # not ^dwd_: the events Merge table must not see it
    embedded_form = REPLICATED.sub(r"ENGINE = ReplacingMergeTree(\1)", local).replace(
        "local_dwd_default ON CLUSTER '{cluster}'", scratch
    )
    warehouse.command(embedded_form)
    for path in CLUSTER_ALTERS:
        local_alter = _alters(path)[0]
        assert local_alter.startswith("ALTER TABLE local_dwd_default ON CLUSTER '{cluster}'")
        warehouse.command(local_alter.replace("local_dwd_default ON CLUSTER '{cluster}'", scratch))
    try:
        assert _shape(warehouse, scratch) == _shape(warehouse, "dwd_default")
    finally:
        warehouse.command(f"DROP TABLE {scratch}")


def test_cluster_distributed_and_merge_tables(warehouse, statements):
    distributed, merge = statements[1:]
    assert "CREATE TABLE IF NOT EXISTS dwd_default ON CLUSTER '{cluster}' AS local_dwd_default" in distributed
    assert "Distributed('{cluster}', currentDatabase(), local_dwd_default, cityHash64(person_id))" in distributed
    assert "ENGINE = Merge(currentDatabase(), '^dwd_')" in merge
    assert not re.match("^dwd_", "local_dwd_default")  # events reads each event once, via the Distributed tables
    for statement in statements:  # the server's own parser accepts every statement
        assert "CreateQuery" in str(warehouse.command(f"EXPLAIN AST {statement}"))
    for path in CLUSTER_ALTERS:  # each alter covers the local, Distributed and Merge tables
        alters = _alters(path)
        assert [a.split(" ON CLUSTER")[0] for a in alters] == [f"ALTER TABLE {t}" for t in ("local_dwd_default", "dwd_default", "events")]
        assert len({a.split("'{cluster}'", 1)[1] for a in alters}) == 1, "the same columns on every table"
