"""The embedded PostgreSQL push target: a real PostgreSQL 15 server (Debian's binaries) under the data dir.

PostgreSQL refuses to run as root, so when the stack runs as root the cluster belongs to the `postgres` system
user and the server is started through `setpriv` (exec, no extra parent process: the stack's pid file is the
postmaster's pid, so `trackflow down` SIGTERMs it directly - a "smart" shutdown). It listens on loopback TCP
only (no Unix socket: the data dir may be somewhere the default socket folder is not writable) and asks for a
password (scram): `TRACKFLOW_POSTGRES_PASSWORD`, else the one generated for the data dir (`pipelines/secrets.py`),
applied to an existing cluster at each start when it changed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from pipelines.config import Settings

SERVICE_USER = "postgres"  # the Debian package's system user; the server's superuser role has the same name


def cluster_dir(settings: Settings) -> Path:
    """The cluster's real directory (data_dir/postgres, or where that link points, see `_place_cluster`)."""
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


def _traversable_by_others(directory: Path) -> bool:
    return all(path.stat().st_mode & 0o001 for path in [directory, *directory.parents])


def _place_cluster(settings: Settings) -> Path:
    """Where the cluster lives. Normally data_dir/postgres. When the service user cannot reach the data dir (a
    private folder such as pytest's /tmp/pytest-of-root, which pytest keeps at mode 0700 - re-applied whenever
    another test session starts, so opening it up would not last), data_dir/postgres is a link to a private
    folder of the service user in the system temp dir instead."""
    link = settings.data_dir.resolve() / "postgres"
    if link.exists():
        return link.resolve()
    link.parent.mkdir(parents=True, exist_ok=True)
    if not _running_as_root() or _traversable_by_others(link.parent):
        link.mkdir()
        return link
    remove_orphaned_clusters()
    digest = hashlib.sha1(str(link).encode()).hexdigest()[:12]
    real = Path(tempfile.gettempdir()) / f"{LINKED_PREFIX}{digest}"
    real.mkdir(mode=0o700, exist_ok=True)
    # The sidecar names the link, so a later placement can tell when the data dir is gone (see below).
    real.with_name(real.name + ".link").write_text(str(link))
    link.symlink_to(real, target_is_directory=True)
    return real


LINKED_PREFIX = "trackflow-postgres-"


def _postmaster_running(cluster: Path) -> bool:
    try:
        pid = int((cluster / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
        return True
    except (OSError, ValueError, IndexError):
        return False


def remove_orphaned_clusters() -> list[Path]:
    """Linked clusters whose data dir is gone (pytest keeps only its last few temp dirs) and whose server is not
    running are removed: nothing else would ever delete them."""
    removed = []
    for sidecar in Path(tempfile.gettempdir()).glob(f"{LINKED_PREFIX}*.link"):
        cluster = sidecar.with_suffix("")
        link = Path(sidecar.read_text().strip())
        still_linked = link.is_symlink() and link.resolve() == cluster
        if still_linked or _postmaster_running(cluster):
            continue
        shutil.rmtree(cluster, ignore_errors=True)
        sidecar.unlink(missing_ok=True)
        removed.append(cluster)
    return removed


def init_cluster(settings: Settings) -> bool:
    """initdb the cluster if it does not exist yet (idempotent). Returns whether it created one."""
    directory = _place_cluster(settings)
    if (directory / "PG_VERSION").exists():
        return False
    if _running_as_root():
        directory.chmod(0o700)
        shutil.chown(directory, SERVICE_USER, SERVICE_USER)
    password = settings.postgres_password.get_secret_value()
    with tempfile.NamedTemporaryFile("w", prefix="trackflow-postgres-pw-", delete=False) as pwfile:
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
    _write_fingerprint(directory / PASSWORD_FINGERPRINT, password)
    return True


PASSWORD_FINGERPRINT = "trackflow_password.sha256"  # in the cluster dir (0700): which password the role has


def _fingerprint(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def apply_password(settings: Settings) -> bool:
    """Give the `postgres` role the configured (or generated) password when it has another one: a cluster made
    before secrets were generated (its password was the old default), or a rotated secret. Runs the server in
    single-user mode, so only while the postmaster is down (before each start). Returns whether it changed."""
    directory = cluster_dir(settings)
    password = settings.postgres_password.get_secret_value()
    marker = directory / PASSWORD_FINGERPRINT
    if marker.exists() and marker.read_text().strip() == _fingerprint(password):
        return False
    statement = "ALTER ROLE postgres PASSWORD '" + password.replace("'", "''") + "';\n"
    done = subprocess.run(
        _as_service_user([_binary(settings, "postgres"), "--single", "-D", str(directory), "-c", "listen_addresses=", "postgres"]),
        input=statement, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0 or "ERROR" in done.stdout + done.stderr:
        raise RuntimeError(f"setting the password of {directory} failed: {(done.stderr or done.stdout).strip()}")
    _write_fingerprint(marker, password)
    return True


def _write_fingerprint(marker: Path, password: str) -> None:
    marker.write_text(_fingerprint(password) + "\n")
    marker.chmod(0o600)
    if _running_as_root():
        shutil.chown(marker, SERVICE_USER, SERVICE_USER)


def server_command(settings: Settings, port: int) -> list[str]:
    """The postmaster command line (initialises the cluster on first use, else gives it the current password)."""
    if not init_cluster(settings):
        apply_password(settings)
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
