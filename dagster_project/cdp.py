"""CDP syncs in Dagster, generated from `cdp.yaml`: per source an asset `cdp_<name>` (one sync run, recorded in
cdp_sync_runs), its job and schedule, and a freshness check (`fresh`: the latest successful run is younger than the
source's `freshness_hours`) that a schedule of its own evaluates every hour, between syncs too. A sync that fails
fails its Dagster run with the reason (and the alerts component's `cdp_sync_failed` rule fires from cdp_sync_runs);
the audiences it feeds keep their previous versions."""

import datetime as dt
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetChecksDefinition,
    AssetExecutionContext,
    AssetSelection,
    AssetsDefinition,
    Definitions,
    Failure,
    MetadataValue,
    Output,
    ScheduleDefinition,
    asset,
    asset_check,
    define_asset_job,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from dagster_project.resources import WarehouseResource
from pipelines.cdp.sources import Source, load_sources
from pipelines.config import ENV_PREFIX, Settings

GROUP = "cdp"
FRESHNESS_CRON = "15 * * * *"


def asset_name(source: Source) -> str:
    return f"cdp_{source.name}"


def build_sync_asset(source: Source, base: Path) -> AssetsDefinition:
    audiences = ", ".join(source.audiences) or "none"
    tags = ", ".join(t.name for t in source.tags) or "none"

    @asset(
        name=asset_name(source),
        group_name=GROUP,
        kinds={"clickhouse", "postgres" if source.postgres else "file" if source.file else "clickhouse"},
        description=f"{source.description or source.name}: tags {tags}; audiences {audiences} ({source.mode}).",
        metadata={"mode": source.mode, "id_type": source.person.id_type, "kind": source.kind},
    )
    def sync_asset(context: AssetExecutionContext, warehouse: WarehouseResource):
        from pipelines.cdp.sync import sync
        from pipelines.identity.rules import load_rules

        writer = warehouse.handle()
        analyst = WarehouseResource(url=warehouse.url, role="analyst").handle()
        try:
            result = sync(writer.settings, writer, analyst, source, load_rules(writer.settings.identity_rules), base)
        finally:
            writer.close()
            analyst.close()
        metadata = {
            "run": str(result.run), "rows_read": result.rows_read, "persons_mapped": result.persons_mapped,
            "unmapped": result.unmapped, "unmapped_sample": MetadataValue.json(result.unmapped_sample),
            "tags_written": result.tags_written, "tags_deleted": result.tags_deleted,
            "audience_versions": MetadataValue.json({a: str(v) for a, v in result.audience_versions.items()}),
            "watermark": result.watermark or "-", "seconds": round(result.seconds, 2),
        }  # fmt: skip
        if not result.ok:
            raise Failure(description=result.error, metadata=metadata)
        context.log.info(result.summary())
        return Output(None, metadata=metadata)

    return sync_asset


def build_freshness_check(source: Source) -> AssetChecksDefinition:
    @asset_check(
        asset=asset_name(source),
        name="fresh",
        description=f"The latest successful sync is younger than {source.freshness_hours:g} h.",
    )
    def fresh(warehouse: WarehouseResource) -> AssetCheckResult:
        reader = warehouse.handle()
        try:
            last_ok, last_status, last_error = reader.rows(
                "SELECT maxIf(finished, status = 'ok'), argMax(status, started), argMax(error, started) "
                "FROM cdp_sync_runs WHERE source = {s:String}",
                {"s": source.name},
            )[0]
        finally:
            reader.close()
        now = dt.datetime.now(dt.timezone.utc)
        never = last_ok is None or last_ok.year < 1971  # maxIf over no ok row is the epoch
        age_h = None if never else (now - last_ok.replace(tzinfo=dt.timezone.utc)).total_seconds() / 3600
        passed = age_h is not None and age_h <= source.freshness_hours
        return AssetCheckResult(
            passed=passed,
            severity=AssetCheckSeverity.ERROR,
            description=("never synced successfully" if never else f"last successful sync {age_h:.1f} h ago (limit {source.freshness_hours:g} h)")
            + (f"; latest run failed: {last_error}" if last_status == "failed" else ""),
            metadata={"age_hours": round(age_h, 2) if age_h is not None else -1.0, "latest_status": last_status or "-"},
        )

    return fresh


class CdpSourcesSetting(BaseSettings):
    """Only `cdp_sources`, from Settings' own sources (environment, trackflow.toml, default), so that loading the
    code location reads no secret."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")
    cdp_sources: Path = Settings.model_fields["cdp_sources"].default
    settings_customise_sources = classmethod(Settings.settings_customise_sources.__func__)


def cdp_definitions() -> Definitions:
    """Per source of the sources file an asset, job, schedule and freshness check (none if the file is absent; an
    invalid file fails loading with the validation message). Reads that file; connects nowhere."""
    path = CdpSourcesSetting().cdp_sources
    sources = load_sources(path) if path.exists() else []
    assets, checks, jobs, schedules = [], [], [], []
    for source in sources:
        sync_asset = build_sync_asset(source, path.resolve().parent)
        job = define_asset_job(f"{asset_name(source)}_job", selection=AssetSelection.assets(sync_asset).without_checks())
        assets.append(sync_asset)
        checks.append(build_freshness_check(source))
        jobs.append(job)
        schedules.append(
            ScheduleDefinition(name=f"{asset_name(source)}_schedule", cron_schedule=source.schedule.cron, execution_timezone=source.schedule.timezone, job=job)
        )
    if sources:
        freshness_job = define_asset_job("cdp_freshness_job", selection=AssetSelection.checks(*checks))
        jobs.append(freshness_job)
        schedules.append(ScheduleDefinition(name="cdp_freshness_schedule", cron_schedule=FRESHNESS_CRON, job=freshness_job))
    return Definitions(assets=assets, asset_checks=checks, jobs=jobs, schedules=schedules)


defs = cdp_definitions()
