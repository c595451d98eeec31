"""The embedded PostgreSQL push target: a real PostgreSQL 15 server (Debian's binaries) under the data dir.

PostgreSQL refuses to run as root, so when the stack runs as root the cluster belongs to the `postgres` system
user and the server is started through `setpriv` (exec, no extra parent process: the stack's pid file is the
postmaster's pid, so `trackflow down` SIGTERMs it directly - a "smart" shutdown). It listens on loopback TCP
only (no Unix socket: the data dir may be somewhere the default socket folder is not writable) and asks for a
password (scram) from `TRACKFLOW_POSTGRES_PASSWORD`.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from pipelines.config import Settings

SERVICE_USER = "postgres"  # the Debian package's system user; the server's superuser role has the same name


def cluster_dir(settings: Settings) -> Path:
    return (settings.data_dir / "postgres").resolve()


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _as_service_user(command: list[str]) -> list[str]:
    if not _running_as_root():
        return command
    return ["setpriv", f"--reuid={SERVICE_USER}", f"--regid={SERVICE_USER}", "--init-groups", "--", *command]


def _binary(settings: Settings, name: str) -> str:
    path = settings.postgres_bin_dir / name
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: PostgreSQL 15 is not installed (run `make install`, which apt-installs `postgresql`) "
            "or set TRACKFLOW_POSTGRES_BIN_DIR"
        )
    return str(path)


def _open_path_for(directory: Path, owner: pwd.struct_passwd) -> None:
    """Let the service user reach `directory`: ancestors we own get the traverse bit (x, not read) for others,
    e.g. pytest's private /tmp/pytest-of-root."""
    for parent in reversed(directory.parents):
        mode = parent.stat().st_mode
        if not mode & 0o001 and parent.stat().st_uid == os.geteuid():
            parent.chmod(mode | 0o001)
    shutil.chown(directory, owner.pw_uid, owner.pw_gid)


def init_cluster(settings: Settings) -> bool:
    """initdb the cluster if it does not exist yet (idempotent). Returns whether it created one."""
    directory = cluster_dir(settings)
    if (directory / "PG_VERSION").exists():
        return False
    directory.mkdir(parents=True, exist_ok=True)
    if _running_as_root():
        directory.chmod(0o700)
        _open_path_for(directory, pwd.getpwnam(SERVICE_USER))
    password = settings.postgres_password.get_secret_value()
    with tempfile.NamedTemporaryFile("w", dir=directory.parent, prefix=".postgres-pw", delete=False) as pwfile:
        pwfile.write(password + "\n")
    try:
        if _running_as_root():
            shutil.chown(pwfile.name, SERVICE_USER)
        subprocess.run(
            _as_service_user(
                [_binary(settings, "initdb"), "-D", str(directory), "-U", SERVICE_USER, "--auth-host=scram-sha-256",
                 "--auth-local=peer", f"--pwfile={pwfile.name}", "-E", "UTF8", "--locale=C.UTF-8"]
            ),
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"initdb of {directory} failed: {exc.stderr.strip() or exc.stdout.strip()}") from None
    finally:
        os.unlink(pwfile.name)
    return True


def server_command(settings: Settings, port: int) -> list[str]:
    """The postmaster command line (initialises the cluster on first use)."""
    init_cluster(settings)
    return _as_service_user(
        [_binary(settings, "postgres"), "-D", str(cluster_dir(settings)), "-p", str(port),
         "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
         # Pushes are bulk loads of data the warehouse still holds: throughput over per-commit durability.
         "-c", "synchronous_commit=off", "-c", "max_wal_size=4GB", "-c", "shared_buffers=256MB"]
    )  # fmt: skip


def server_ready(port: int) -> bool:
    """pg_isready: the server accepts connections (not merely an open port during start-up or recovery)."""
    from pipelines.config import get_settings

    try:
        command = [_binary(get_settings(), "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port), "-t", "2"]
    except FileNotFoundError:
        return False
    return subprocess.run(command, capture_output=True).returncode == 0
