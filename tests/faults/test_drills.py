"""Acknowledged = in the warehouse, exactly once, under each fault: every event the collector answered 2xx is stored
once (distinct event_ids = acknowledged = `SELECT count() FROM events`, no FINAL), on one private stack that each
drill crashes a part of and brings back the way an operator would (`trackflow up`, `down`/`up --with-jobs`)."""

from __future__ import annotations

import pytest

from tests.faults.harness import DRILLS, DrillStack, Outcome

pytestmark = [pytest.mark.fault, pytest.mark.timeout(420)]


def assert_exact(outcome: Outcome, allow_unacknowledged: bool = False) -> None:
    summary = (
        f"{outcome.fault}: sent {outcome.sent}, acknowledged {outcome.acknowledged}, in the warehouse "
        f"{outcome.distinct}, rows {outcome.rows}, lost {outcome.lost}, duplicates {outcome.duplicates}, "
        f"stored without acknowledgement {outcome.unacknowledged_stored}"
    )
    assert outcome.acknowledged > 0, summary
    assert outcome.lost == 0 and outcome.duplicates == 0, summary
    if not allow_unacknowledged:  # only a crash of the collector itself can cut a request it had already forwarded
        assert outcome.unacknowledged_stored == 0, summary


@pytest.mark.parametrize("drill", ["jobs_kill", "warehouse_kill", "broker_down_up", "broker_kill", "broker_kill_new_port"])
def test_no_acknowledged_event_is_lost_or_doubled(drill: str, drill_stack: DrillStack):
    assert_exact(DRILLS[drill](drill_stack))


def test_a_killed_collector_loses_nothing_it_acknowledged(drill_stack: DrillStack):
    assert_exact(DRILLS["collector_kill"](drill_stack), allow_unacknowledged=True)


def test_status_tells_when_the_broker_lost_its_topics_and_the_jobs_follow_once_it_is_prepared(drill_stack: DrillStack):
    """A broker restarted without being prepared (here: every topic deleted, the collector that would prepare it
    killed) is unhealthy with the reason, so are the jobs it holds; `trackflow up` prepares it, and the jobs' watcher
    restarts them on the new incarnation."""
    from kafka import KafkaAdminClient

    from pipelines import messaging
    from pipelines.flinkrun.runner import ALL, read_started
    from tests.faults.harness import wait_until

    wait_until(lambda: drill_stack.status().returncode == 0, 60, "a healthy stack")
    before = read_started(drill_stack.settings, ALL)
    drill_stack.kill("collector")
    admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{drill_stack.port('broker')}")
    admin.delete_topics(admin.list_topics())
    admin.close()
    shown = drill_stack.status()
    assert shown.returncode == 1, shown.stdout
    assert "broker: no incarnation marker: restarted without being prepared" in shown.stdout, shown.stdout
    assert f"jobs: the broker lost the incarnation it had when the job started ({before.incarnation})" in shown.stdout, shown.stdout

    drill_stack.cli("up")
    wait_until(lambda: drill_stack.status().returncode == 0, 120, "the jobs to follow the new incarnation")
    after = read_started(drill_stack.settings, ALL)
    assert after.incarnation != before.incarnation
    on_broker = drill_stack.settings.model_copy(update={"kafka_bootstrap": after.bootstrap})
    assert after.incarnation == messaging.broker_incarnation(on_broker)
