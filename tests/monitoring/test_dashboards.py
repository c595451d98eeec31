"""dashboards/: the Prometheus rules say what alerts.yaml says, the Grafana dashboard loads and every panel reads
catalogued metrics, and the scrape config names the two services that expose them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from pipelines.monitoring.catalogue import METRICS, known
from pipelines.monitoring.export import DASHBOARD_FILE, RULES_FILE, dashboard_text, promql, rules_text
from pipelines.monitoring.rules import format_duration, load

ROOT = Path(__file__).resolve().parents[2]
METRIC = re.compile(r"\btrackflow_[a-z0-9_]+")


def test_the_prometheus_rules_are_alerts_yaml_rule_for_rule():
    config = load(ROOT / "alerts.yaml")
    committed = yaml.safe_load(RULES_FILE.read_text())
    rules = {rule["alert"]: rule for rule in committed["groups"][0]["rules"]}
    assert set(rules) == {rule.name for rule in config.rules}
    for rule in config.rules:
        shipped = rules[rule.name]
        assert shipped["expr"] == promql(rule)
        assert shipped["for"] == format_duration(rule.for_s)
        assert shipped["labels"]["priority"] == rule.priority
        assert shipped["annotations"]["runbook_url"].endswith(f"#{rule.runbook}")
    assert RULES_FILE.read_text() == rules_text(config), "regenerate: python -m pipelines.monitoring.export"


def test_promql_of_each_rule_shape():
    config = load(ROOT / "alerts.yaml")
    assert promql(config.rule("consumer_lag_high")) == "sum by (group) (trackflow_kafka_consumer_lag_messages) > 50000"
    assert promql(config.rule("collector_success_rate_low")) == "trackflow_collector_success_ratio < 0.95"
    assert promql(config.rule("warehouse_disk_low")) == "trackflow_warehouse_disk_free_bytes < 10737418240"


def test_the_grafana_dashboard_loads_and_every_panel_reads_catalogued_metrics():
    dashboard = json.loads(DASHBOARD_FILE.read_text())
    assert DASHBOARD_FILE.read_text() == dashboard_text(), "regenerate: python -m pipelines.monitoring.export"
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert panels and len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    read: set[str] = set()
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = METRIC.findall(target["expr"])
            assert names and all(known(name) for name in names), (panel["title"], target["expr"])
            read.update(name.removesuffix("_bucket") for name in names)
    # Every stage is on the board: each catalogued metric but the component's own bookkeeping has a panel.
    assert {name for name in METRICS if name not in read and not name.startswith("trackflow_alerts_sample_seconds")} == {
        "trackflow_alerts_evaluations_total", "trackflow_collector_journal_evicted_segments_total",
        "trackflow_collector_journal_replayed_records_total", "trackflow_collector_plan_version",
    }  # fmt: skip


def test_the_scrape_config_loads_the_rules_and_scrapes_both_exporters():
    config = yaml.safe_load((RULES_FILE.parent / "prometheus.yml").read_text())
    assert config["rule_files"] == [RULES_FILE.name]
    assert {job["job_name"] for job in config["scrape_configs"]} == {"trackflow-collector", "trackflow-oneid", "trackflow-alerts"}
    exporters = {metric.exposed_by for metric in METRICS.values()}
    assert exporters == {"collector", "oneid", "alerts"}


def test_every_rule_has_its_runbook_section_in_operations():
    headings = set(re.findall(r"^### (\S+)$", (ROOT / "docs" / "operations.md").read_text(), re.MULTILINE))
    config = load(ROOT / "alerts.yaml")
    assert {rule.name: rule.runbook for rule in config.rules if rule.runbook not in headings} == {}
