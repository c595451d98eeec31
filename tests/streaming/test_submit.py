"""`trackflow jobs submit` against a Flink standalone session cluster started from the PyFlink distribution on
loopback, then list / savepoint / stop through the REST API, as the CLI does."""

from __future__ import annotations

import re
import uuid

import pytest

from pipelines.flinkrun.rest import FlinkRest
from pipelines.flinkrun.session import start_cluster, stop_cluster, submit
from tests.streaming.conftest import make_events, rows_of_run, send, wait_for

pytestmark = pytest.mark.jvm


@pytest.fixture(scope="module")
def session_cluster(stack, stack_settings):
    address = start_cluster(stack_settings)
    yield address
    stop_cluster(stack_settings)


def test_submitted_jobs_move_events_and_stop_with_a_savepoint(session_cluster, stack_settings, warehouse):
    job_ids = []
    for job in ("layering", "dwd"):
        output = submit(stack_settings, job, session_cluster)
        job_ids.append(re.search(r"JobID ([0-9a-f]{32})", output).group(1))
    rest = FlinkRest(f"http://{session_cluster}")
    wait_for(lambda: {j.job_id for j in rest.jobs() if j.state == "RUNNING"} >= set(job_ids), timeout_s=120, what="running jobs")
    assert {"trackflow-layering", "trackflow-dwd"} <= {j.name for j in rest.jobs()}

    run = uuid.uuid4().hex
    events = make_events(500, run)
    send(stack_settings, events, per_message=5)
    wait_for(lambda: rows_of_run(warehouse, run) == len(events), timeout_s=180, what="rows written by the submitted jobs")

    location = rest.savepoint(rest.resolve("dwd").job_id, (stack_settings.data_dir / "savepoints").resolve().as_uri())
    assert "savepoint-" in location
    for job_id in job_ids:
        rest.savepoint(job_id, (stack_settings.data_dir / "savepoints").resolve().as_uri(), stop=True)
    wait_for(lambda: not [j for j in rest.jobs() if j.state == "RUNNING"], timeout_s=60, what="jobs stopped")
    rest.close()
