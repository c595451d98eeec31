"""Settings: the one configuration object every part of Trackflow reads.

Values come from, highest priority first: `TRACKFLOW_*` environment variables, an optional
`trackflow.toml` (path in `TRACKFLOW_CONFIG`, else `./trackflow.toml`), then built-in defaults.
The defaults describe the embedded single-machine stack and need no configuration at all;
pointing `clickhouse_url` / `kafka_bootstrap` at real clusters is the whole scale-out step.
"""

from __future__ import annotations

import json
import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "TRACKFLOW_"


def config_file_path() -> Path:
    return Path(os.environ.get("TRACKFLOW_CONFIG", "trackflow.toml"))


class Settings(BaseSettings):
    """Effective configuration. Each field's description is shown by `trackflow config show`."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    data_dir: Path = Field(Path(".trackflow"), description="Where the local stack keeps data, logs and pid files.")

    # Warehouse (ClickHouse HTTP interface)
    clickhouse_url: str = Field(
        "",
        description="ClickHouse HTTP endpoint, e.g. https://ch.example:8443. Empty: the embedded warehouse started by `trackflow up`.",
    )
    clickhouse_database: str = Field("trackflow", description="Database that holds Trackflow's tables.")
    clickhouse_user: str = Field("default", description="Writer user for pipelines and migrations.")
    clickhouse_password: SecretStr = Field(SecretStr(""), description="Password of the writer user. Empty: generated (embedded warehouse only).")
    analyst_user: str = Field("analyst", description="Read-only user that analysis queries run as.")
    analyst_password: SecretStr = Field(SecretStr(""), description="Password of the read-only analyst user. Empty: generated (embedded warehouse only).")
    warehouse_port: int = Field(8123, description="Port of the embedded warehouse (0: pick a free port).")
    warehouse_pool_size: int = Field(4, description="Concurrent queries the embedded warehouse runs at once.")

    # Kafka
    kafka_bootstrap: str = Field(
        "",
        description="Kafka bootstrap servers, e.g. kafka1:9092,kafka2:9092. Empty: the embedded broker started by `trackflow up`.",
    )
    kafka_port: int = Field(9092, description="Port of the embedded Kafka-protocol broker (0: pick a free port).")
    kafka_partitions: int = Field(4, description="Partitions for the event topics created by the stack.")

    # Collector (pipelines/collect) and tracking plan (pipelines/plan)
    collector_port: int = Field(8090, description="Port of the collector HTTP service (0: pick a free port).")
    collector_id: str = Field("", description="Name stamped on each event as collector_id. Empty: host name and port.")
    collector_app_keys: dict[str, str] = Field(
        {"demo-shop-key": "demo-shop"},
        description='App keys the collector accepts, as JSON {"key": "app_id"}; each key may send events for its app only.',
    )
    collector_rate_per_s: float = Field(2000.0, description="Per app key: sustained requests per second (token bucket refill).")
    collector_burst: int = Field(4000, description="Per app key: token bucket size, the burst allowed above the rate.")
    collector_max_body_bytes: int = Field(1_048_576, description="Largest request body accepted, after gunzip (413 above).")
    collector_max_event_bytes: int = Field(32_768, description="Largest single event accepted, as JSON (413 above).")
    collector_max_batch_events: int = Field(500, description="Most events one /v1/batch request may carry (413 above).")
    collector_ack_timeout_s: float = Field(
        5.0, description="How long the Kafka producer tries to deliver before the collector spools instead (202)."
    )
    collector_spool_dir: Path = Field(
        Path(""), description="Durable spool for events Kafka could not take. Empty: <data_dir>/spool/<collector port>."
    )
    collector_spool_max_bytes: int = Field(1 << 30, description="Spool size limit; above it the collector answers 503.")
    collector_journal: bool = Field(
        True, description="Journal every record Kafka acknowledged, to replay it into a broker that lost its records."
    )
    collector_journal_retention_s: float = Field(
        1800.0, gt=0, description="Replay window of the journal: acknowledged records older than this are not kept."
    )
    collector_journal_max_bytes: int = Field(
        1 << 30, gt=0, description="Journal size cap; above it the oldest segments go even inside the window (logged, counted)."
    )
    collector_metrics_flush_s: float = Field(
        10.0, description="How often the collector sends its per-minute accepted counts to metrics.collected (0: never)."
    )
    plan_dir: Path = Field(Path("plans"), description="Folder of tracking plan YAML files (one per app).")

    # Flink
    flink_jars_dir: Path = Field(Path("jars"), description="Folder with the Kafka connector and codec jars.")
    # Streaming jobs (jobs/, pipelines/streaming, pipelines/flinkrun)
    flink_parallelism: int = Field(1, description="Parallelism of the streaming jobs.")
    flink_rest_port: int = Field(8081, description="REST port of the local MiniCluster the jobs run on (0: pick a free port).")
    flink_jobmanager: str = Field("", description="host:port of a Flink session cluster for `trackflow jobs submit|list|stop`.")
    flink_checkpoint_interval_ms: int = Field(5000, description="Checkpoint interval of the streaming jobs.")
    layering_batch_messages: int = Field(
        1000, description="Raw messages the layering job hands to Python in one call (micro-batched on the JVM side)."
    )
    layering_batch_chars: int = Field(
        262_144, description="Characters of raw messages per layering micro-batch (bounds one Python call's work)."
    )
    layering_batch_max_delay_ms: int = Field(50, description="Longest a raw message waits for its layering micro-batch.")
    dwd_batch_rows: int = Field(10_000, description="Rows per warehouse insert of the dwd job (flush when reached).")
    dwd_batch_max_delay_ms: int = Field(1000, description="Longest a row waits in the dwd buffer before its insert.")
    dwd_write_shards: int = Field(4, description="Write buffers of the dwd job (keys of its batching state); >= parallelism.")
    clock_skew_tolerance_ms: int = Field(
        60_000, description="Client/server clock differences below this are left alone; above, ts is corrected."
    )
    metrics_flush_ms: int = Field(10_000, description="How often the metrics job writes its per-minute counts.")
    status_max_lag_messages: int = Field(
        50_000, ge=0, description="`trackflow status` shows the jobs unhealthy when more messages than this wait on their input topics."
    )
    status_stuck_after_s: float = Field(
        120.0, gt=0, description="`trackflow status` shows the jobs unhealthy when input waits and their offsets have not moved for this long."
    )
    jobs_drain_timeout_s: float = Field(
        60.0, ge=0, description="How long `trackflow down` waits for the jobs to catch up with their input before stopping them."
    )

    # OneID (pipelines/identity, jobs/oneid)
    identity_rules: Path = Field(Path("identity.yaml"), description="OneID rules file: id types, priorities, uniqueness, limits, blocklists, TTLs.")
    oneid_source_pattern: str = Field(r"ods\..+", description="Topics (regex) the OneID job reads event ids from.")
    oneid_flush_ms: int = Field(1000, description="Longest an OneID change waits before its warehouse insert.")
    oneid_service_host: str = Field("127.0.0.1", description="Bind address of the OneID lookup service.")
    oneid_service_port: int = Field(8095, description="Port of the OneID lookup service.")
    oneid_tokens: Annotated[list[str], NoDecode] = Field(
        [], description='Bearer tokens the lookup service accepts: comma-separated, or JSON ["token", ...]. Empty: one generated.'
    )
    oneid_max_batch: int = Field(1000, description="Most ids one POST /v1/oneid/lookup may ask for (413 above).")
    oneid_link_refresh_ms: int = Field(
        600_000, ge=0, description="A link repeated within this much event time skips the OneID graph (0: every link goes)."
    )
    oneid_link_cache: int = Field(500_000, ge=1, description="Recent links each OneID decoder remembers to skip repeats.")

    # Offline pushes (pipelines/push) and the PostgreSQL push target
    postgres_url: str = Field(
        "",
        description="PostgreSQL server of the push targets, e.g. postgresql://user:pw@pg.example:5432. Empty: the embedded server started by `trackflow up`.",
    )
    postgres_port: int = Field(5432, description="Port of the embedded PostgreSQL (0: pick a free port).")
    postgres_password: SecretStr = Field(SecretStr(""), description="Password of the embedded PostgreSQL's `postgres` user. Empty: generated.")
    postgres_bin_dir: Path = Field(Path("/usr/lib/postgresql/15/bin"), description="Folder with initdb, postgres and pg_isready (Debian's postgresql-15).")
    push_database: str = Field("trackflow_push", description="Database the pushes write to and keep their chunk state in.")
    push_definitions: Path = Field(Path("pushes.yaml"), description="The push definitions file.")
    push_files_dir: Path = Field(Path(""), description="Base of relative Parquet/CSV target folders. Empty: <data_dir>/push/files.")
    push_reject_dir: Path = Field(Path(""), description="Where rejected (dirty) rows are written. Empty: <data_dir>/push/rejects.")
    push_lock_ttl_s: int = Field(600, description="A running chunk's lock expires this long after its last heartbeat.")
    push_max_attempts: int = Field(3, description="Attempts per chunk before the push run fails.")
    push_retry_base_s: float = Field(5.0, description="Retry back-off of a failed chunk: base * 2^(attempt-1) seconds.")
    push_alert_webhook_url: str = Field("", description="Webhook the push deadline sensor posts P1-P3 alerts to (empty: log only).")
    push_alert_margin_s: int = Field(900, description="A push predicted to finish less than this before its deadline is at risk (P3).")

    # Analysis API and analyst workbench (pipelines/analysis/api.py, pipelines/workbench)
    api_host: str = Field("127.0.0.1", description="Interface the API and workbench started by `trackflow up` bind (loopback unless set).")
    api_port: int = Field(8600, description="Port of the API and workbench started by `trackflow up` (0: pick a free port).")
    meta_database: str = Field(
        "trackflow_meta", description="Database of the workbench's metadata store (users, sessions, reports, dashboards) on the PostgreSQL server."
    )

    # Monitoring and alerting (pipelines/monitoring): the `alerts` stack component
    alerts_enabled: bool = Field(True, description="Run the `alerts` component with the stack: samples every stage, evaluates alerts.yaml, notifies.")
    alerts_file: Path = Field(Path("alerts.yaml"), description="Alert rules and receivers (versioned; re-read when it changes).")
    alerts_port: int = Field(8097, description="Port of the alerts component's /metrics, /alerts and /healthz (0: pick a free port).")
    alerts_interval_s: float = Field(15.0, gt=0, description="How often the alerts component samples and evaluates the rules.")
    alerts_collector_urls: Annotated[list[str], NoDecode] = Field(
        [], description="Collectors the alerts component scrapes (comma-separated URLs). Empty: the stack's collector."
    )

    # CDP tags and audiences (pipelines/cdp)
    cdp_max_audience_persons: int = Field(5_000_000, ge=1, description="Largest audience written (any kind); a bigger one is refused before it is written.")
    cdp_sources: Path = Field(Path("cdp.yaml"), description="The CDP sync sources file (tags and audiences from outside systems).")

    # Secrets that were not configured and came from <data_dir>/secrets/secrets.json (pipelines/secrets.py).
    _generated_secrets: frozenset[str] = PrivateAttr(frozenset())

    @model_validator(mode="after")
    def _generate_missing_secrets(self) -> "Settings":
        """No secret has a default: the ones not configured are generated once per data dir and shared by every
        process of the stack. External engines' passwords are never generated (their servers own the users)."""
        from pipelines.secrets import generated

        missing = [name for name in ("clickhouse_password", "analyst_password") if self.embedded_warehouse and not getattr(self, name).get_secret_value()]
        if not self.postgres_url and not self.postgres_password.get_secret_value():
            missing.append("postgres_password")
        if not self.oneid_tokens:
            missing.append("oneid_tokens")
        if missing:
            values = generated(self.data_dir, missing)
            for name in missing:
                # Object-level set: assigning through the model would run this validator again.
                object.__setattr__(self, name, [values[name]] if name == "oneid_tokens" else SecretStr(values[name]))
            self._generated_secrets = frozenset(missing)
        return self

    @field_validator("oneid_tokens", "alerts_collector_urls", mode="before")
    @classmethod
    def _token_list(cls, value: Any) -> Any:
        """From the environment or the TOML file as text: comma-separated (as TRACKFLOW_API_TOKENS) or a JSON list."""
        if isinstance(value, str):
            return json.loads(value) if value.lstrip().startswith("[") else [t.strip() for t in value.split(",") if t.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config_file_path()),
        )

    @property
    def embedded_warehouse(self) -> bool:
        return not self.clickhouse_url

    @property
    def embedded_kafka(self) -> bool:
        return not self.kafka_bootstrap

    @property
    def state_dir(self) -> Path:
        """Pid files and the ports the running stack actually bound."""
        return self.data_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def bound_port(self, component: str, configured: int) -> int:
        """The port a running embedded component actually bound (the stack records it; a taken configured port
        is replaced by a free one), else the configured port."""
        try:
            return int((self.state_dir / f"{component}.port").read_text())
        except (OSError, ValueError):
            return configured


def setting_sources(settings: Settings) -> dict[str, str]:
    """Where each effective value came from: `env`, `toml`, `generated (<secrets file>)` or `default`."""
    toml_values: dict[str, Any] = {}
    path = config_file_path()
    if path.exists():
        toml_values = tomllib.loads(path.read_text())
    origin = {}
    for name in Settings.model_fields:
        if name in settings._generated_secrets:
            from pipelines.secrets import path_for

            origin[name] = f"generated ({path_for(settings.data_dir)})"
        elif f"{ENV_PREFIX}{name}".upper() in {k.upper() for k in os.environ}:
            origin[name] = "env"
        elif name in toml_values:
            origin[name] = f"toml ({path})"
        else:
            origin[name] = "default"
    return origin


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
