"""Offline pushes in Dagster, generated from `pushes.yaml`: per push a daily-partitioned asset (with its
reconciliation and deadline checks), a job and a schedule; one sensor forecasts every push's finish from its
running throughput and alerts P1-P3 before a deadline is missed."""

import datetime as dt
import json
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    DailyPartitionsDefinition,
    DefaultSensorStatus,
    Definitions,
    MetadataValue,
    Output,
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SkipReason,
    asset,
    define_asset_job,
    schedule,
    sensor,
)

from pydantic_settings import BaseSettings, SettingsConfigDict

from dagster_project.resources import PostgresResource, WarehouseResource
from pipelines.config import ENV_PREFIX, Settings
from pipelines.push.definitions import Push, load_pushes

GROUP = "pushes"


def asset_name(push: Push) -> str:
    return f"push_{push.name}"


def partitions(push: Push) -> DailyPartitionsDefinition:
    return DailyPartitionsDefinition(start_date=push.start_date.isoformat(), timezone=push.timezone)


def build_push_asset(push: Push) -> AssetsDefinition:
    name = asset_name(push)
    kind = "postgres" if push.target.kind == "postgres" else push.target.kind

    @asset(
        name=name,
        partitions_def=partitions(push),
        group_name=GROUP,
        kinds={"clickhouse", kind},
        description=f"{push.description or push.name} -> {push.department} ({push.target.table or push.target.folder}).",
        metadata={"department": push.department, "deadline": str(push.deadline or "-"), "write_mode": push.write_mode},
        check_specs=[
            AssetCheckSpec("reconciled", asset=name, description="Source and target agree on row count and checksum."),
            AssetCheckSpec("arrived_by_deadline", asset=name, description=f"The partition arrived by {push.deadline or 'its deadline'}."),
        ],
    )
    def push_asset(context: AssetExecutionContext, warehouse: WarehouseResource, postgres: PostgresResource):
        from pipelines.push.runner import run_push

        day = dt.date.fromisoformat(context.partition_key)
        settings = postgres.settings()
        last_log = [0.0]

        def log_progress(progress) -> None:  # every ~10 s, not per block
            if time.monotonic() - last_log[0] > 10:
                last_log[0] = time.monotonic()
                context.log.info(f"{progress.rows_done:,}/{progress.planned_rows:,} rows, {progress.chunks_done}/{progress.chunks_total} chunks, {progress.rows_per_s:,.0f} rows/s")

        result = run_push(settings, push, day, warehouse.handle(settings), on_progress=log_progress)
        arrived = dt.datetime.now(dt.timezone.utc)
        yield Output(
            None,
            metadata={
                "rows": result.rows_written, "rejected_rows": result.rejected_rows, "chunks": result.chunks,
                "chunks_written": result.chunks_written, "resumed": result.resumed, "seconds": round(result.seconds, 1),
                "rows_per_s": round(result.rows_per_s), "run_id": result.run_id,
                "reject_files": MetadataValue.md("\n".join(f"- {p}" for p in result.reject_files) or "none"),
            },
        )  # fmt: skip
        reconciliation = result.reconciliation
        yield AssetCheckResult(
            check_name="reconciled", passed=reconciliation.ok,
            metadata={"source_rows": reconciliation.source_rows, "target_rows": reconciliation.target_rows,
                      "source_checksum": reconciliation.source_checksum, "target_checksum": reconciliation.target_checksum},
            description=reconciliation.summary(),
        )  # fmt: skip
        due = push.deadline.due(day) if push.deadline else None
        yield AssetCheckResult(
            check_name="arrived_by_deadline",
            passed=due is None or arrived <= due,
            severity=AssetCheckSeverity.WARN,
            metadata={"arrived": arrived.isoformat(), "deadline": due.isoformat() if due else "-"},
        )

    return push_asset


def build_push_schedule(push: Push, job):
    """At the push's cron (in its timezone), push the previous day's partition."""

    @schedule(name=f"{asset_name(push)}_schedule", cron_schedule=push.schedule.cron, execution_timezone=push.schedule.timezone, job=job)
    def push_schedule(context: ScheduleEvaluationContext):
        local = context.scheduled_execution_time.astimezone(ZoneInfo(push.timezone))
        day = local.date() - dt.timedelta(days=1)
        return RunRequest(run_key=f"{push.name}/{day}", partition_key=day.isoformat())

    return push_schedule


@sensor(name="push_deadline_sensor", minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING)
def push_deadline_sensor(context: SensorEvaluationContext, postgres: PostgresResource):
    """Forecasts each push's finish from its running throughput; alerts (webhook) when a deadline will be
    missed. The cursor remembers the level already sent per push and day: an alert repeats only when it escalates."""
    from pipelines.push.connection import TargetUnavailable, connect
    from pipelines.push.deadline import forecasts, send_alert

    settings = postgres.settings()
    pushes = load_pushes(settings.push_definitions)
    sent = json.loads(context.cursor) if context.cursor else {}
    now = dt.datetime.now(dt.timezone.utc)
    try:
        with connect(settings) as connection:
            found = forecasts(pushes, connection, now, dt.timedelta(seconds=settings.push_alert_margin_s))
    except TargetUnavailable as exc:
        return SkipReason(f"cannot forecast: {exc}")
    raised = []
    for item in found:
        key = f"{item.push}/{item.day}"
        if item.level is None or (key in sent and sent[key] <= item.level):  # "P1" < "P2": lower is more severe
            continue
        context.log.warning(f"{item.level}: {item.message}")
        if settings.push_alert_webhook_url:
            send_alert(settings.push_alert_webhook_url, item)
        sent[key] = item.level
        raised.append(f"{item.level} {key}")
    context.update_cursor(json.dumps(sent))
    return SkipReason(f"alerted: {', '.join(raised)}" if raised else f"{len(found)} push(es) on time")


class PushDefinitionsSetting(BaseSettings):
    """Only `push_definitions`, from Settings' own sources (environment, then trackflow.toml, then the default):
    building every setting at import would read, or on a fresh data dir generate, the stack's secrets."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")
    push_definitions: Path = Settings.model_fields["push_definitions"].default
    settings_customise_sources = classmethod(Settings.settings_customise_sources.__func__)


def push_definitions() -> Definitions:
    """An asset, job and schedule for every push in the definitions file (none if the file is absent; an invalid
    file fails loading with the validation message), and the deadline sensor. Reads that file and no secret;
    connects nowhere."""
    path = PushDefinitionsSetting().push_definitions
    pushes = load_pushes(path) if path.exists() else []
    assets, jobs, schedules = [], [], []
    for push in pushes:
        push_asset = build_push_asset(push)
        job = define_asset_job(f"{asset_name(push)}_job", selection=[push_asset])
        assets.append(push_asset)
        jobs.append(job)
        schedules.append(build_push_schedule(push, job))
    return Definitions(assets=assets, jobs=jobs, schedules=schedules, sensors=[push_deadline_sensor])


defs = push_definitions()
