"""The cluster variant of the id strings (sql/cluster/0080_person_strings.sql) declares what migration 0080 creates:
its table, made here with the non-replicated engine and without ON CLUSTER (no Keeper in tests), has the migrated
table's columns, defaults, keys and engine family, and is replicated to every node."""

from __future__ import annotations

import re
import uuid

from pipelines.warehouse.client import sql_dir
from pipelines.warehouse.migrate import Migration
from tests.cdp.test_cluster_ddl import _shape

REPLICATED = re.compile(r"ENGINE = ReplicatedReplacingMergeTree\('/clickhouse/tables/all/\{database\}/person_strings', '\{shard\}-\{replica\}'\)")
CREATE = "CREATE TABLE IF NOT EXISTS person_strings ON CLUSTER '{cluster}'"


def test_cluster_person_strings_matches_the_migration(warehouse):
    (statement,) = Migration("0080", "person_strings", sql_dir() / "cluster" / "0080_person_strings.sql").statements()
    body = re.sub(r"(?m)^--[^\n]*\n", "", statement)
    assert body.startswith(CREATE) and REPLICATED.search(body), "one table, replicated to every node under one Keeper path"
    scratch = f"person_strings_check_{uuid.uuid4().hex[:8]}"
    warehouse.command(REPLICATED.sub("ENGINE = ReplacingMergeTree", body.replace(CREATE, f"CREATE TABLE {scratch}")))
    try:
        assert _shape(warehouse, scratch) == _shape(warehouse, "person_strings")
        engines = warehouse.rows("SELECT DISTINCT engine FROM system.tables WHERE database = currentDatabase() AND name IN ({s:String}, 'person_strings')", {"s": scratch})
        assert engines == [("ReplacingMergeTree",)]
    finally:
        warehouse.command(f"DROP TABLE {scratch}")
