"""Secrets of the local stack: configured (environment / trackflow.toml), else generated once per data dir.

No secret has a usable default. The first Trackflow process that reads the settings of a data dir without them
configured generates each missing one (`secrets.token_urlsafe`) into `<data_dir>/secrets/secrets.json` (file mode
0600 in a 0700 folder), under a file lock so concurrent first starts agree; every process of the stack then reads
the same file. Passwords of external engines (`TRACKFLOW_CLICKHOUSE_URL`, `TRACKFLOW_POSTGRES_URL`) are never
generated: those servers have their own users, so their passwords are configured or empty.

Rotate a generated secret by deleting its entry (or the file) while the stack is down; the next start generates
a new one (the embedded PostgreSQL takes its new password at start, see `pipelines/push/server.py`).
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from pathlib import Path

FOLDER = "secrets"
FILE = "secrets.json"


def path_for(data_dir: Path) -> Path:
    return Path(data_dir) / FOLDER / FILE


class SecretStoreError(RuntimeError):
    """The secrets file cannot be read or written (permissions, a damaged file)."""


def generated(data_dir: Path, names: list[str]) -> dict[str, str]:
    """The generated values of `names` for this data dir, creating the ones missing (and the file) on first use."""
    path = path_for(data_dir)
    try:
        values = _read(path)
        if all(name in values for name in names):
            return {name: values[name] for name in names}
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        with os.fdopen(os.open(path.parent / ".lock", os.O_WRONLY | os.O_CREAT, 0o600), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # a concurrent first start waits and then reads what this one wrote
            values = _read(path)
            missing = [name for name in names if name not in values]
            if missing:
                values.update({name: secrets.token_urlsafe(24) for name in missing})
                _write(path, values)
        return {name: values[name] for name in names}
    except OSError as exc:
        raise SecretStoreError(
            f"secrets file {path}: {exc.strerror or exc}; configure the secrets (trackflow config show lists them) "
            "or make the data dir writable"
        ) from None


def _read(path: Path) -> dict[str, str]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    try:
        values = json.loads(text)
    except ValueError:
        values = None
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise SecretStoreError(f"secrets file {path} is damaged (not a JSON object of strings); fix or delete it")
    return values


def _write(path: Path, values: dict[str, str]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(values, handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
