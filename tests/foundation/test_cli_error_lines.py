"""Every CLI reports a problem through one printer (pipelines/cli_errors.py): `error: <message>`, one line on
stderr, exit 1, and user text inside the message printed as written. A file name or a name with rich markup in it
(`a[bold]b[/]c`) used to be read as markup by most CLIs: the closing tag raised a MarkupError traceback, or the
tag vanished from the message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

MARKUP = "a[bold]b[/]c"
UNREACHABLE = {"TRACKFLOW_CLICKHOUSE_URL": "http://127.0.0.1:1", "TRACKFLOW_CONFIG": "/nonexistent/trackflow.toml"}

# (the CLI module whose error path it is, the command, the one line it must print; {dir} is a fresh temp folder)
CASES = [
    ("pipelines/cli.py", ["logs", MARKUP], f"error: unknown component '{MARKUP}'; choose one of "),
    ("pipelines/analysis/cli.py", ["query", "--spec", "{dir}/" + MARKUP], f"error: cannot read the request file {{dir}}/{MARKUP}: "),
    ("pipelines/plan/cli.py", ["plan", "validate", "--dir", "{dir}/" + MARKUP], f"error: {{dir}}/{MARKUP}: plan folder does not exist"),
    ("pipelines/push/cli.py", ["push", "run", MARKUP, "--date", "2026-01-01"], f"error: no push named '{MARKUP}'; defined: "),
    ("pipelines/jobs_cli.py", ["jobs", "run", MARKUP], f"error: unknown job '{MARKUP}'; choose one of "),
    ("pipelines/identity/cli.py", ["oneid", "split", "--link", MARKUP, "b", "--reason", "r"], f"error: '{MARKUP}': expected TYPE:VALUE"),
    ("pipelines/layering/cli.py", ["layering", "check", "{dir}/" + MARKUP], f"error: cannot read {{dir}}/{MARKUP}: "),
]


@pytest.mark.parametrize("module,args,line", CASES, ids=[case[0] for case in CASES])
def test_an_error_prints_its_message_as_written_on_one_line(module: str, args: list[str], line: str, tmp_path: Path):
    args = [arg.replace("{dir}", str(tmp_path)) for arg in args]
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args], capture_output=True, text=True, timeout=120,
        env={**os.environ, **UNREACHABLE, "TRACKFLOW_DATA_DIR": str(tmp_path / "data")},
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(line.replace("{dir}", str(tmp_path))), result.stderr
