"""Flink options of the jobs, checked without a JVM."""

from __future__ import annotations

import importlib.machinery
import os
from pathlib import Path

import pytest

from pipelines.config import Settings
from pipelines.flinkrun.environment import flink_configuration, thread_mode_options
from pipelines.flinkrun.runner import ALL, JOBS


def test_thread_mode_path_lets_the_embedded_interpreter_import_pemja_and_the_jobs():
    # Without these paths PEMJA's interpreter fails every task with "No module named 'pemja'" and the job restarts
    # forever, processing nothing.
    options = thread_mode_options()
    assert options["python.execution-mode"] == "thread"
    paths = options["python.pythonpath"].split(os.pathsep)
    assert all(Path(path).is_dir() for path in paths)
    for module in ("pemja", "pyflink", "orjson", "jobs", "pipelines"):
        assert importlib.machinery.PathFinder.find_spec(module, paths) is not None, module


@pytest.mark.parametrize("job", [*JOBS, ALL])
def test_every_job_runs_its_python_inside_the_jvm(job, tmp_path):
    """Process mode would start Python workers whose gRPC servers bind every interface (PyFlink's worker pool and
    Beam's ServerFactory hard-code it): the OneID job ran so, the last one."""
    options = flink_configuration(Settings(data_dir=tmp_path), job)
    assert options["python.execution-mode"] == "thread"
