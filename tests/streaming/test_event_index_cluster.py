"""The cluster variant of the event index (sql/cluster/0041_event_index.sql) declares what migration 0041 creates:
its local table, made here without ON CLUSTER (no Keeper in tests), matches the migrated `event_index`, and the
Distributed table routes by event_id."""

from __future__ import annotations

import uuid

from pipelines.warehouse.client import sql_dir
from pipelines.warehouse.migrate import Migration


def _shape(warehouse, table: str) -> dict:
    columns = warehouse.rows(
        "SELECT name, type, default_kind, default_expression FROM system.columns "
        "WHERE database = currentDatabase() AND table = {t:String} ORDER BY position",
        {"t": table},
    )
    keys = warehouse.rows(
        "SELECT engine, primary_key FROM system.tables WHERE database = currentDatabase() AND name = {t:String}", {"t": table}
    )
    return {"columns": columns, "keys": keys}


def test_cluster_event_index_matches_the_embedded_one(warehouse):
    local, distributed = Migration("0041", "event_index", sql_dir() / "cluster" / "0041_event_index.sql").statements()
    assert "CREATE TABLE IF NOT EXISTS local_event_index ON CLUSTER '{cluster}' (" in local
    scratch = f"event_index_check_{uuid.uuid4().hex[:8]}"
    warehouse.command(local.replace("local_event_index ON CLUSTER '{cluster}'", scratch))
    try:
        assert _shape(warehouse, scratch) == _shape(warehouse, "event_index")
        assert _shape(warehouse, "event_index")["keys"] == [("EmbeddedRocksDB", "event_id")]
    finally:
        warehouse.command(f"DROP TABLE {scratch}")
    # Every copy of an event_id claims on one shard, whatever person its ids make it.
    assert "Distributed('{cluster}_event_index', currentDatabase(), local_event_index, cityHash64(event_id))" in distributed
    assert "CreateQuery" in str(warehouse.command(f"EXPLAIN AST {distributed}"))
