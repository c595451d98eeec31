"""Warehouse health: daily row counts per detail table (the input of reconciliation and alerting), their job and
the daily schedule."""

import datetime as dt

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Definitions,
    MetadataValue,
    Output,
    asset,
    define_asset_job,
)

from dagster_project.partitions import daily, day_before_schedule
from dagster_project.resources import WarehouseResource

DETAIL_TABLES_SQL = """
SELECT name FROM system.tables
WHERE database = currentDatabase() AND name LIKE 'dwd\\_%' AND engine LIKE '%MergeTree'
ORDER BY name
"""
DAY_COUNT_SQL = "SELECT count() FROM {table:Identifier} WHERE toDate(ts) = {day:Date}"


# The check runs inside the asset: a check on a partitioned asset must judge the partition just computed.
@asset(
    partitions_def=daily,
    group_name="warehouse_health",
    kinds={"clickhouse"},
    check_specs=[
        AssetCheckSpec("day_has_events", asset="daily_table_counts", description="Detail tables exist and the day is not empty.")
    ],
)
def daily_table_counts(context: AssetExecutionContext, warehouse: WarehouseResource):
    """Rows per detail table for the partition's day, one row per table."""
    day = dt.date.fromisoformat(context.partition_key)
    handle = warehouse.handle()
    tables = [name for (name,) in handle.rows(DETAIL_TABLES_SQL)]
    counts = pd.DataFrame(
        {
            "day": [day] * len(tables),
            "table": tables,
            "rows": [int(handle.scalar(DAY_COUNT_SQL, {"table": t, "day": day})) for t in tables],
        }
    )
    total = int(counts["rows"].sum())
    yield Output(
        counts,
        metadata={
            "tables": len(tables),
            "total_rows": total,
            "counts": MetadataValue.md(counts.to_markdown(index=False) if len(counts) else "no detail tables"),
        },
    )
    yield AssetCheckResult(
        check_name="day_has_events",
        passed=len(tables) > 0 and total > 0,
        severity=AssetCheckSeverity.WARN,
        metadata={"tables": len(tables), "total_rows": total},
        description=None if total else "no events stored for this day",
    )


warehouse_health_job = define_asset_job("warehouse_health", selection=[daily_table_counts])


warehouse_health_schedule = day_before_schedule(warehouse_health_job, "15 0 * * *", "At 00:15 UTC, the day that just ended.")


defs = Definitions(assets=[daily_table_counts], jobs=[warehouse_health_job], schedules=[warehouse_health_schedule])
