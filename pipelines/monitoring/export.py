"""dashboards/ for teams with their own monitoring, generated from alerts.yaml and the catalogue:

    python -m pipelines.monitoring.export      # rewrites dashboards/prometheus/alerts.rules.yml and dashboards/grafana/trackflow.json

- Prometheus alerting rules equivalent to alerts.yaml: the same metric, matchers, aggregation, comparison, `for`
  and priority (as a `priority` label, with the usual `severity`); tests/monitoring/test_dashboards.py fails when
  the committed file and alerts.yaml part.
- A Grafana dashboard of every stage (one row per stage); the same test checks each panel's metrics are catalogued.
The scrape config (dashboards/prometheus/prometheus.yml) is written by hand: targets are a deployment's own.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from pipelines.monitoring.rules import AlertsConfig, Rule, format_duration, load

ROOT = Path(__file__).resolve().parents[2]
RULES_FILE = ROOT / "dashboards" / "prometheus" / "alerts.rules.yml"
DASHBOARD_FILE = ROOT / "dashboards" / "grafana" / "trackflow.json"
SEVERITY = {"P1": "critical", "P2": "warning", "P3": "info"}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def promql(rule: Rule) -> str:
    """The rule's condition in PromQL: `metric{k="v"} > 5`, or `sum by (group) (metric) > 5` when aggregated."""
    matchers = ",".join(f'{key}="{value}"' for key, value in sorted(rule.match.items()))
    selector = f"{rule.metric}{{{matchers}}}" if matchers else rule.metric
    if rule.aggregate:
        selector = f"{rule.aggregate} by ({', '.join(rule.by)}) ({selector})"
    return f"{selector} {rule.op} {_number(rule.threshold)}"


def prometheus_rules(config: AlertsConfig) -> dict:
    return {
        "groups": [
            {
                "name": "trackflow",
                "rules": [
                    {
                        "alert": rule.name,
                        "expr": promql(rule),
                        "for": format_duration(rule.for_s),
                        "labels": {"priority": rule.priority, "severity": SEVERITY[rule.priority], **rule.labels},
                        "annotations": {"summary": rule.summary, "runbook_url": config.runbook_link(rule), "dashboard": config.board_url},
                    }
                    for rule in config.rules
                ],
            }
        ]
    }


def rules_text(config: AlertsConfig) -> str:
    header = "# Generated from alerts.yaml by `python -m pipelines.monitoring.export`: edit alerts.yaml, not this file.\n"
    return header + yaml.safe_dump(prometheus_rules(config), sort_keys=False, allow_unicode=True, width=200)


