"""`trackflow jobs ...`: run the streaming jobs locally, submit them to a session cluster, list/stop/savepoint.

It drives both `pipelines.flinkrun` (run, submit, the REST API) and `pipelines.stack` (`jobs start oneid` and the
local MiniClusters are stack components), so it sits above both: the stack starts Flink jobs, never the reverse."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipelines.cli_errors import fail
from pipelines.config import get_settings

app = typer.Typer(no_args_is_help=True, help="Streaming jobs (layering, dwd, metrics, oneid): run, start, submit, list, stop, savepoint.")
cluster_app = typer.Typer(no_args_is_help=True, help="A local Flink standalone session cluster (loopback) to submit to.")
app.add_typer(cluster_app, name="cluster")
console = Console()
err = Console(stderr=True)

JOB_HELP = "layering | dwd | metrics | oneid | all (layering, dwd and metrics in one Flink job)"
JOBMANAGER_HELP = "host:port of the Flink REST endpoint; default: TRACKFLOW_FLINK_JOBMANAGER, else the local jobs"


@app.command("run")
def run(
    job: str = typer.Argument(..., help=JOB_HELP),
    parallelism: int = typer.Option(None, help="default: TRACKFLOW_FLINK_PARALLELISM"),
    recover: str = typer.Option("latest", help="latest (newest retained checkpoint) | none | a checkpoint/savepoint path"),
    rest_port: int = typer.Option(None, help="REST port of the MiniCluster (for list/stop/savepoint)"),
) -> None:
    """Run a job on a local MiniCluster in the foreground (Ctrl-C stops it; the next run resumes)."""
    from pipelines.flinkrun.runner import ALL, JOBS, run as run_job

    if job not in JOBS + (ALL,):
        fail(f"unknown job {job!r}; choose one of {', '.join(JOBS + (ALL,))}")
    run_job(job, get_settings(), parallelism, recover, rest_port)


@app.command("submit")
def submit(
    job: str = typer.Argument(..., help="layering | dwd | metrics | oneid"),
    jobmanager: str = typer.Option(None, help=JOBMANAGER_HELP),
    parallelism: int = typer.Option(None),
    from_savepoint: str = typer.Option(None, help="start from this savepoint/checkpoint"),
) -> None:
    """Package the job (Python packages, connector jars, settings) and submit it with `flink run`."""
    from pipelines.flinkrun.session import session_dir, submit as submit_job

    settings = get_settings()
    address = jobmanager or settings.flink_jobmanager
    marker = session_dir(settings) / "rest.address"
    if not address and marker.exists():
        address = marker.read_text().strip()
    if not address:
        fail("no session cluster: pass --jobmanager host:port or start one with `trackflow jobs cluster start`")
    try:
        output = submit_job(settings, job, address, parallelism, from_savepoint)
    except RuntimeError as exc:
        fail(str(exc))
    console.print(output.strip())


def _rest(jobmanager: str | None):
    from pipelines.flinkrun.rest import FlinkRest, FlinkRestError, rest_address

    try:
        return FlinkRest(rest_address(get_settings(), jobmanager))
    except FlinkRestError as exc:
        fail(str(exc))


@app.command("list")
def list_jobs(jobmanager: str = typer.Option(None, help=JOBMANAGER_HELP)) -> None:
    """Jobs on the cluster (by default every local MiniCluster: the event path's and the OneID job's): id, name,
    state, running time."""
    from pipelines.flinkrun.rest import FlinkRest, FlinkRestError

    settings = get_settings()
    local = [] if jobmanager or settings.flink_jobmanager else _local_minicluster_addresses(settings)
    rests = [FlinkRest(address) for address in local] or [_rest(jobmanager)]
    table = Table("job id", "name", "state", "running")
    for rest in rests:
        try:
            jobs = rest.jobs()
        except FlinkRestError as exc:
            if not local:
                fail(str(exc))
            err.print(f"[yellow]note:[/] {escape(str(exc))} (a local job that is not running; `trackflow status` says more)")
            continue
        for info in jobs:
            table.add_row(info.job_id, info.name, info.state, f"{info.duration_ms / 1000:.0f}s")
    console.print(table)


def _local_minicluster_addresses(settings) -> list[str]:
    """REST addresses of the MiniClusters the local stack runs (`up --with-jobs`, `jobs start oneid`)."""
    from pipelines.stack.components import JOBS, ONEID_JOB

    ports = [settings.bound_port(component.name, 0) for component in (JOBS, ONEID_JOB)]
    return [f"http://127.0.0.1:{port}" for port in ports if port]


@app.command("start")
def start(job: str = typer.Argument(..., help="oneid (the event path starts with `trackflow up --with-jobs`)")) -> None:
    """Start the OneID job in the background on a MiniCluster of its own, as `up --with-jobs` starts the event path:
    `trackflow status`, `jobs list`, `logs oneid-job` and `down` see it. The next start resumes from its checkpoint."""
    from dataclasses import replace

    from pipelines.stack import Stack
    from pipelines.stack.components import ONEID_JOB
    from pipelines.stack.manager import StackError

    if job != "oneid":
        fail(f"`jobs start` runs the OneID job ({job!r} given); the event path starts with `trackflow up --with-jobs`")
    try:
        Stack(get_settings(), [replace(ONEID_JOB, enabled=lambda _: True)]).up(report=console.print)
    except StackError as exc:
        fail(str(exc))


@app.command("savepoint")
def savepoint(
    job: str = typer.Argument(..., help="job id or name (dwd, trackflow-dwd)"),
    directory: str = typer.Option(None, "--dir", help="target directory (file:// URI or path)"),
    jobmanager: str = typer.Option(None, help=JOBMANAGER_HELP),
) -> None:
    """Take a savepoint of a running job and print its location."""
    from pipelines.flinkrun.rest import FlinkRestError

    rest = _rest(jobmanager)
    try:
        location = rest.savepoint(rest.resolve(job).job_id, _savepoint_dir(directory))
    except FlinkRestError as exc:
        fail(str(exc))
    console.print(location)


@app.command("stop")
def stop(
    job: str = typer.Argument(..., help="job id or name"),
    savepoint_first: bool = typer.Option(True, "--savepoint/--no-savepoint", help="stop with a savepoint (else cancel)"),
    directory: str = typer.Option(None, "--dir", help="savepoint directory"),
    jobmanager: str = typer.Option(None, help=JOBMANAGER_HELP),
) -> None:
    """Stop a job, by default with a savepoint to resume from (`jobs run --recover <path>` / `submit --from-savepoint`)."""
    from pipelines.flinkrun.rest import FlinkRestError

    rest = _rest(jobmanager)
    try:
        target = rest.resolve(job)
        if savepoint_first:
            console.print(f"stopped {target.name} with savepoint {rest.savepoint(target.job_id, _savepoint_dir(directory), stop=True)}")
        else:
            rest.cancel(target.job_id)
            console.print(f"cancelled {target.name} ({target.job_id})")
    except FlinkRestError as exc:
        fail(str(exc))


def _savepoint_dir(directory: str | None) -> str:
    from pathlib import Path

    if directory:
        return directory if "://" in directory else Path(directory).resolve().as_uri()
    return (get_settings().data_dir / "savepoints").resolve().as_uri()


@cluster_app.command("start")
def cluster_start(rest_port: int = typer.Option(0, help="REST port (0: a free one)")) -> None:
    """Start a JobManager + TaskManager from PyFlink's bin/ on loopback."""
    from pipelines.flinkrun.session import start_cluster

    console.print(f"session cluster ready at {start_cluster(get_settings(), rest_port)}")


@cluster_app.command("stop")
def cluster_stop() -> None:
    from pipelines.flinkrun.session import stop_cluster

    stop_cluster(get_settings())
    console.print("session cluster stopped")
