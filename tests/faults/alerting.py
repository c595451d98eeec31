"""Alert drills on the real local stack (shared by tests/faults/test_alerts.py and bench/monitoring/notify_time.py):
a private stack (tests/faults/harness.py) whose `alerts` component evaluates every 2 s and notifies a local webhook
receiver, and one function per drill that injects a real fault and returns what the receiver got and when.

Each drill's clock starts at the fault and stops when the receiver gets the rule's firing notification: that is
the fault -> notification time (goal: <= 1 min for P1 rules with `for: 30s`).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from tests.faults.harness import DrillStack, Sender, stored, wait_until
from tests.monitoring.receiver import WebhookReceiver

ROOT = Path(__file__).resolve().parents[2]
LAG_THRESHOLD = 2000  # messages: ~10 s of the drills' send rate; a healthy job stays far below (checkpoints every 1.5 s)
DRILLED_RULES = ("consumer_lag_high", "collector_spooling")  # the rules whose `for` window the drills time
# Their `for` in the tests (30s as shipped, which bench/monitoring/notify_time.py times against its goal): a shorter
# window proves the same (not before it, once, within 30 s after it, resolved) in 20 s less per drill.
DRILL_FOR_S = 10


@dataclass(frozen=True)
class Timing:
    drill: str
    rule: str
    fault_to_notification_s: float
    firing_notifications: int  # for this rule and series (the most any one got) during the drill: 1, not one per evaluation
    resolved_after_recovery_s: float | None = None  # from `trackflow up` (the recovery) to the resolved notification


class AlertStack:
    """A DrillStack with the alerts component on: alerts.yaml as shipped, the lag threshold lowered for the drill,
    a generic webhook receiver; evaluation every 2 s. `for_s` sets the `for` of the drilled rules (None: as shipped,
    which the benchmark measures against its goal; the tests use a shorter window to prove the same behaviour)."""

    def __init__(self, root: Path, for_s: float | None = None):
        self.receiver = WebhookReceiver()
        self.stack = DrillStack(root)
        self.alerts_file = self.stack.root / "alerts.yaml"
        config = yaml.safe_load((ROOT / "alerts.yaml").read_text())
        for rule in config["rules"]:
            if rule["name"] == "consumer_lag_high":
                rule["threshold"] = LAG_THRESHOLD
            if rule["name"] in DRILLED_RULES and for_s is not None:
                rule["for"] = f"{for_s:.0f}s"
        config["receivers"] = [{"name": "drill", "format": "generic", "url": self.receiver.url}]
        self.write_config(config)
        self.stack.env.update(
            {"TRACKFLOW_ALERTS_FILE": str(self.alerts_file), "TRACKFLOW_ALERTS_INTERVAL_S": "2", "TRACKFLOW_ALERTS_PORT": "0", "TRACKFLOW_COLLECTOR_METRICS_FLUSH_S": "2"}
        )

    def write_config(self, config: dict) -> None:
        partial = self.alerts_file.with_suffix(".tmp")
        partial.write_text(yaml.safe_dump(config, sort_keys=False))
        partial.replace(self.alerts_file)
        self.config = config

    def up(self) -> None:
        self.stack.up()
        self.stack.wait_jobs_running()

    def state(self) -> dict:
        return httpx.get(f"http://127.0.0.1:{self.stack.port('alerts')}/alerts", timeout=5).json()

    def firing(self, rule: str) -> list[dict]:
        return [a for a in self.state()["alerts"] if a["rule"] == rule and a["state"] == "firing"]

    def notices(self, rule: str, status: str, since: float = 0.0) -> list[tuple[float, dict]]:
        return [(at, body) for at, _, body in self.receiver.received if at >= since and body["rule"] == rule and body["status"] == status]

    def close(self) -> None:
        self.stack.close()
        self.receiver.close()


def steady_sender(stack: DrillStack) -> Sender:
    """About 200 events/s until stopped (stop: `sender.total = sender.sent`)."""
    return Sender(stack, total=10**9, batch=20, interval_s=0.1).start()


def stop(sender: Sender) -> None:
    sender.total = sender.sent
    sender.join()


def first_notice(alerts: AlertStack, rule: str, since: float, timeout_s: float) -> float:
    wait_until(lambda: alerts.notices(rule, "firing", since), timeout_s, f"the {rule} notification")
    return alerts.notices(rule, "firing", since)[0][0]


# -- the drills -----------------------------------------------------------------------------------------------
def kill_while_sending(alerts: AlertStack, component: str, rule: str, more_rounds_s: float) -> tuple[float, float]:
    """kill -9 of `component` while events flow; waits for the rule's notification, then `more_rounds_s` of further
    evaluations (which must not notify again). Returns when the fault was injected and when it was notified."""
    sender = steady_sender(alerts.stack)
    try:
        wait_until(lambda: sender.sent > 400, 60, "events flowing")
        fault = time.time()
        alerts.stack.kill(component)
        notified = first_notice(alerts, rule, fault, 120)
        time.sleep(more_rounds_s)
    finally:
        stop(sender)
    return fault, notified


def resolved_after(alerts: AlertStack, rule: str, recovered: float, timeout_s: float) -> float:
    wait_until(lambda: alerts.notices(rule, "resolved", recovered), timeout_s, f"{rule} to resolve")
    return alerts.notices(rule, "resolved", recovered)[0][0] - recovered


def broker_stopped(alerts: AlertStack) -> Timing:
    """kill -9 of the broker while events flow: the collector spools; collector_spooling (P1, for 30s) fires once;
    `trackflow up` brings the broker back, the collector replays and delivers again, the alert resolves once."""
    fault, notified = kill_while_sending(alerts, "broker", "collector_spooling", more_rounds_s=6)
    recovered = time.time()
    alerts.stack.up()
    resolved = resolved_after(alerts, "collector_spooling", recovered, 120)
    return Timing("broker stopped", "collector_spooling", notified - fault, len(alerts.notices("collector_spooling", "firing", fault)), resolved)


def job_stopped(alerts: AlertStack) -> Timing:
    """kill -9 of the streaming jobs while events flow: consumer_lag_high (P1, for 30s) fires once per group that
    falls behind; `trackflow up --with-jobs` restores them from the checkpoint and the lag drains (resolved)."""
    wait_until(lambda: not alerts.firing("consumer_lag_high"), 180, "no lag alert before the drill")
    fault, notified = kill_while_sending(alerts, "jobs", "consumer_lag_high", more_rounds_s=10)
    per_group: dict[str, int] = {}
    for _, body in alerts.notices("consumer_lag_high", "firing", fault):
        per_group[body["labels"]["group"]] = per_group.get(body["labels"]["group"], 0) + 1
    recovered = time.time()
    alerts.stack.up()
    alerts.stack.wait_jobs_running()
    resolved = resolved_after(alerts, "consumer_lag_high", recovered, 180)
    return Timing("streaming job stopped", "consumer_lag_high", notified - fault, max(per_group.values()), resolved)


def detail_rows_dropped(alerts: AlertStack, dropped: int = 25) -> tuple[Timing, str]:
    """Events sent and reconciled (all stages agree), then `dropped` rows of the run deleted from dwd_default: the
    next reconciliation of their window names the warehouse stage; reconciliation_mismatch (P1) is notified."""
    from dagster import materialize

    from dagster_project.monitoring import RECENT_WINDOW, reconciliation_recent
    from dagster_project.resources import WarehouseResource
    from pipelines.monitoring import reconcile
    from pipelines.warehouse.client import Warehouse

    stack = alerts.stack
    sender = Sender(stack, total=1000, batch=50, interval_s=0.02).start()
    sender.join()
    wait_until(lambda: len(stored(stack, sender.run)[0]) >= len(sender.acknowledged), 120, "the events in the warehouse")
    warehouse = Warehouse(stack.settings)
    try:
        first = warehouse.scalar("SELECT min(received_at) FROM events WHERE props['demo_run'] = {run:String}", {"run": sender.run})
        first = first.replace(tzinfo=dt.timezone.utc)
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        start = epoch + ((first - epoch) // RECENT_WINDOW) * RECENT_WINDOW
        end = start + RECENT_WINDOW

        def agree() -> bool:  # every stage's counts of the window have landed
            return reconcile.first_mismatch(reconcile.compare(*reconcile.gather(warehouse, start, end))) is None

        wait_until(agree, 90, "the stages of the window to agree")
        warehouse.command(
            "DELETE FROM dwd_default WHERE event_id IN (SELECT event_id FROM dwd_default WHERE props['demo_run'] = {run:String} "
            "AND received_at >= {start:DateTime64(3, 'UTC')} AND received_at < {end:DateTime64(3, 'UTC')} ORDER BY event_id LIMIT {n:UInt32})",
            {"run": sender.run, "start": start, "end": end, "n": dropped},
        )
    finally:
        warehouse.close()
    fault = time.time()
    with settings_of(stack):
        result = materialize(
            [reconciliation_recent],
            resources={"warehouse": WarehouseResource()},
            run_config={"ops": {"reconciliation_recent": {"config": {"end": end.isoformat()}}}},
        )
    (check,) = result.get_asset_check_evaluations()
    notified = first_notice(alerts, "reconciliation_mismatch", fault, 60)
    return Timing("detail rows dropped", "reconciliation_mismatch", notified - fault, len(alerts.notices("reconciliation_mismatch", "firing", fault))), (check.description or "")


@contextmanager
def settings_of(stack: DrillStack):
    """The process's settings (what Dagster's resources read) pointed at the drill stack while the block runs."""
    from pipelines.config import get_settings

    names = ("TRACKFLOW_DATA_DIR", "TRACKFLOW_WAREHOUSE_PORT", "TRACKFLOW_CONFIG", "TRACKFLOW_CLICKHOUSE_URL")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({name: stack.env[name] for name in names[:3]})
    os.environ.pop("TRACKFLOW_CLICKHOUSE_URL", None)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


def silenced(alerts: AlertStack) -> tuple[list[dict], list[str]]:
    """`trackflow alerts silence` on a rule, then the rule starts to hold (a canary that holds while the warehouse
    answers, added to alerts.yaml, which the component re-reads): it is recorded as silenced and nobody is notified;
    the same canary without a silence is notified. Returns the silenced rule's notices and its history states."""
    from pipelines.warehouse.client import Warehouse

    stack = alerts.stack
    canary = {"priority": "P3", "metric": "trackflow_warehouse_up", "op": "==", "threshold": 1, "for": "0s", "summary": "drill canary", "runbook": "alert-drill"}
    stack.cli("alerts", "silence", "--rule", "drill_silenced", "--for", "10m", "--reason", "fault drill", "--file", str(_with_rules(alerts, canary, write=False)))
    since = time.time()
    _with_rules(alerts, canary)
    wait_until(lambda: alerts.notices("drill_loud", "firing", since), 60, "the unsilenced canary's notification")
    time.sleep(4)  # two more rounds
    warehouse = Warehouse(stack.settings)
    try:
        states = [s for (s,) in warehouse.rows("SELECT state FROM alert_history WHERE rule = 'drill_silenced' ORDER BY at")]
    finally:
        warehouse.close()
    return [body for _, body in alerts.notices("drill_silenced", "firing", since)], states


def _with_rules(alerts: AlertStack, canary: dict, write: bool = True) -> Path:
    """alerts.yaml plus the two canaries (drill_silenced, drill_loud); written in place, or to a side file for the
    CLI to validate the silence's rule name against."""
    config = {**alerts.config, "rules": [r for r in alerts.config["rules"] if not r["name"].startswith("drill_")]}
    config["rules"] += [{"name": "drill_silenced", **canary}, {"name": "drill_loud", **canary}]
    if write:
        alerts.write_config(config)
        return alerts.alerts_file
    side = alerts.alerts_file.with_name("alerts-with-canaries.yaml")
    side.write_text(yaml.safe_dump(config, sort_keys=False))
    return side
