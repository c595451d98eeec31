"""Partitions shared by several modules of the code location."""

import datetime as dt

from dagster import (
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    schedule,
)

# end_offset=1: today is a partition too, so a day can be checked while it is still filling.
daily = DailyPartitionsDefinition(start_date="2026-01-01", timezone="UTC", end_offset=1)
hourly = HourlyPartitionsDefinition(start_date="2026-01-01-00:00", timezone="UTC")


def day_before_schedule(job, cron_schedule: str, description: str) -> ScheduleDefinition:
    """A schedule of a `daily`-partitioned job that runs the day before the tick's (UTC). A tick of a partitioned
    job must name its partition, and Dagster's own partitioned schedules would pick today's (end_offset=1)."""

    @schedule(job=job, cron_schedule=cron_schedule, execution_timezone="UTC", name=f"{job.name}_schedule", description=description)
    def day_before(context: ScheduleEvaluationContext) -> RunRequest:
        day = (context.scheduled_execution_time.date() - dt.timedelta(days=1)).isoformat()
        return RunRequest(run_key=day, partition_key=day)

    return day_before
