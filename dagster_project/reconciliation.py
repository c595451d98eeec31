"""Hourly stage reconciliation (对账): the events each stage counted in `pipeline_metrics` against the rows the
warehouse holds, per received_at hour; its job and the hourly schedule."""

import datetime as dt

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    Definitions,
    MetadataValue,
    Output,
    asset,
    build_schedule_from_partitioned_job,
    define_asset_job,
)

from dagster_project.partitions import hourly
from dagster_project.resources import WarehouseResource

STAGE_COUNTS_SQL = """
SELECT stage, sum(events) FROM pipeline_metrics_minute
WHERE minute >= {start:DateTime('UTC')} AND minute < {end:DateTime('UTC')}
GROUP BY stage ORDER BY stage
"""
WAREHOUSE_COUNT_SQL = (
    "SELECT count() FROM events WHERE received_at >= {start:DateTime64(3, 'UTC')} AND received_at < {end:DateTime64(3, 'UTC')}"
)


@asset(
    partitions_def=hourly,
    group_name="reconciliation",
    kinds={"clickhouse"},
    check_specs=[AssetCheckSpec("stages_agree", asset="stage_counts_hourly", description="collected = raw = detail + quarantined = warehouse rows.")],
)
def stage_counts_hourly(context: AssetExecutionContext, warehouse: WarehouseResource):
    """对账 per hour (by received_at): events the collector accepted (`collected`: its counts travel through Kafka to
    jobs/metrics like every stage's), the pipeline counted in Kafka (`raw`), wrote to detail tables (`dwd.*`) or
    quarantined, against the rows the warehouse holds. Stages without metrics are reported, not failed: the check
    judges the stages that exist."""
    start = dt.datetime.strptime(context.partition_key, "%Y-%m-%d-%H:%M").replace(tzinfo=dt.timezone.utc)
    end = start + dt.timedelta(hours=1)
    handle = warehouse.handle()
    stages = {stage: int(n) for stage, n in handle.rows(STAGE_COUNTS_SQL, {"start": start, "end": end})}
    stored = int(handle.scalar(WAREHOUSE_COUNT_SQL, {"start": start, "end": end}))
    collected, raw = stages.get("collected"), stages.get("raw")
    detail = sum(n for stage, n in stages.items() if stage.startswith("dwd."))
    quarantined = stages.get("quarantined", 0)
    problems = []
    if collected is not None and raw is not None and collected != raw:
        problems.append(f"collector accepted {collected:,} != raw {raw:,} in Kafka")
    if raw is not None and raw != detail + quarantined:
        problems.append(f"raw {raw:,} != detail {detail:,} + quarantined {quarantined:,}")
    if detail and detail != stored:
        problems.append(f"detail stage {detail:,} != warehouse rows {stored:,}")
    yield Output(stages | {"warehouse": stored}, metadata={"stages": MetadataValue.json(stages), "warehouse_rows": stored})
    yield AssetCheckResult(
        check_name="stages_agree",
        passed=not problems,
        metadata={"stages": MetadataValue.json(stages), "warehouse_rows": stored},
        description="; ".join(problems) or ("stages agree" if stages else "no stage metrics for this hour yet"),
    )


stage_reconciliation_job = define_asset_job("stage_reconciliation", selection=[stage_counts_hourly])
# 20 minutes past the hour, the previous hour's partition: the metrics job's per-minute counts have landed by then.
stage_reconciliation_schedule = build_schedule_from_partitioned_job(stage_reconciliation_job, minute_of_hour=20)

defs = Definitions(assets=[stage_counts_hourly], jobs=[stage_reconciliation_job], schedules=[stage_reconciliation_schedule])
