"""The Flink REST API calls behind `trackflow jobs list|stop|savepoint`: the same for the local MiniCluster of
`trackflow up --with-jobs` and for a session cluster (`--jobmanager host:port`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from pipelines.config import Settings

SAVEPOINT_TIMEOUT_S = 120.0


class FlinkRestError(RuntimeError):
    pass


@dataclass(frozen=True)
class JobInfo:
    job_id: str
    name: str
    state: str
    started_ms: int
    duration_ms: int


def rest_address(settings: Settings, jobmanager: str | None = None) -> str:
    """--jobmanager, else the configured session cluster, else the local jobs of the running stack."""
    address = jobmanager or settings.flink_jobmanager
    if not address:
        port_file = settings.state_dir / "jobs.port"
        if not port_file.exists():
            raise FlinkRestError("no jobs are running locally (`trackflow up --with-jobs`); pass --jobmanager host:port")
        address = f"127.0.0.1:{port_file.read_text().strip()}"
    return address if address.startswith("http") else f"http://{address}"


def job_running(address: str) -> bool:
    """Health of a job process: its MiniCluster answers and runs a job (not just a cluster with nothing on it)."""
    try:
        overview = httpx.get(f"{address}/jobs/overview", timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return False
    return any(job.get("state") == "RUNNING" for job in overview.get("jobs", []))


class FlinkRest:
    def __init__(self, address: str, timeout_s: float = 10.0):
        self.client = httpx.Client(base_url=address, timeout=timeout_s)

    def _call(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise FlinkRestError(f"Flink REST at {self.client.base_url} not reachable: {exc}") from None
        if response.status_code >= 400:
            raise FlinkRestError(f"{method} {path}: HTTP {response.status_code} {response.text[:500]}")
        return response.json() if response.content else {}

    def jobs(self) -> list[JobInfo]:
        overview = self._call("GET", "/jobs/overview")
        return [
            JobInfo(job["jid"], job["name"], job["state"], job["start-time"], job["duration"])
            for job in overview.get("jobs", [])
        ]

    def resolve(self, job: str) -> JobInfo:
        """A job by id or by name (`trackflow-dwd` or just `dwd`); by name, the running one."""
        jobs = self.jobs()
        for info in jobs:
            if info.job_id == job:
                return info
        named = [info for info in jobs if info.name in (job, f"trackflow-{job}") and info.state == "RUNNING"]
        if len(named) != 1:
            raise FlinkRestError(f"{len(named)} running jobs match {job!r}; pass the job id (`trackflow jobs list`)")
        return named[0]

    def savepoint(self, job_id: str, directory: str | None, stop: bool = False) -> str:
        """Trigger a savepoint (stopping the job after it with `stop`) and wait for its location."""
        if stop:
            body = {"drain": False, **({"targetDirectory": directory} if directory else {})}
            trigger = self._call("POST", f"/jobs/{job_id}/stop", json=body)
        else:
            body = {"cancel-job": False, **({"target-directory": directory} if directory else {})}
            trigger = self._call("POST", f"/jobs/{job_id}/savepoints", json=body)
        request_id = trigger["request-id"]
        deadline = time.monotonic() + SAVEPOINT_TIMEOUT_S
        while time.monotonic() < deadline:
            status = self._call("GET", f"/jobs/{job_id}/savepoints/{request_id}")
            if status["status"]["id"] == "COMPLETED":
                operation = status.get("operation") or {}
                if "failure-cause" in operation:
                    raise FlinkRestError(f"savepoint failed: {operation['failure-cause'].get('stack-trace', '')[:800]}")
                return operation["location"]
            time.sleep(0.5)
        raise FlinkRestError(f"savepoint of {job_id} not complete after {SAVEPOINT_TIMEOUT_S:.0f}s")

    def cancel(self, job_id: str) -> None:
        self._call("PATCH", f"/jobs/{job_id}", params={"mode": "cancel"})

    def close(self) -> None:
        self.client.close()
