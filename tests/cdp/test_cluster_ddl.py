"""The cluster variant of the CDP tables (sql/cluster/0070_cdp.sql) declares what migration 0070 creates: each table,
made here with the non-replicated engine and without ON CLUSTER (no Keeper in tests), has the migrated table's
columns, defaults and keys."""

from __future__ import annotations

import re
import uuid

from pipelines.warehouse.client import sql_dir
from pipelines.warehouse.migrate import Migration

REPLICATED = re.compile(r"ENGINE = ReplicatedMergeTree\('/clickhouse/tables/all/\{database\}/(\w+)', '\{shard\}-\{replica\}'\)")
CREATE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+) ON CLUSTER '\{cluster\}'")


def _shape(warehouse, table: str) -> tuple:
    columns = warehouse.rows(
        "SELECT name, type, default_kind, default_expression FROM system.columns WHERE database = currentDatabase() AND table = {t:String} ORDER BY position",
        {"t": table},
    )
    keys = warehouse.rows("SELECT sorting_key, primary_key, partition_key FROM system.tables WHERE database = currentDatabase() AND name = {t:String}", {"t": table})
    return columns, keys


def test_cluster_tables_match_the_migration(warehouse):
    statements = Migration("0070", "cdp", sql_dir() / "cluster" / "0070_cdp.sql").statements()
    tables = []
    for statement in statements:
        body = re.sub(r"(?m)^--[^\n]*\n", "", statement)
        table = CREATE.search(body).group(1)
        engine = REPLICATED.search(body)
        assert engine and engine.group(1) == table, "replicated to every node under its own Keeper path"
        scratch = f"cluster_check_{table}_{uuid.uuid4().hex[:6]}"
        warehouse.command(REPLICATED.sub("ENGINE = MergeTree", CREATE.sub(f"CREATE TABLE {scratch}", body)))
        try:
            assert _shape(warehouse, scratch) == _shape(warehouse, table), table
        finally:
            warehouse.command(f"DROP TABLE {scratch}")
        tables.append(table)
    assert tables == ["cdp_tags", "cdp_audiences", "cdp_audience_versions"]
