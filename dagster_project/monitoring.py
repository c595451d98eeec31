"""Reconciliation (对账) with a history: every few minutes on the last closed window (near real time) and hourly per
received_at hour, accepted = Kafka = quarantined + detail = warehouse rows per app and layer
(pipelines/monitoring/reconcile.py). Each run appends every link it compared to the `reconciliation` table (the
board and the alerts component's `reconciliation_mismatch` rule read it) and its asset check fails naming the stage
where events went missing or were duplicated."""

import datetime as dt

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    Config,
    Definitions,
    MetadataValue,
    Output,
    ScheduleDefinition,
    asset,
    build_schedule_from_partitioned_job,
    define_asset_job,
)

from dagster_project.partitions import hourly
from dagster_project.resources import WarehouseResource
from pipelines.monitoring import reconcile

RECENT_WINDOW = dt.timedelta(minutes=5)
# A window is closed once its events have passed every stage and their counts have landed: the dwd batch delay,
# a checkpoint and the metrics job's flush (seconds each by default), with room to spare.
SETTLE = dt.timedelta(minutes=2)


def last_closed_window(now: dt.datetime, width: dt.timedelta = RECENT_WINDOW, settle: dt.timedelta = SETTLE) -> tuple[dt.datetime, dt.datetime]:
    """The latest window of `width`, aligned to multiples of it, that ended at least `settle` ago."""
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    end = epoch + ((now - settle - epoch) // width) * width
    return end - width, end


def stage_totals(stages: dict[tuple[str, str], int]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for (stage, _), n in stages.items():
        totals[stage] = totals.get(stage, 0) + n
    return dict(sorted(totals.items()))


def reconcile_window(context: AssetExecutionContext, warehouse: WarehouseResource, start: dt.datetime, end: dt.datetime, cadence: str):
    handle = warehouse.handle()
    try:
        stages, rows = reconcile.gather(handle, start, end)
        links = reconcile.compare(stages, rows)
        if links:
            handle.insert("reconciliation", reconcile.history_rows(links, start, end, cadence), reconcile.COLUMNS, settings={"async_insert": 0})
    finally:
        handle.close()
    culprit = reconcile.first_mismatch(links)
    wrong = [link.describe() for link in links if link.verdict != "ok"]
    metadata = {
        "window": f"{start:%Y-%m-%d %H:%M} - {end:%H:%M} UTC",
        # the window's totals over every app, for reading a run at a glance
        "stages": MetadataValue.json(stage_totals(stages)),
        "warehouse_rows": sum(rows.values()),
        "links": MetadataValue.json([{**link.__dict__, "verdict": link.verdict} for link in links]),
        "stage": culprit.stage if culprit else "",
    }
    context.log.info(culprit.describe() if culprit else f"{len(links)} links agree")
    yield Output({"links": len(links), "mismatches": len(wrong)}, metadata=metadata)
    yield AssetCheckResult(
        check_name="chain_agrees",
        passed=culprit is None,
        metadata=metadata,
        description=("; ".join([culprit.describe()] + [w for w in wrong if w != culprit.describe()])) if culprit else (f"{len(links)} links agree" if links else "no counts for this window"),
    )


class RecentWindow(Config):
    """`end` (ISO time, UTC) picks the window ending then; empty: the last closed window."""

    end: str = ""


CHECK = "accepted = Kafka = quarantined + detail = warehouse rows, per app and layer; a failure names the stage."


@asset(group_name="reconciliation", kinds={"clickhouse"}, check_specs=[AssetCheckSpec("chain_agrees", asset="reconciliation_recent", description=CHECK)])
def reconciliation_recent(context: AssetExecutionContext, config: RecentWindow, warehouse: WarehouseResource):
    """Near-real-time 对账 of the last closed 5-minute window (received_at), every 5 minutes."""
    if config.end:
        end = dt.datetime.fromisoformat(config.end).astimezone(dt.timezone.utc)
        start = end - RECENT_WINDOW
    else:
        start, end = last_closed_window(dt.datetime.now(dt.timezone.utc))
    yield from reconcile_window(context, warehouse, start, end, "recent")


@asset(
    partitions_def=hourly,
    group_name="reconciliation",
    kinds={"clickhouse"},
    check_specs=[AssetCheckSpec("chain_agrees", asset="reconciliation_hourly", description=CHECK)],
)
def reconciliation_hourly(context: AssetExecutionContext, warehouse: WarehouseResource):
    """对账 of one received_at hour, with the history of every link."""
    start = dt.datetime.strptime(context.partition_key, "%Y-%m-%d-%H:%M").replace(tzinfo=dt.timezone.utc)
    yield from reconcile_window(context, warehouse, start, start + dt.timedelta(hours=1), "hourly")


recent_job = define_asset_job("reconcile_recent", selection=[reconciliation_recent])
hourly_job = define_asset_job("reconcile_hourly", selection=[reconciliation_hourly])
defs = Definitions(
    assets=[reconciliation_recent, reconciliation_hourly],
    jobs=[recent_job, hourly_job],
    schedules=[
        ScheduleDefinition(job=recent_job, cron_schedule="*/5 * * * *", execution_timezone="UTC"),
        # 20 minutes past the hour, the previous hour: every count of it has landed by then.
        build_schedule_from_partitioned_job(hourly_job, minute_of_hour=20),
    ],
)
