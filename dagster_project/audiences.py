"""Dynamic audiences in Dagster: one asset, `cdp_dynamic_audiences`, that recomputes every dynamic audience whose
schedule (hourly / daily / weekly, in the workbench's metadata store) says it is due, and an hourly schedule that
materialises it. A refused or failing audience keeps its previous version, has the reason in its `last_error`, and
fails the run naming it once the others are done."""

from dagster import (
    AssetExecutionContext,
    AssetSelection,
    Definitions,
    Failure,
    MetadataValue,
    Output,
    ScheduleDefinition,
    asset,
    define_asset_job,
)

from dagster_project.resources import PostgresResource, WarehouseResource

CRON = "5 * * * *"


@asset(
    name="cdp_dynamic_audiences",
    group_name="cdp",
    kinds={"clickhouse", "postgres"},
    description="Recomputes the due dynamic audiences (rules and saved results) as new versions with their sizes.",
)
def dynamic_audiences(context: AssetExecutionContext, warehouse: WarehouseResource, postgres: PostgresResource):
    from pipelines.audiences.definitions import refresh_due

    settings = postgres.settings()
    writer = warehouse.handle(settings)
    reader = WarehouseResource(url=warehouse.url, role="analyst").handle(settings)
    try:
        done, failed = refresh_due(settings, writer, reader)
    finally:
        writer.close()
        reader.close()
    for name, size in done.items():
        context.log.info(f"audience {name}: {size:,} persons")
    if failed:
        raise Failure(
            description="; ".join(f"{name}: {reason}" for name, reason in failed.items()),
            metadata={"refreshed": MetadataValue.json(done), "failed": MetadataValue.json(failed)},
        )
    return Output(None, metadata={"refreshed": MetadataValue.json(done), "audiences": len(done)})


job = define_asset_job("cdp_dynamic_audiences_job", selection=AssetSelection.assets(dynamic_audiences))
defs = Definitions(
    assets=[dynamic_audiences],
    jobs=[job],
    schedules=[ScheduleDefinition(name="cdp_dynamic_audiences_hourly", job=job, cron_schedule=CRON, execution_timezone="UTC")],
)
