"""Flink options of the jobs, checked without a JVM."""

from __future__ import annotations

import importlib.machinery
import os
from pathlib import Path

from pipelines.flinkrun.environment import THREAD_MODE_JOBS, thread_mode_options


def test_thread_mode_path_lets_the_embedded_interpreter_import_pemja_and_the_jobs():
    # Without these paths PEMJA's interpreter fails every task with "No module named 'pemja'" and the job restarts
    # forever, processing nothing.
    options = thread_mode_options()
    assert options["python.execution-mode"] == "thread"
    paths = options["python.pythonpath"].split(os.pathsep)
    assert all(Path(path).is_dir() for path in paths)
    for module in ("pemja", "pyflink", "orjson", "jobs", "pipelines"):
        assert importlib.machinery.PathFinder.find_spec(module, paths) is not None, module


def test_the_event_path_runs_in_thread_mode_and_the_identity_job_does_not():
    assert {"layering", "dwd", "metrics", "all"} <= set(THREAD_MODE_JOBS)
    assert "oneid" not in THREAD_MODE_JOBS
