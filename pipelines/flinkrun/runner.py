"""Running the jobs on a local MiniCluster: `python -m pipelines.flinkrun.runner <job> [options]`.

`all` builds layering, dwd and metrics into one Flink job (one JVM: the embedded default on a small machine);
each job can also run alone. By default a job resumes from its newest retained checkpoint, so a crashed or killed
job restarted with the same command continues exactly where its last checkpoint left it.

While the job runs, a watcher polls the broker: when it gets a new incarnation (a restarted memory-only broker: new,
empty topics) or, on the embedded stack, a new port, the job is cancelled (its checkpoints are retained) and this
process executes itself again, so it resumes from the newest checkpoint on the new broker (the sources' state, keyed to
the old incarnation, is left behind; see environment.kafka_stream) with the same pid the stack recorded.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from pipelines.config import Settings, get_settings
from pipelines.flinkrun.checkpoints import latest_checkpoint
from pipelines.flinkrun.environment import (
    checkpoint_dir,
    flink_configuration,
    job_incarnation,
    runtime_settings,
    stream_environment,
)

log = logging.getLogger("trackflow.jobs")
WATCH_INTERVAL_S = 3.0
PROGRESS_EVERY_S = 10.0  # how often the watcher records the input lag (status tells stuck from moving by it)
CHILD_EXIT_TIMEOUT_S = 30.0
JOBS = ("layering", "dwd", "metrics", "oneid")
# What `all` (and `trackflow up --with-jobs`) runs: the event path. The identity job runs on its own so the
# event path keeps the local MiniCluster's two cores.
ALL = "all"
EVENT_PATH = ("layering", "dwd", "metrics")


def job_modules(job: str) -> list[str]:
    if job == ALL:
        return list(EVENT_PATH)
    if job not in JOBS:
        raise SystemExit(f"unknown job {job!r}; choose one of {', '.join(JOBS + (ALL,))}")
    return [job]


def build(env, job: str, settings: Settings) -> None:
    for name in job_modules(job):
        module = importlib.import_module(f"jobs.{name}")
        if name == "layering":
            from pipelines.layering.control import current_rules
            from pipelines.layering.rules import RuleSet

            module.build(env, settings, current_rules(settings) or RuleSet())
        else:
            module.build(env, settings)


def resolve_recovery(settings: Settings, job: str, recover: str) -> str | None:
    """`latest` (newest retained checkpoint, if any), `none`, or an explicit checkpoint/savepoint path."""
    if recover == "none":
        return None
    if recover == "latest":
        found = latest_checkpoint(checkpoint_dir(settings, job))
        return str(found) if found else None
    return recover


@dataclass(frozen=True)
class BrokerSeen:
    """The broker a job was started on: where it was and which incarnation it had."""

    bootstrap: str
    incarnation: str | None


def started_file(settings: Settings, job: str) -> Path:
    """Written by a running job's process: the broker it reads (for `trackflow status` and `trackflow down`)."""
    return settings.state_dir / f"job-{job}.broker.json"


def read_started(settings: Settings, job: str) -> BrokerSeen | None:
    try:
        record = json.loads(started_file(settings, job).read_text())
        return BrokerSeen(record["bootstrap"], record["incarnation"])
    except (OSError, ValueError, KeyError):
        return None


def record_started(settings: Settings, job: str, seen: BrokerSeen) -> None:
    path = started_file(settings, job)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"job": job, "pid": os.getpid(), "started_at": time.time(), **asdict(seen)}
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(record))
    partial.replace(path)


def broker_now(configured: Settings) -> BrokerSeen | None:
    """Where the broker is now and its incarnation (None: the embedded broker is not running, or it does not answer;
    its incarnation is None when it has no marker yet)."""
    from pipelines.messaging import bootstrap_servers, broker_incarnation

    if configured.embedded_kafka and not (configured.state_dir / "broker.port").exists():
        return None  # stopped (`trackflow down`): wait for it to come back
    bootstrap = bootstrap_servers(configured)
    try:
        return BrokerSeen(bootstrap, broker_incarnation(configured, timeout_s=2.0))
    except Exception as exc:  # kafka-python raises several kinds while a broker is away
        log.debug("broker at %s not readable: %s", bootstrap, exc)
        return None


def broker_changed(started: BrokerSeen, now: BrokerSeen | None) -> str | None:
    """Why the job must restart on the broker as it is now, or None. A broker without a marker yet (being prepared)
    is waited for: the restarted job needs the marker to name its sources."""
    if now is None or now.incarnation is None:
        return None
    if now.bootstrap != started.bootstrap:
        return f"the broker moved from {started.bootstrap} to {now.bootstrap} (incarnation {now.incarnation})"
    if now.incarnation != started.incarnation:
        return f"the broker at {now.bootstrap} has a new incarnation {now.incarnation} (was {started.incarnation})"
    return None


