"""The `trackflow` command ends with one line naming the problem, never a traceback: bad arguments, files it
cannot write, and services it cannot reach (through `pipelines.cli.main`, the installed entry point)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

UNREACHABLE = {"TRACKFLOW_CLICKHOUSE_URL": "http://127.0.0.1:1", "TRACKFLOW_CONFIG": "/nonexistent/trackflow.toml"}


def trackflow(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args], capture_output=True, text=True, timeout=120, env={**os.environ, **UNREACHABLE, **env}
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (["oneid", "show", "someone"], "warehouse at http://127.0.0.1:1 is not reachable"),
        (["demo", "generate", "--events", "100", "--out", "/nonexistent/dir/x.jsonl"], "directory /nonexistent/dir does not exist"),
        (["demo", "generate", "--events", "10", "--app-id", " ", "--out", "/tmp/x.jsonl"], "--app-id must not be empty"),
        (["demo", "generate", "--persons", "0"], "Invalid value for '--persons'"),
        (["plan", "health", "demo-shop", "--days", "0"], "Invalid value for '--days'"),
    ],
)
def test_one_line_not_a_traceback(args, message):
    result = trackflow(*args)
    assert result.returncode in (1, 2), result
    assert message in result.stderr and "Traceback" not in result.stderr + result.stdout, result.stderr


def test_a_setting_that_does_not_parse_is_named():
    result = trackflow("status", TRACKFLOW_WAREHOUSE_PORT="abc")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "configuration: warehouse_port: Input should be a valid integer" in result.stderr
    result = trackflow("config", "show", TRACKFLOW_ONEID_TOKENS="[not json")
    assert result.returncode == 1 and "configuration: oneid_tokens" in result.stderr and "Traceback" not in result.stderr
