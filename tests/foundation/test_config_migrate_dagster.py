"""Settings sources, the migration runner and the Dagster code location on the real stack."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.config import Settings, setting_sources
from pipelines.warehouse.migrate import MigrationError, migrate


def test_settings_come_from_env_then_toml_then_defaults(tmp_path, monkeypatch):
    toml = tmp_path / "trackflow.toml"
    toml.write_text('kafka_partitions = 8\nclickhouse_database = "from_toml"\nanalyst_password = "s3cret"\n')
    monkeypatch.setenv("TRACKFLOW_CONFIG", str(toml))
    monkeypatch.setenv("TRACKFLOW_CLICKHOUSE_DATABASE", "from_env")
    monkeypatch.delenv("TRACKFLOW_WAREHOUSE_PORT", raising=False)  # the session stack sets it
    settings = Settings()
    assert settings.kafka_partitions == 8
    assert settings.clickhouse_database == "from_env"
    origins = setting_sources(settings)
    assert origins["clickhouse_database"] == "env"
    assert origins["kafka_partitions"].startswith("toml")
    assert origins["warehouse_port"] == "default"

    monkeypatch.setenv("TRACKFLOW_ONEID_TOKENS", "tok-one, tok-two")
    assert Settings().oneid_tokens == ["tok-one", "tok-two"]  # comma-separated, as TRACKFLOW_API_TOKENS
    shown = CliRunner().invoke(app, ["config", "show"], env={"COLUMNS": "250"})
    assert shown.exit_code == 0
    assert "from_env" in shown.output and "********" in shown.output
    assert "s3cret" not in shown.output and "tok-one" not in shown.output
    monkeypatch.setenv("TRACKFLOW_ONEID_TOKENS", '["tok-json"]')
    assert Settings().oneid_tokens == ["tok-json"]


def test_unknown_setting_in_toml_is_a_clear_error(tmp_path, monkeypatch):
    toml = tmp_path / "trackflow.toml"
    toml.write_text("kafka_partitons = 8\n")
    monkeypatch.setenv("TRACKFLOW_CONFIG", str(toml))
    with pytest.raises(Exception, match="kafka_partitons"):
        Settings()


def test_migrations_are_idempotent_and_guarded(warehouse, tmp_path):
    migrate(warehouse)
    assert migrate(warehouse) == []  # a second run applies nothing
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_first.sql").write_text("CREATE TABLE IF NOT EXISTS mig_probe (k UInt8) ENGINE = Memory;\n")
    from pipelines.warehouse.client import Warehouse

    scratch = Warehouse(warehouse.settings, url=warehouse.url, database="mig_scratch")
    assert [m.name for m in migrate(scratch, folder)] == ["first"]
    assert migrate(scratch, folder) == []
    (folder / "0001_first.sql").write_text("CREATE TABLE IF NOT EXISTS mig_probe (k UInt16) ENGINE = Memory;\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(scratch, folder)


def test_dagster_definitions_load_and_asset_materializes(stack, stack_settings, warehouse):
    from dagster import Definitions, materialize

    from dagster_project.definitions import defs
    from dagster_project.warehouse_health import daily_table_counts
    from dagster_project.resources import WarehouseResource

    Definitions.validate_loadable(defs)
    day = dt.date(2026, 3, 14)
    before = warehouse.scalar("SELECT count() FROM dwd_default WHERE toDate(ts) = {d:Date}", {"d": day})
    from pipelines.envelope import DETAIL_COLUMNS, detail_row

    ts = int(dt.datetime(2026, 3, 14, 12, tzinfo=dt.timezone.utc).timestamp() * 1000)
    rows = [
        detail_row({"event_id": f"00000000-0000-4000-8000-{i:012d}", "event": "e", "app_id": "a", "ts": ts, "ids": {"device_id": "d"}})
        for i in range(7)
    ]
    warehouse.insert("dwd_default", rows, DETAIL_COLUMNS)
    result = materialize(
        [daily_table_counts],
        partition_key=day.isoformat(),
        resources={"warehouse": WarehouseResource()},
    )
    assert result.success
    counts = result.output_for_node("daily_table_counts")
    assert int(counts.loc[counts["table"] == "dwd_default", "rows"].iloc[0]) == before + 7
    checks = result.get_asset_check_evaluations()
    assert len(checks) == 1 and checks[0].passed


def test_dagster_finds_and_validates_the_code_location_from_the_repository_root(tmp_path):
    """`dagster definitions validate` with no arguments: pyproject.toml's [tool.dg] names the code location, which
    loads in a fresh process (imports, resource keys, jobs, schedules, sensors) without a stack to talk to, and
    without reading the stack's secrets (settings would generate them in a fresh data dir)."""
    root = Path(__file__).resolve().parents[2]
    data_dir = tmp_path / "data"
    env = {key: value for key, value in os.environ.items() if not key.startswith("TRACKFLOW_")}
    env |= {"DAGSTER_HOME": str(tmp_path), "TRACKFLOW_DATA_DIR": str(data_dir)}
    validated = subprocess.run([sys.executable, "-m", "dagster", "definitions", "validate"], cwd=root, env=env,
                               capture_output=True, text=True, timeout=300)  # fmt: skip
    output = validated.stdout + validated.stderr
    assert validated.returncode == 0, output
    assert "Validation successful for code location trackflow" in output
    assert not (data_dir / "secrets").exists()


def test_partitioned_schedules_name_the_partition_they_run():
    """A tick of a partitioned job's schedule without a partition key would launch a run that fails."""
    from dagster import DagsterInstance, build_schedule_context

    from dagster_project.definitions import defs

    def partitions(name: str, at: dt.datetime) -> list[str | None]:
        context = build_schedule_context(instance=DagsterInstance.ephemeral(), scheduled_execution_time=at, repository_def=defs.get_repository_def())
        return [request.partition_key for request in defs.resolve_schedule_def(name).evaluate_tick(context).run_requests]

    assert partitions("warehouse_health_schedule", dt.datetime(2026, 12, 7, 0, 15, tzinfo=dt.timezone.utc)) == ["2026-12-06"]
    assert partitions("oneid_daily_schedule", dt.datetime(2026, 12, 7, 0, 45, tzinfo=dt.timezone.utc)) == ["2026-12-06"]
    assert partitions("reconcile_hourly_schedule", dt.datetime(2026, 12, 7, 5, 20, tzinfo=dt.timezone.utc)) == ["2026-12-07-04:00"]


def test_heat_grading_asset_writes_tiers(stack, warehouse):
    from dagster import materialize

    from dagster_project.heat import heat_tiers
    from dagster_project.resources import WarehouseResource

    result = materialize([heat_tiers], resources={"warehouse": WarehouseResource()})
    assert result.success
    metadata = result.asset_materializations_for_node("heat_tiers")[0].metadata
    stored = warehouse.scalar("SELECT count() FROM heat_tiers")
    assert stored >= metadata["objects"].value > 0  # every detail table is graded, used or not