def run(
    job: str,
    settings: Settings | None = None,
    parallelism: int | None = None,
    recover: str = "latest",
    rest_port: int | None = None,
) -> None:
    from pipelines.messaging import ensure_topics

    configured = settings or get_settings()
    # The MiniCluster's own log (restores, failovers) beside the stack's logs, not in the shared PyFlink package.
    os.environ.setdefault("FLINK_LOG_DIR", str((configured.log_dir / "flink").resolve()))
    settings = runtime_settings(configured)
    ensure_topics(settings)
    started = BrokerSeen(settings.kafka_bootstrap, job_incarnation(settings))
    recover_from = resolve_recovery(settings, job, recover)
    if recover_from:
        log.warning("job %s resumes from %s", job, recover_from)
    options = flink_configuration(settings, job, parallelism, recover_from, rest_port)
    env = stream_environment(options)
    build(env, job, settings)
    if "PYFLINK_GATEWAY_PORT" in os.environ:  # run by `flink run` (jobs submit): the cluster runs it, nobody watches
        env.execute(options["pipeline.name"])
        return
    client = env.execute_async(options["pipeline.name"])
    record_started(configured, job, started)
    log.info("job %s running on broker %s, incarnation %s", job, started.bootstrap, started.incarnation)
    reason = watch(configured, job, started, client)
    log.warning("%s: cancelling job %s and restarting it from its newest checkpoint", reason, job)
    client.cancel().result()  # checkpoints are retained on cancellation (flink_configuration)
    restart_process()


def warehouse_moved(configured: Settings, started_url: str) -> str | None:
    """The embedded warehouse restarted on another port (port 0): the writers hold the URL resolved at start."""
    from pipelines.warehouse.client import resolve_url

    if not configured.embedded_warehouse or not (configured.state_dir / "warehouse.port").exists():
        return None
    now = resolve_url(configured)
    return f"the warehouse moved from {started_url} to {now}" if now != started_url else None


def watch(configured: Settings, job: str, started: BrokerSeen, client) -> str:
    """Polls until the broker (or the embedded warehouse's port) changes, returning why, or until the job ends
    (exits the process: the stack sees it gone)."""
    from pipelines.flinkrun.progress import observe
    from pipelines.warehouse.client import resolve_url

    warehouse_url = resolve_url(configured)

    observed_at = 0.0
    while True:
        time.sleep(WATCH_INTERVAL_S)
        status = str(client.get_job_status().result())
        if status in ("FAILED", "CANCELED", "FINISHED"):
            log.error("job %s ended: %s", job, status)
            raise SystemExit(1 if status != "FINISHED" else 0)
        now = broker_now(configured)
        reason = broker_changed(started, now) or warehouse_moved(configured, warehouse_url)
        if reason:
            return reason
        if now is not None and now.incarnation == started.incarnation and time.monotonic() - observed_at > PROGRESS_EVERY_S:
            observed_at = time.monotonic()
            try:  # recorded for `trackflow status`, which tells a stuck job from a busy one by it
                observe(runtime_settings(configured), job, started.incarnation, timeout_s=WATCH_INTERVAL_S)
            except Exception as exc:
                log.debug("cannot measure the input lag: %s", exc)


def restart_process() -> None:
    """Execute this process again (same pid, so the stack's pid file stays right), resuming from the newest
    checkpoint. The MiniCluster's JVM (our child, the PyFlink gateway) is stopped first so its REST port is free."""
    children = _child_pids()
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + CHILD_EXIT_TIMEOUT_S
    while children and time.monotonic() < deadline:
        children = [pid for pid in children if not _reaped(pid)]
        time.sleep(0.1)
    for pid in children:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    logging.shutdown()
    os.execv(sys.executable, restart_argv(sys.orig_argv))


def restart_argv(argv: list[str]) -> list[str]:
    """The command line this process was started with, resuming from the newest checkpoint whatever --recover said."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--recover":
            skip = True
        elif not arg.startswith("--recover="):
            kept.append(arg)
    return [*kept, "--recover", "latest"]


def _child_pids() -> list[int]:
    me = str(os.getpid())
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            children.append(int(stat.parent.name))
    return children


def _reaped(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == pid


def main(job: str | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    if job is None:
        parser.add_argument("job", choices=JOBS + (ALL,))
    parser.add_argument("--parallelism", type=int, default=None)
    parser.add_argument("--recover", default="latest", help="latest | none | a checkpoint or savepoint path")
    parser.add_argument("--rest-port", type=int, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    log.setLevel(logging.INFO)  # importing PyFlink (Beam) lowers the root logger's level
    logging.getLogger("kafka").setLevel(logging.WARNING)  # the watcher's polls of a broker that is away
    run(job or args.job, parallelism=args.parallelism, recover=args.recover, rest_port=args.rest_port)


if __name__ == "__main__":
    main()
