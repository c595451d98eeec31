"""alerts.yaml loads, and every kind of mistake is refused with a message naming the rule and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from pipelines.monitoring.rules import AlertsConfigError, format_duration, load, parse_duration

ROOT = Path(__file__).resolve().parents[2]
GOOD_RULE = {
    "name": "lag", "priority": "P1", "metric": "trackflow_kafka_consumer_lag_messages", "op": ">", "threshold": 10,
    "for": "30s", "summary": "behind", "runbook": "alert-lag",
}  # fmt: skip


def write(tmp_path: Path, rules=None, receivers=None, **top) -> Path:
    document = {"version": 1, "board_url": "http://board", "runbook_url": "http://docs/operations.md", "rules": rules or [GOOD_RULE], **top}
    if receivers is not None:
        document["receivers"] = receivers
    path = tmp_path / "alerts.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_the_repositorys_alerts_file_loads_and_has_every_priority():
    config = load(ROOT / "alerts.yaml")
    assert {rule.priority for rule in config.rules} == {"P1", "P2", "P3"}
    assert config.rule("consumer_lag_high").aggregate == "sum" and config.rule("consumer_lag_high").for_s == 30


@pytest.mark.parametrize(
    "change, message",
    [
        ({"metric": "trackflow_kafka_consumer_lagg_messages"}, "rules[0] (lag).metric: unknown metric 'trackflow_kafka_consumer_lagg_messages'"),
        ({"for": "5 minutes"}, "rules[0] (lag).for: duration '5 minutes' is not like 30s"),
        ({"for": "-5s"}, "rules[0] (lag).for: duration '-5s' is not like 30s"),
        ({"priority": "P0"}, "rules[0] (lag).priority: priority 'P0' is not one of P1, P2, P3"),
        ({"priority": "high"}, "priority 'high' is not one of P1, P2, P3"),
        ({"match": {"job": "x"}}, "metric trackflow_kafka_consumer_lag_messages has no label 'job'"),
        ({"by": ["group"]}, "`by` needs an `aggregate`"),
        ({"op": "=>"}, "rules[0] (lag).op"),
        ({"name": "Lag Rule"}, "must be lower_snake_case"),
        ({"colour": "red"}, "rules[0] (lag).colour: Extra inputs are not permitted"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_rule_and_field(tmp_path, change, message):
    with pytest.raises(AlertsConfigError) as refused:
        load(write(tmp_path, [{**GOOD_RULE, **change}]))
    assert message in str(refused.value)
    assert str(tmp_path / "alerts.yaml") in str(refused.value)


def test_every_problem_is_listed_not_only_the_first(tmp_path):
    rules = [{**GOOD_RULE, "for": "soon"}, {**GOOD_RULE, "name": "other", "metric": "trackflow_nope_total"}]
    with pytest.raises(AlertsConfigError) as refused:
        load(write(tmp_path, rules))
    assert "rules[0] (lag).for" in str(refused.value) and "rules[1] (other).metric" in str(refused.value)


@pytest.mark.parametrize(
    "receivers, message",
    [
        ([{"name": "a", "format": "teams", "url": "http://x"}], "format 'teams' is not one of generic, wecom, dingtalk, feishu, slack"),
        ([{"name": "a", "format": "slack"}], "give exactly one of `url` and `url_env`"),
        ([{"name": "a", "format": "slack", "url": "http://x"}, {"name": "a", "format": "generic", "url": "http://y"}], "receiver names used twice: a"),
    ],
)
def test_a_bad_receiver_is_refused(tmp_path, receivers, message):
    with pytest.raises(AlertsConfigError, match=message.replace("`", ".").replace("(", r"\(")):
        load(write(tmp_path, receivers=receivers))


def test_a_file_that_is_not_yaml_or_missing_is_one_clear_line(tmp_path):
    bad = tmp_path / "alerts.yaml"
    bad.write_text("rules: [unclosed")
    with pytest.raises(AlertsConfigError, match="not valid YAML"):
        load(bad)
    with pytest.raises(AlertsConfigError, match="cannot read it"):
        load(tmp_path / "absent.yaml")


@given(st.integers(min_value=0, max_value=10 * 86400))
def test_durations_read_back_what_they_print(seconds):
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("5m", 300), ("1h30m", 5400), ("2h", 7200), (45, 45), ("0s", 0)])
def test_duration_spellings(text, seconds):
    assert parse_duration(text) == seconds
