"""Assembles the code location: `dagster dev -m dagster_project.definitions` (or `trackflow orchestrate`)."""

from dagster import Definitions, ScheduleDefinition, define_asset_job

from dagster_project.assets import daily_table_counts
from dagster_project.heat import heat_grading_job, heat_grading_schedule, heat_tiers
from dagster_project.oneid import oneid_daily_job, oneid_daily_schedule, oneid_graph
from dagster_project.pushes import push_definitions
from dagster_project.resources import KafkaResource, PostgresResource, WarehouseResource

warehouse_health_job = define_asset_job("warehouse_health", selection=[daily_table_counts])
pushes = push_definitions()  # one asset, job and schedule per push in pushes.yaml

defs = Definitions(
    assets=[daily_table_counts, heat_tiers, oneid_graph, *pushes["assets"]],
    jobs=[warehouse_health_job, heat_grading_job, oneid_daily_job, *pushes["jobs"]],
    schedules=[
        ScheduleDefinition(job=warehouse_health_job, cron_schedule="15 0 * * *", execution_timezone="UTC"),
        heat_grading_schedule,
        oneid_daily_schedule,
        *pushes["schedules"],
    ],
    sensors=pushes["sensors"],
    resources={"warehouse": WarehouseResource(), "kafka": KafkaResource(), "postgres": PostgresResource()},
)
