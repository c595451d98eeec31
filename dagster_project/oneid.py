"""OneID offline side: the daily recompute of the identity graph, its reconciliation with the real-time mapping and
the publish of the corrections (pipelines/identity/daily.py does the work; this module only schedules it)."""

import datetime as dt

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
from dagster_project.resources import KafkaResource, WarehouseResource

# Differences that mean something was lost or decided differently, not just named differently.
SERIOUS_REASONS = ("merged_offline", "split_offline", "regrouped")


@asset(
    partitions_def=daily,
    group_name="oneid",
    kinds={"clickhouse", "kafka"},
    check_specs=[
        AssetCheckSpec(
            "realtime_matches_offline",
            asset="oneid_graph",
            description="Real-time and offline agreed on every person before the corrections were published.",
        )
    ],
)
def oneid_graph(context: AssetExecutionContext, warehouse: WarehouseResource, kafka: KafkaResource):
    """Recompute the identity graph from every link first seen up to the end of the partition's day, reconcile it
    with the real-time mapping (oneid_reconcile), publish the corrected mapping (oneid_map + identity.changes)."""
    from pipelines.config import get_settings
    from pipelines.identity.daily import kafka_sender, run_daily

    settings = get_settings()
    if kafka.bootstrap:
        settings = settings.model_copy(update={"kafka_bootstrap": kafka.bootstrap})
    day = dt.date.fromisoformat(context.partition_key)
    handle = warehouse.handle(settings)
    report = run_daily(settings, handle, day, kafka_sender(settings), report=context.log.info)
    serious = {reason: n for reason, n in report.reasons.items() if reason in SERIOUS_REASONS}
    yield Output(
        None,
        metadata={
            **{key: MetadataValue.int(int(value)) for key, value in report.stats.items()},
            "published_messages": report.published.get("messages", 0),
            "seconds": round(report.seconds, 2),
            "ttl_aged_out": report.aged_out,
            "ttl_as_of": report.ttl_as_of.isoformat(),
            "differences": MetadataValue.json(report.reasons),
        },
    )
    yield AssetCheckResult(
        check_name="realtime_matches_offline",
        passed=not serious,
        severity=AssetCheckSeverity.WARN,
        metadata={"serious_differences": MetadataValue.json(serious)},
    )


oneid_daily_job = define_asset_job("oneid_daily", selection=[oneid_graph])
# After the warehouse-health run (00:15): the day's last links have landed by then.
oneid_daily_schedule = day_before_schedule(oneid_daily_job, "45 0 * * *", "At 00:45 UTC, the day that just ended.")

defs = Definitions(assets=[oneid_graph], jobs=[oneid_daily_job], schedules=[oneid_daily_schedule])
