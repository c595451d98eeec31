"""Every listener of the stack binds loopback: the embedded services, the OneID lookup service, and a streaming job's
Flink MiniCluster (JVM) with its Python workers. Checked with `ss` (iproute2) on the processes and their children."""

from __future__ import annotations

import ipaddress
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.ports import free_port

from .test_secrets import oneid_service  # noqa: F401  (fixture)

JOB_START_S = 180.0


def listening_sockets() -> list[tuple[str, int]]:
    """(local address, pid) of every listening TCP socket, from `ss -ltnpH`."""
    sockets = []
    for line in subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout.splitlines():
        local = line.split()[3]
        host = local.rsplit(":", 1)[0].strip("[]")
        sockets += [(host, int(pid)) for pid in re.findall(r"pid=(\d+)", line)]
    return sockets


def is_loopback(host: str) -> bool:
    if host in ("*", "0.0.0.0", "::"):
        return False
    address = ipaddress.ip_address(host.split("%")[0])
    return address.is_loopback or (address.version == 6 and address.ipv4_mapped is not None and address.ipv4_mapped.is_loopback)


def process_tree(root: int) -> dict[int, str]:
    """The process and all its descendants: pid -> command name (from /proc: procps is not on slim images)."""
    children: dict[int, list[int]] = {}
    names = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone
        name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        pid, ppid = int(entry.name), int(rest[1])
        children.setdefault(ppid, []).append(pid)
        names[pid] = name
    tree, pending = {}, [root]
    while pending:
        pid = pending.pop()
        tree[pid] = names.get(pid, "?")
        pending += children.get(pid, [])
    return tree


def listeners_of(root: int) -> list[tuple[str, int, str]]:
    tree = process_tree(root)
    return [(host, pid, tree[pid]) for host, pid in listening_sockets() if pid in tree]


def test_the_embedded_services_listen_on_loopback_only(stack, stack_settings):
    for component in ("broker", "warehouse", "postgres", "collector"):
        pid = int((stack_settings.state_dir / f"{component}.pid").read_text())
        found = listeners_of(pid)
        assert found, f"{component} (pid {pid}) listens nowhere"
        assert all(is_loopback(host) for host, _, _ in found), (component, found)


def test_the_oneid_service_listens_on_loopback_only(oneid_service):  # noqa: F811
    _, process = oneid_service
    found = listeners_of(process.pid)
    assert found and all(is_loopback(host) for host, _, _ in found), found


@pytest.mark.jvm
@pytest.mark.parametrize(
    "job",
    [
        "metrics",  # thread mode, as every job: Python runs inside the JVM
        "oneid",  # in process mode its Python workers' gRPC servers bound every interface
    ],
)  # fmt: skip
def test_a_streaming_jobs_minicluster_listens_on_loopback_only(stack, stack_settings, tmp_path, job):
    """The job's process, its MiniCluster JVM and any Python worker under them, once the job runs and its operators
    (and so their servers) are open."""
    from pipelines.flinkrun.rest import job_running

    rest = free_port()
    log = open(tmp_path / "job.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines.flinkrun.runner", job, "--rest-port", str(rest), "--recover", "none"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + JOB_START_S
        while not job_running(f"http://127.0.0.1:{rest}"):
            assert process.poll() is None, (tmp_path / "job.log").read_text()[-3000:]
            assert time.monotonic() < deadline, f"job {job} not running after {JOB_START_S:.0f}s"
            time.sleep(1)
        time.sleep(5)  # tasks deployed: their operators open (Python runners, network stack) just after
        found = listeners_of(process.pid)
        assert "java" in {name for _, _, name in found}, found
        exposed = [(host, pid, name) for host, pid, name in found if not is_loopback(host)]
        assert not exposed, exposed
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
