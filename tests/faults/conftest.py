"""The fault suite runs alone (`pytest -m fault`, after the rest): each drill crashes a part of a private stack."""

from __future__ import annotations

import pytest

from tests.faults.harness import DrillStack


def pytest_configure(config):
    config.addinivalue_line("markers", "fault: fault drills on a private stack with the jobs (slow; `pytest -m fault`)")


@pytest.fixture(scope="module")
def drill_stack(tmp_path_factory):
    stack = DrillStack(tmp_path_factory.mktemp("drills"))
    stack.up()
    stack.wait_jobs_running()
    try:
        yield stack
    finally:
        stack.close()
