"""Stand-alone component processes the stack manager does not own: a broker that can be killed and restarted on a
fixed port, and a collector pointed at any broker. The collector's outage tests and its benchmark use them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from pipelines.ports import free_port
from pipelines.stack.components import broker_command, http_ok, kafka_ok

ROOT = Path(__file__).resolve().parents[2]


class Broker:
    """An embedded broker on a fixed port that can be stopped and started again (it comes back empty: the
    embedded broker keeps topics in memory only)."""

    def __init__(self, settings, port: int, log: Path):
        self.settings, self.port, self.log = settings, port, log
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(broker_command(self.settings, self.port), stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: kafka_ok(self.port), 20, "broker did not start")

    def stop(self) -> None:
        if self.process:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


def wait_until(condition, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(message)
        time.sleep(0.05)


def start_collector(data_dir: Path, bootstrap: str, **settings: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            "TRACKFLOW_DATA_DIR": str(data_dir),
            "TRACKFLOW_KAFKA_BOOTSTRAP": bootstrap,
            "TRACKFLOW_CONFIG": str(data_dir / "absent.toml"),
            "TRACKFLOW_PLAN_DIR": str(ROOT / "plans"),
            **{f"TRACKFLOW_{name.upper()}": value for name, value in settings.items()},
        }
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(data_dir / "collector.log", "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines.collect.server", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    try:
        wait_until(lambda: http_ok("/healthz")(port) or process.poll() is not None, 30, "collector did not start")
    except TimeoutError:
        process.kill()
        raise
    if process.poll() is not None:
        raise RuntimeError(f"collector exited at start-up: {(data_dir / 'collector.log').read_text()[-2000:]}")
    return process, f"http://127.0.0.1:{port}"


def stop_process(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
