"""A benchmark's own stack: a fresh data directory, a free port for every listener and none of the caller's cluster
settings, so a bench never measures, or writes into, a stack a developer has running."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

LISTENERS = ("WAREHOUSE", "KAFKA", "COLLECTOR", "POSTGRES", "API", "FLINK_REST", "ALERTS", "ONEID_SERVICE")
CLUSTER_SETTINGS = ("TRACKFLOW_CLICKHOUSE_URL", "TRACKFLOW_KAFKA_BOOTSTRAP")


def private_stack(components=None, data_dir: str | Path | None = None, prefix: str = "tf-bench-", **env: str):
    """Settings for a private data dir (a new temporary one unless `data_dir` is given) and its stack, started.

    `components` as `Stack` takes them (default: all); `env` adds settings (`TRACKFLOW_...` names) for the bench and
    for the processes the stack starts, which read the same environment. Returns (data dir, settings, stack); the
    caller stops the stack."""
    data_dir = Path(data_dir or tempfile.mkdtemp(prefix=prefix))
    os.environ.update({
        "TRACKFLOW_DATA_DIR": str(data_dir), "TRACKFLOW_CONFIG": str(data_dir / "absent.toml"),
        **{f"TRACKFLOW_{listener}_PORT": "0" for listener in LISTENERS}, **env,
    })  # fmt: skip
    for name in CLUSTER_SETTINGS:
        os.environ.pop(name, None)
    from pipelines.config import get_settings
    from pipelines.stack import Stack

    get_settings.cache_clear()
    settings = get_settings()
    stack = Stack(settings, components)
    stack.up(report=lambda _: None)
    return data_dir, settings, stack
