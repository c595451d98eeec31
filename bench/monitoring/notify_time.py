"""Fault -> notification time of each alert drill, on a private stack with the jobs (tests/faults/alerting.py: the
same drills the fault tests assert on), next to the rule's `for` (the floor any alert waits by design).

    flock -x /tmp/trackflow-cpu.lock .venv/bin/python -m bench.monitoring.notify_time

Goal: <= 60 s for the P1 rules with `for: 30s` (the component evaluates every 2 s here; 15 s as shipped adds up to
13 s). The reconciliation drill's time runs from the deleted rows to the notification, the reconciliation included.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pipelines.monitoring.rules import load
from tests.faults.alerting import AlertStack, broker_stopped, detail_rows_dropped, job_stopped

GOAL_S = 60.0


def main() -> None:
    alerts = AlertStack(Path(tempfile.mkdtemp(prefix="trackflow-bench-alerts-")))
    try:
        alerts.up()
        timings = [detail_rows_dropped(alerts)[0], job_stopped(alerts), broker_stopped(alerts)]
    finally:
        alerts.close()
    rules = load(alerts.alerts_file)
    print(f"{'drill':<24}{'rule':<26}{'priority':>9}{'for':>6}{'fault->notified s':>19}{'notices':>9}{'resolved s':>12}")
    for timing in timings:
        rule = rules.rule(timing.rule)
        resolved = f"{timing.resolved_after_recovery_s:.1f}" if timing.resolved_after_recovery_s is not None else "-"
        print(f"{timing.drill:<24}{timing.rule:<26}{rule.priority:>9}{rule.for_s:>5.0f}s{timing.fault_to_notification_s:>19.1f}{timing.firing_notifications:>9}{resolved:>12}")
    p1 = [t for t in timings if rules.rule(t.rule).priority == "P1" and rules.rule(t.rule).for_s == 30]
    worst = max(t.fault_to_notification_s for t in p1)
    print(f"goal (P1 rules with for 30s notified within {GOAL_S:.0f} s): {'met' if worst <= GOAL_S else 'NOT met'} (worst {worst:.1f} s)")
    print(f"evaluation every 2 s; machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
