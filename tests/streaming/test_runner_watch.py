"""The runner's watcher: when it restarts a job (and when it waits), and the command line it restarts with."""

from __future__ import annotations

import re

from pipelines.flinkrun.runner import BrokerSeen, broker_changed, restart_argv

STARTED = BrokerSeen("127.0.0.1:9092", "first")


def test_a_new_incarnation_or_a_new_port_restarts_the_job():
    assert "new incarnation second" in broker_changed(STARTED, BrokerSeen("127.0.0.1:9092", "second"))
    assert "moved from 127.0.0.1:9092 to 127.0.0.1:9093" in broker_changed(STARTED, BrokerSeen("127.0.0.1:9093", "first"))


def test_the_same_broker_an_absent_one_or_one_not_prepared_yet_is_waited_for():
    assert broker_changed(STARTED, STARTED) is None
    assert broker_changed(STARTED, None) is None  # stopped or not answering
    assert broker_changed(STARTED, BrokerSeen("127.0.0.1:9092", None)) is None  # no marker yet: `up` is preparing it


def test_the_restarted_process_resumes_from_the_newest_checkpoint_whatever_recover_said():
    module = ["python", "-m", "pipelines.flinkrun.runner", "all", "--rest-port", "5"]
    assert restart_argv([*module, "--recover", "none"]) == [*module, "--recover", "latest"]
    assert restart_argv(["trackflow", "jobs", "run", "dwd", "--recover=/x/chk-3"]) == ["trackflow", "jobs", "run", "dwd", "--recover", "latest"]
    assert restart_argv(module) == [*module, "--recover", "latest"]


def test_the_lag_is_read_from_the_groups_and_topics_the_jobs_consume():
    from jobs import dwd, layering
    from pipelines import messaging
    from pipelines.flinkrun.progress import EVENT_PATH_INPUTS

    assert {job: inputs[:2] for job, inputs in EVENT_PATH_INPUTS.items()} == {
        "layering": (layering.GROUP, re.escape(messaging.RAW)),
        "dwd": (dwd.GROUP, dwd.ODS_PATTERN),
    }
