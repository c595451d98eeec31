"""`trackflow alerts`: every mistake is one line naming it; silences and acknowledgements reach the history the
component reads (on the session's real warehouse)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import yaml
from typer.testing import CliRunner

from pipelines.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, ["alerts", *args])


def one_error_line(result, expected: str) -> None:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and expected in lines[-1], result.output
    assert "Traceback" not in result.output


def test_a_broken_alerts_file_is_named_with_its_rule_and_field(tmp_path):
    bad = tmp_path / "alerts.yaml"
    bad.write_text(yaml.safe_dump({"version": 1, "board_url": "b", "runbook_url": "r", "rules": [
        {"name": "x", "priority": "P9", "metric": "trackflow_kafka_up", "op": "==", "threshold": 0, "for": "1m", "summary": "s", "runbook": "r"}]}))  # fmt: skip
    result = invoke("test", "--file", str(bad))
    assert result.exit_code == 1 and "rules[0] (x).priority: priority 'P9' is not one of P1, P2, P3" in result.output


@pytest.mark.parametrize(
    "args, expected",
    [
        (["silence", "--rule", "nope", "--for", "1h", "--reason", "r"], "unknown rule 'nope'"),
        (["silence", "--for", "1h", "--reason", "r"], "a silence needs --rule or at least one --label"),
        (["silence", "--rule", "job_down", "--for", "soon", "--reason", "r"], "--for: duration 'soon' is not like 30s"),
        (["silence", "--label", "job", "--for", "1h", "--reason", "r"], "--label 'job' is not NAME=VALUE"),
        (["test", "--receiver", "pager"], "unknown receiver 'pager'"),
        (["test", "--rule", "nope"], "unknown rule 'nope'"),
    ],
)
def test_mistakes_are_one_line(stack, args, expected):
    one_error_line(invoke(*args), expected)


def test_a_silence_is_listed_and_an_open_alert_can_be_acknowledged(stack, warehouse):
    reason = f"upgrade {uuid.uuid4().hex[:6]}"
    made = invoke("silence", "--rule", "job_down", "--label", "job=trackflow-all", "--for", "30m", "--reason", reason)
    assert made.exit_code == 0 and made.output.startswith("silence "), made.output
    listed = runner.invoke(app, ["alerts", "list"], env={"COLUMNS": "250"})
    assert listed.exit_code == 0 and reason in listed.output

    one_error_line(invoke("ack", "no_such_rule"), "no open alert is named or fingerprinted 'no_such_rule'")
    # An alert the component recorded as firing (written as it writes them), then acknowledged by name.
    from pipelines.monitoring import store
    from pipelines.monitoring.engine import Alert, Transition

    rule = f"drill_{uuid.uuid4().hex[:6]}"
    alert = Alert(rule, "P2", (("app_id", "a"),), "firing", dt.datetime.now(dt.timezone.utc).timestamp() - 5, 3.0, notified=True)
    store.record_transitions(warehouse, [Transition(alert, "firing", alert.since, notify=True)])
    acked = invoke("ack", rule, "--note", "on it")
    assert acked.exit_code == 0 and f"acknowledged {alert.fingerprint} {rule}" in acked.output
    assert store.acknowledgements(warehouse)[alert.fingerprint] >= alert.since
    (restored,) = [a for a in store.open_alerts(warehouse) if a.rule == rule]
    assert restored.acknowledged and restored.notified


def test_test_sends_to_each_receiver_and_says_which_failed(tmp_path):
    from tests.monitoring.receiver import WebhookReceiver

    good, bad = WebhookReceiver(), WebhookReceiver(default=(200, '{"errcode": 93000, "errmsg": "invalid webhook url"}'))
    try:
        path = tmp_path / "alerts.yaml"
        config = yaml.safe_load(open("alerts.yaml").read())
        config["receivers"] = [{"name": "hook", "format": "generic", "url": good.url}, {"name": "wecom", "format": "wecom", "url": bad.url}]
        path.write_text(yaml.safe_dump(config))
        result = invoke("test", "--file", str(path))
        assert result.exit_code == 1 and "hook: sent" in result.output and "wecom: receiver wecom: code 93000" in result.output
        assert good.bodies()[0]["status"] == "test" and good.bodies()[0]["rule"] == config["rules"][0]["name"]
    finally:
        good.close()
        bad.close()
