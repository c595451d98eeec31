"""Alert drills on the real local stack (issue 21): each injects a real fault and checks what the webhook receiver
(a local HTTP server) got: the rule's notification, once, not once per evaluation; the resolution after recovery;
reconciliation naming the warehouse stage; a silence keeping a firing rule quiet. Fault -> notification times are
printed (and measured by bench/monitoring/notify_time.py)."""

from __future__ import annotations

import pytest

from tests.faults.alerting import DRILL_FOR_S as FOR_S
from tests.faults.alerting import broker_stopped, detail_rows_dropped, job_stopped, silenced

pytestmark = [pytest.mark.fault, pytest.mark.timeout(600)]


# On the fault suite's stack (conftest.alert_stack), these first. Order matters: the reconciliation drill needs a
# window with nothing but its own events (before any fault).
def test_dropped_detail_rows_are_named_at_the_warehouse_stage_and_notified(alert_stack):
    timing, description = detail_rows_dropped(alert_stack, dropped=25)
    print(timing)
    assert description.startswith("25 events missing at the warehouse stage (demo-shop, layer default)"), description
    assert timing.firing_notifications >= 1 and timing.fault_to_notification_s < 60


def test_a_silence_suppresses_a_firing_rule(alert_stack):
    notices, states = silenced(alert_stack)
    assert notices == []
    assert states == ["silenced"]


def test_a_stopped_streaming_job_raises_the_lag_alert_once_within_its_for_window(alert_stack):
    timing = job_stopped(alert_stack)
    print(timing)
    assert timing.firing_notifications == 1
    assert FOR_S <= timing.fault_to_notification_s <= FOR_S + 30


def test_a_stopped_broker_raises_the_spool_alert_once_and_it_resolves_after_recovery(alert_stack):
    timing = broker_stopped(alert_stack)
    print(timing)
    assert timing.firing_notifications == 1
    assert FOR_S <= timing.fault_to_notification_s <= FOR_S + 30
    assert timing.resolved_after_recovery_s is not None
