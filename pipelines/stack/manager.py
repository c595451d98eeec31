"""Process supervision for the local stack: start idempotently, report health honestly, stop cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

from pipelines.config import Settings
from pipelines.ports import free_port, port_in_use
from pipelines.stack.components import COMPONENTS, STOP_ORDER, Component

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


class StackError(RuntimeError):
    pass


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    state: str  # healthy | unhealthy | crashed | stopped | external | off
    url: str
    pid: int | None
    uptime_s: float | None
    reason: str = ""  # why it is not healthy, when known


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as dead.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


class Stack:
    def __init__(self, settings: Settings, components: list[Component] | None = None):
        self.settings = settings
        self.components = components if components is not None else COMPONENTS

    # -- files --------------------------------------------------------------------------------------------------
    def _pid_file(self, component: Component) -> Path:
        return self.settings.state_dir / f"{component.name}.pid"

    def _port_file(self, component: Component) -> Path:
        return self.settings.state_dir / f"{component.name}.port"

    def log_file(self, name: str) -> Path:
        return self.settings.log_dir / f"{name}.log"

    def _read_int(self, path: Path) -> int | None:
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            return None

    def port(self, component: Component) -> int | None:
        return self._read_int(self._port_file(component))

    def url(self, component: Component) -> str:
        port = self.port(component) or component.configured_port(self.settings)
        return f"{component.scheme}://127.0.0.1:{port}"

    # -- status -------------------------------------------------------------------------------------------------
    def status(self, diagnose: bool = False) -> list[ComponentStatus]:
        """Each component's state; with `diagnose`, a running component that answers is also asked whether it does
        its job (the broker still has its topics, the jobs read it and keep up), which costs a few Kafka requests."""
        statuses = [self._status(component) for component in self.components]
        if diagnose:
            statuses = [self._diagnosed(c, s) for c, s in zip(self.components, statuses)]
        return statuses

    def _diagnosed(self, component: Component, status: ComponentStatus) -> ComponentStatus:
        if status.state != "healthy":
            return status
        try:
            reason = component.diagnose(self.settings)
        except Exception as exc:  # a check that cannot run says so rather than passing
            reason = f"cannot check: {exc.__class__.__name__}: {exc}"
        return replace(status, state="unhealthy", reason=reason) if reason else status

    def _status(self, component: Component) -> ComponentStatus:
        if not component.enabled(self.settings):
            external = component.external_url(self.settings)
            return ComponentStatus(component.name, "external" if external else "off", external or "-", None, None)
        pid = self._read_int(self._pid_file(component))
        url = self.url(component)
        if pid is None:
            return ComponentStatus(component.name, "stopped", url, None, None)
        if not pid_alive(pid):
            return ComponentStatus(component.name, "crashed", url, pid, None)
        uptime = time.time() - self._pid_file(component).stat().st_mtime
        port = self.port(component)
        if port and component.healthy(port):
            return ComponentStatus(component.name, "healthy", url, pid, uptime)
        return ComponentStatus(component.name, "unhealthy", url, pid, uptime, f"does not answer its health check on port {port}")

    # -- start / stop -------------------------------------------------------------------------------------------
    def up(self, report=print) -> list[ComponentStatus]:
        for directory in (self.settings.state_dir, self.settings.log_dir):
            directory.mkdir(parents=True, exist_ok=True)
        for component in self.components:
            if not component.enabled(self.settings):
                continue  # external engines are prepared explicitly (`trackflow warehouse migrate`), see operations.md
            current = self._status(component)
            if current.state == "healthy":
                report(f"{component.name:<10} already running at {current.url} (pid {current.pid})")
            elif current.state == "unhealthy" and component.recovers_itself:
                report(f"{component.name:<10} running (pid {current.pid}), not healthy yet: it restarts by itself")
            elif current.state == "unhealthy":
                raise StackError(
                    f"{component.name} (pid {current.pid}) is running but not healthy; see `trackflow logs "
                    f"{component.name}` or stop it with `trackflow down`"
                )
            else:
                self._start(component, report)
            self._prepare(component, report)
        return self.status()

    def _prepare(self, component: Component, report) -> None:
        try:
            done = component.prepare(self.settings)
        except Exception as exc:
            raise StackError(f"{component.name}: could not prepare it for the next components: {exc}") from None
        for line in done:
            report(f"{component.name:<10} {line}")

    def _choose_port(self, component: Component, report) -> int:
        configured = component.configured_port(self.settings)
        if configured and not port_in_use(configured):
            return configured
        port = free_port()
        if configured:
            report(f"{component.name:<10} port {configured} is taken; using {port}")
        return port

    def _start(self, component: Component, report) -> None:
        port = self._choose_port(component, report)
        log_path = self.log_file(component.name)
        with open(log_path, "ab") as log:
            log.write(f"\n--- start {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n".encode())
            log.flush()
            process = subprocess.Popen(
                component.command(self.settings, port),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=self._child_env(),
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not component.healthy(port):
            if process.poll() is not None:
                raise StackError(f"{component.name} exited with code {process.returncode} while starting; see {log_path}")
            if time.monotonic() > deadline:
                process.terminate()
                raise StackError(f"{component.name} did not become healthy within {START_TIMEOUT_S:.0f}s; see {log_path}")
            time.sleep(0.05)
        self._port_file(component).write_text(str(port))
        self._pid_file(component).write_text(str(process.pid))
        report(f"{component.name:<10} started at {self.url(component)} (pid {process.pid})")

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        # Children resolve the same settings, with the data dir made absolute so their cwd does not matter.
        env["TRACKFLOW_DATA_DIR"] = str(self.settings.data_dir.resolve())
        return env

    def down(self, report=print) -> None:
        """Stops in STOP_ORDER: the collector first, then the jobs once they caught up with their input (their
        `settle`), then the engines."""
        for component in sorted(self.components, key=_stop_position):
            pid = self._read_int(self._pid_file(component))
            if pid is None:
                continue
            if pid_alive(pid):
                component.settle(self.settings, report)
                self._stop(pid)
                report(f"{component.name:<10} stopped (pid {pid})")
            else:
                report(f"{component.name:<10} was not running (stale pid {pid})")
            self._pid_file(component).unlink(missing_ok=True)
            self._port_file(component).unlink(missing_ok=True)

    @staticmethod
    def _stop(pid: int) -> None:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while pid_alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.05)
        if pid_alive(pid):
            os.killpg(pid, signal.SIGKILL)
        _reap(pid)


def _stop_position(component: Component) -> int:
    return STOP_ORDER.index(component.name) if component.name in STOP_ORDER else -1


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
