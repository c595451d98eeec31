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

from pipelines.stack.manager import free_port

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
def test_a_streaming_job_and_its_python_workers_listen_on_loopback_only(stack, stack_settings, tmp_path):
    """The OneID job runs its Python operators in separate worker processes (process mode); layering/dwd/metrics run
    Python inside the JVM. Waits until the JVM and a Python worker under it are up, then checks every socket."""
    log = open(tmp_path / "job.log", "wb")
    job = subprocess.Popen(
        [sys.executable, "-m", "pipelines.flinkrun.runner", "oneid", "--rest-port", str(free_port()), "--recover", "none"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + JOB_START_S
        while True:
            assert job.poll() is None, (tmp_path / "job.log").read_text()[-3000:]
            tree = process_tree(job.pid)
            jvm = [pid for pid, name in tree.items() if name == "java"]
            workers = [pid for pid, name in tree.items() if name.startswith("python") and pid != job.pid and jvm and pid in process_tree(jvm[0])]
            if jvm and workers:
                break
            assert time.monotonic() < deadline, f"no Python worker under the job's JVM after {JOB_START_S:.0f}s: {tree}"
            time.sleep(1)
        time.sleep(3)  # the workers' and the task manager's servers are up once the operators opened
        found = listeners_of(job.pid)
        assert {name for _, _, name in found} >= {"java"}, found
        assert all(is_loopback(host) for host, _, _ in found), found
    finally:
        os.killpg(job.pid, signal.SIGTERM)
        try:
            job.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait(timeout=30)
