"""A Flink standalone session cluster from the PyFlink distribution (bin/ of the installed `pyflink` package), on
loopback, and `flink run` submission to it: `trackflow jobs cluster start|stop` and `trackflow jobs submit`.

Submission packages the job: the `pipelines` and `jobs` packages as a zip (`-pyfs`, put on the workers' Python
path), the connector jars (`pipeline.jars`), and the settings (resolved endpoints, as `TRACKFLOW_*` variables of the
client that builds the job graph; the functions carry them to the workers).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import yaml

from pipelines.config import Settings
from pipelines.flinkrun.environment import helper_jar, runtime_settings
from pipelines.ports import free_port

REPOSITORY = Path(__file__).resolve().parents[2]
PACKAGES = ("pipelines", "jobs")
START_TIMEOUT_S = 90.0


def flink_home() -> Path:
    import pyflink

    return Path(pyflink.__file__).resolve().parent


def session_dir(settings: Settings) -> Path:
    return (settings.data_dir / "flink-session").resolve()


def session_env(settings: Settings) -> dict[str, str]:
    root = session_dir(settings)
    env = dict(os.environ)
    env.update(
        FLINK_HOME=str(flink_home()),
        FLINK_CONF_DIR=str(root / "conf"),
        FLINK_LOG_DIR=str(root / "log"),
        FLINK_PID_DIR=str(root / "run"),
        FLINK_LIB_DIR=str(root / "lib"),
        # bin/ scripts look for `python` to run Python jobs; make it the venv's.
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def write_config(settings: Settings, rest_port: int) -> Path:
    """The distribution's config.yaml with our ports, loopback, and memory sized for a small shared machine."""
    root = session_dir(settings)
    conf = root / "conf"
    if conf.exists():
        shutil.rmtree(conf)
    shutil.copytree(flink_home() / "conf", conf)
    for name in ("log", "run"):
        (root / name).mkdir(parents=True, exist_ok=True)
    link_libraries(root / "lib")
    config = yaml.safe_load((conf / "config.yaml").read_text())
    config["jobmanager"]["rpc"]["port"] = free_port()
    config["jobmanager"]["memory"]["process"]["size"] = "1024m"
    config["taskmanager"]["numberOfTaskSlots"] = 4
    config["taskmanager"]["memory"]["process"]["size"] = "1536m"
    config["rest"] = {"address": "localhost", "bind-address": "localhost", "port": rest_port}
    config["blob"] = {"server": {"port": "0"}}
    (conf / "config.yaml").write_text(yaml.safe_dump(config))
    return conf


def link_libraries(lib: Path) -> None:
    """The distribution's lib/ plus opt/flink-python: a MiniCluster adds the Python operators by itself, a session
    cluster needs them on its class path (else `ClassNotFoundException: ...ExternalPythonProcessOperator`). Links in
    a folder of our own, so the installed package is never modified."""
    if lib.exists():
        shutil.rmtree(lib)
    lib.mkdir(parents=True)
    home = flink_home()
    for jar in sorted((home / "lib").glob("*.jar")) + sorted((home / "opt").glob("flink-python*.jar")):
        (lib / jar.name).symlink_to(jar)


def start_cluster(settings: Settings, rest_port: int = 0) -> str:
    """Start a JobManager and one TaskManager; returns host:port of the REST endpoint once a slot is offered."""
    rest_port = rest_port or free_port()
    write_config(settings, rest_port)
    env = session_env(settings)
    bin_dir = flink_home() / "bin"
    for script in ("jobmanager.sh", "taskmanager.sh"):
        subprocess.run(["bash", str(bin_dir / script), "start"], env=env, check=True, capture_output=True)
    address = f"localhost:{rest_port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            overview = httpx.get(f"http://{address}/overview", timeout=2).json()
            if overview.get("taskmanagers", 0) >= 1:
                (session_dir(settings) / "rest.address").write_text(address)
                return address
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"session cluster not ready after {START_TIMEOUT_S:.0f}s; logs in {session_dir(settings) / 'log'}")


def stop_cluster(settings: Settings) -> None:
    env = session_env(settings)
    bin_dir = flink_home() / "bin"
    for script in ("taskmanager.sh", "jobmanager.sh"):
        subprocess.run(["bash", str(bin_dir / script), "stop"], env=env, capture_output=True)


def package(settings: Settings, job: str) -> Path:
    """A zip of the Python packages the job imports (shipped with -pyfs)."""
    target = session_dir(settings) / "packages" / f"trackflow-{job}.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in PACKAGES:
            for path in sorted((REPOSITORY / name).rglob("*.py")):
                archive.write(path, path.relative_to(REPOSITORY))
    return target


def submit_command(
    settings: Settings, job: str, jobmanager: str, parallelism: int | None = None, savepoint: str | None = None
) -> tuple[list[str], dict[str, str]]:
    """`flink run` (detached) of jobs/<job>.py on `jobmanager`, and the environment to run it in. The job script
    builds its Flink options itself (pipelines.flinkrun.runner), exactly as in a local run."""
    resolved = runtime_settings(settings)
    helper_jar(settings.flink_jars_dir.resolve())  # the package ships Python files only: the job script finds it built
    command = [
        "bash", str(flink_home() / "bin" / "flink"), "run", "--detached",
        "-m", jobmanager,
        "-pyexec", sys.executable, "-pyclientexec", sys.executable,
        "-pyfs", str(package(settings, job)),
        "-py", str(REPOSITORY / "jobs" / f"{job}.py"),
        "--recover", savepoint or "none",
    ]  # fmt: skip
    if parallelism:
        command += ["--parallelism", str(parallelism)]
    env = session_env(settings)
    env.update(
        TRACKFLOW_KAFKA_BOOTSTRAP=resolved.kafka_bootstrap,
        TRACKFLOW_CLICKHOUSE_URL=resolved.clickhouse_url,
        # With the URL explicit the warehouse looks external, whose password is never generated: pass the one the
        # embedded warehouse was given (from the data dir's secrets), or the writer's inserts are refused.
        TRACKFLOW_CLICKHOUSE_PASSWORD=resolved.clickhouse_password.get_secret_value(),
        TRACKFLOW_DATA_DIR=str(settings.data_dir.resolve()),
        PYTHONPATH=str(REPOSITORY),
    )
    return command, env


def submit(settings: Settings, job: str, jobmanager: str, parallelism: int | None = None, savepoint: str | None = None) -> str:
    """Submit and return Flink's output (it names the job id)."""
    command, env = submit_command(settings, job, jobmanager, parallelism, savepoint)
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=REPOSITORY)
    if result.returncode != 0:
        raise RuntimeError(f"flink run failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout
