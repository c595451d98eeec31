"""Query-heat grading on a schedule: rolls `query_heat` up into hot/warm/cold tiers in `heat_tiers`, the table
storage tiering and layering rules read."""

from collections import Counter

from dagster import AssetExecutionContext, Definitions, MaterializeResult, ScheduleDefinition, asset, define_asset_job

from dagster_project.resources import WarehouseResource


@asset(group_name="query_heat", kinds={"clickhouse"})
def heat_tiers(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    """Every table, column and event graded hot/warm/cold by recency-weighted use (thresholds in docs/heat.md)."""
    from pipelines.heat.grading import refresh_tiers

    handle = warehouse.handle()
    try:
        graded = refresh_tiers(handle)
    finally:
        handle.close()
    tiers = Counter(g.tier for g in graded)
    hottest = sorted(graded, key=lambda g: -g.score)[:10]
    context.log.info("graded %d objects: %s", len(graded), dict(tiers))
    return MaterializeResult(
        metadata={
            "objects": len(graded),
            **{f"{tier}_objects": tiers.get(tier, 0) for tier in ("hot", "warm", "cold")},
            "hottest": ", ".join(f"{g.object} ({g.score:.1f})" for g in hottest) or "none",
        }
    )


heat_grading_job = define_asset_job("heat_grading", selection=[heat_tiers])
heat_grading_schedule = ScheduleDefinition(job=heat_grading_job, cron_schedule="5 * * * *", execution_timezone="UTC")

defs = Definitions(assets=[heat_tiers], jobs=[heat_grading_job], schedules=[heat_grading_schedule])