# (row, [(title, unit, [(expr, legend)])]): every stage's rate, lag and health.
PANELS: list[tuple[str, list[tuple[str, str, list[tuple[str, str]]]]]] = [
    ("Collector", [
        ("Requests/s by status", "reqps", [("sum by (status) (rate(trackflow_collector_requests_total[5m]))", "{{status}}")]),
        ("Events/s by outcome", "short", [("sum by (outcome) (rate(trackflow_collector_events_total[5m]))", "{{outcome}}")]),
        ("Rejected events/s by reason", "short", [("sum by (reason) (rate(trackflow_collector_rejected_events_total[5m]))", "{{reason}}")]),
        ("Success ratio (5 min)", "percentunit", [("trackflow_collector_success_ratio", "success")]),
        ("Ack and produce latency p95", "s", [
            ("histogram_quantile(0.95, sum by (le) (rate(trackflow_collector_ack_seconds_bucket[5m])))", "ack p95"),
            ("histogram_quantile(0.95, sum by (le) (rate(trackflow_collector_kafka_produce_seconds_bucket[5m])))", "produce p95"),
        ]),
        ("Spool", "bytes", [("trackflow_collector_spool_bytes", "bytes"), ("trackflow_collector_journal_bytes", "journal bytes")]),
        ("Spool age and Kafka up", "s", [("trackflow_collector_spool_age_seconds", "oldest waiting"), ("trackflow_collector_kafka_up", "kafka up")]),
    ]),
    ("Kafka", [
        ("Consumer lag by group (messages)", "short", [("sum by (group) (trackflow_kafka_consumer_lag_messages)", "{{group}}")]),
        ("Messages in/s by topic", "short", [("sum by (topic) (rate(trackflow_kafka_end_offset_messages[5m]))", "{{topic}}")]),
        ("End offsets the broker under-reports", "short", [("sum by (topic) (trackflow_kafka_end_offset_underreport_messages)", "{{topic}}")]),
    ]),
    ("Streaming jobs", [
        ("Running", "short", [("trackflow_job_up", "{{job}}")]),
        ("Checkpoint age", "s", [("trackflow_job_checkpoint_age_seconds", "{{job}}")]),
        ("Checkpoint duration", "s", [("trackflow_job_checkpoint_duration_seconds", "{{job}}")]),
        ("Restarts and failed checkpoints (1 h)", "short", [
            ("increase(trackflow_job_restarts_total[1h])", "restarts {{job}}"),
            ("increase(trackflow_job_checkpoints_failed_total[1h])", "failed checkpoints {{job}}"),
        ]),
        ("Back-pressure", "percentunit", [("trackflow_job_backpressure_ratio", "{{job}}")]),
        ("Events per stage (last minute)", "short", [("sum by (stage) (trackflow_pipeline_stage_events)", "{{stage}}")]),
        ("Dropped as duplicates (last minute)", "short", [("sum by (job, layer) (trackflow_job_dedup_dropped_events)", "{{job}} {{layer}}")]),
    ]),
    ("Freshness and reconciliation", [
        ("Collector -> queryable p50 / p95", "s", [
            ("trackflow_pipeline_freshness_p50_seconds", "p50 {{layer}}"),
            ("trackflow_pipeline_freshness_p95_seconds", "p95 {{layer}}"),
        ]),
        ("Reconciliation mismatches (events)", "short", [("trackflow_reconciliation_mismatch_events", "{{cadence}} {{stage}} {{app_id}}")]),
        ("Age of the latest reconciled window", "s", [("trackflow_reconciliation_age_seconds", "{{cadence}}")]),
        ("Volume against the same hour last week", "percentunit", [("trackflow_collector_volume_ratio", "{{app_id}}")]),
    ]),
    ("Warehouse", [
        ("Rows inserted/s", "short", [("rate(trackflow_warehouse_inserted_rows_total[5m])", "rows/s")]),
        ("Active parts by table", "short", [("trackflow_warehouse_active_parts", "{{table}}")]),
        ("Merges running", "short", [("trackflow_warehouse_merges_running_count", "merges")]),
        ("Failed queries/s and probe latency", "short", [
            ("rate(trackflow_warehouse_failed_queries_total[5m])", "failed/s"),
            ("trackflow_warehouse_query_seconds", "probe s"),
        ]),
        ("Disk free", "bytes", [("trackflow_warehouse_disk_free_bytes", "free {{disk}}"), ("trackflow_warehouse_disk_total_bytes", "size {{disk}}")]),
    ]),
    ("OneID and pushes", [
        ("OneID links/s and actions per minute", "short", [
            ("trackflow_oneid_links_count / 60", "links/s"), ("trackflow_oneid_actions_events", "{{action}}"),
        ]),
        ("OneID lookup latency", "s", [
            ("histogram_quantile(0.95, sum by (le, endpoint) (rate(trackflow_oneid_lookup_seconds_bucket[5m])))", "p95 {{endpoint}}"),
            ("trackflow_oneid_lookup_p95_seconds", "p95 (alerts component)"),
        ]),
        ("OneID lookups/s by status", "reqps", [("sum by (endpoint, status) (rate(trackflow_oneid_lookups_total[5m]))", "{{endpoint}} {{status}}")]),
        ("Push deadline slack", "s", [("trackflow_push_deadline_slack_seconds", "{{push}}")]),
        ("Push rows done", "short", [("trackflow_push_rows_done_rows", "{{push}}")]),
        ("Pushes at risk", "short", [("trackflow_push_at_risk_count", "{{push}} {{level}}")]),
        ("CDP syncs failed (latest run)", "short", [("trackflow_cdp_sync_failed_count", "{{source}}")]),
        ("CDP last successful sync age", "s", [("trackflow_cdp_sync_age_seconds", "{{source}}")]),
    ]),
    ("Dagster", [
        ("Runs by status (24 h)", "short", [("sum by (status) (trackflow_dagster_runs_count)", "{{status}}")]),
        ("Schedules overdue", "s", [("trackflow_dagster_schedule_overdue_seconds", "{{schedule}}")]),
        ("Schedule failures since last success", "short", [("trackflow_dagster_schedule_failures_count", "{{schedule}}")]),
        ("Last success age", "s", [
            ("trackflow_dagster_schedule_last_success_age_seconds", "schedule {{schedule}}"),
            ("trackflow_dagster_job_last_success_age_seconds", "job {{job}}"),
        ]),
        ("Asset materialization age", "s", [("trackflow_dagster_asset_materialization_age_seconds", "{{asset}}")]),
    ]),
    ("Alerts", [
        ("Firing by rule", "short", [("trackflow_alerts_firing_count", "{{priority}} {{rule}}")]),
        ("Notifications by outcome (1 h)", "short", [("sum by (receiver, outcome) (increase(trackflow_alerts_notifications_total[1h]))", "{{receiver}} {{outcome}}")]),
        ("Sample errors by source (1 h)", "short", [("sum by (source) (increase(trackflow_alerts_sample_errors_total[1h]))", "{{source}}")]),
        ("Up", "short", [
            ("trackflow_collector_up", "collector {{instance}}"), ("trackflow_kafka_up", "kafka"), ("trackflow_warehouse_up", "warehouse"),
            ("trackflow_oneid_up", "oneid serve"), ("trackflow_dagster_up", "dagster"),
        ]),
    ]),
]  # fmt: skip


def grafana_dashboard() -> dict:
    datasource = {"type": "prometheus", "uid": "${datasource}"}
    panels: list[dict] = []
    y = 0
    for row_title, row_panels in PANELS:
        panels.append({"type": "row", "title": row_title, "collapsed": False, "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "id": len(panels) + 1, "panels": []})
        y += 1
        for index, (title, unit, targets) in enumerate(row_panels):
            panels.append(
                {
                    "type": "timeseries",
                    "title": title,
                    "id": len(panels) + 1,
                    "datasource": datasource,
                    "gridPos": {"h": 8, "w": 8, "x": (index % 3) * 8, "y": y + (index // 3) * 8},
                    "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                    "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}, "tooltip": {"mode": "multi", "sort": "none"}},
                    "targets": [{"refId": chr(65 + i), "datasource": datasource, "expr": expr, "legendFormat": legend} for i, (expr, legend) in enumerate(targets)],
                }
            )
        y += ((len(row_panels) + 2) // 3) * 8
    return {
        "title": "Trackflow pipeline",
        "uid": "trackflow-pipeline",
        "tags": ["trackflow"],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "utc",
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus", "current": {}, "hide": 0}]},
        "annotations": {"list": []},
        "panels": panels,
    }


def dashboard_text() -> str:
    return json.dumps(grafana_dashboard(), indent=2) + "\n"


def main() -> None:
    config = load(ROOT / "alerts.yaml")
    for path, text in ((RULES_FILE, rules_text(config)), (DASHBOARD_FILE, dashboard_text())):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
