"""The fault suite runs alone (`pytest -m fault`, after the rest): each drill crashes a part of a private stack."""

from __future__ import annotations

import pytest

from tests.faults.alerting import DRILL_FOR_S, AlertStack
from tests.faults.harness import wait_until


def pytest_configure(config):
    config.addinivalue_line("markers", "fault: fault drills on a private stack with the jobs (slow; `pytest -m fault`)")


# One private stack for the whole fault suite (a stack's start and stop are ~35 s): the alert drills' (the alerts
# component evaluating every 2 s, a webhook receiver), which the loss drills and the re-sends then use too. Each test
# counts only its own run's events, and every drill leaves the stack running, as an operator would.
@pytest.fixture(scope="session")
def alert_stack(tmp_path_factory):
    alerts = AlertStack(tmp_path_factory.mktemp("fault-stack"), for_s=DRILL_FOR_S)
    try:
        alerts.up()
        yield alerts
    finally:
        alerts.close()


@pytest.fixture(scope="session")
def drill_stack(alert_stack):
    """The same stack, healthy again (after the alert drills the jobs may still be following a restarted broker)."""
    stack = alert_stack.stack
    wait_until(lambda: stack.status().returncode == 0, 150, "a healthy stack")
    stack.wait_jobs_running()
    return stack
