"""Every metric Trackflow exposes, in one naming scheme: `trackflow_<stage>_<what>_<unit>`.

The catalogue is what alerts.yaml, the Prometheus rules and the Grafana dashboard may name: a rule or a panel on a
metric that is not here is refused when the configuration loads (a typo would otherwise be an alert that never
fires). `tests/monitoring/test_catalogue.py` scrapes the running services and checks both ways: every metric they
expose follows the scheme and is catalogued, every catalogued metric of a running service is exposed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

STAGES = ("collector", "kafka", "job", "warehouse", "pipeline", "oneid", "push", "reconciliation", "cdp", "dagster", "alerts")
# The last word says what a value counts or measures; `up` is a 0/1 health gauge, `version` an identifier.
UNITS = ("total", "seconds", "bytes", "messages", "events", "rows", "parts", "ratio", "up", "version", "count")
NAME = re.compile(rf"^trackflow_({'|'.join(STAGES)})(_[a-z0-9_]+)?_({'|'.join(UNITS)})$")  # `what` may be left out of `up`
# A histogram's series carry these suffixes after the catalogued name.
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # counter | gauge | histogram
    labels: tuple[str, ...]
    exposed_by: str  # collector | oneid (`oneid serve`) | alerts (the monitoring component exports what a stage cannot expose itself)
    help: str


def _m(name: str, kind: str, labels: str, exposed_by: str, help: str) -> Metric:
    return Metric(name, kind, tuple(labels.split()), exposed_by, help)


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        # -- collector (its own /metrics) ------------------------------------------------------------------------
        _m("trackflow_collector_requests_total", "counter", "endpoint status", "collector", "HTTP requests by endpoint and status code"),
        _m("trackflow_collector_events_total", "counter", "app_id outcome", "collector", "Events by outcome: accepted, spooled, quarantined, rejected"),
        _m("trackflow_collector_rejected_events_total", "counter", "app_id reason", "collector", "Events rejected, by reason"),
        _m("trackflow_collector_ack_seconds", "histogram", "", "collector", "Request received -> Kafka acknowledgement (or spool fsync)"),
        _m("trackflow_collector_kafka_produce_seconds", "histogram", "", "collector", "One delivery to Kafka: send -> acknowledged"),
        _m("trackflow_collector_kafka_up", "gauge", "", "collector", "1 while delivering to Kafka directly, 0 while spooling"),
        _m("trackflow_collector_spool_bytes", "gauge", "", "collector", "Bytes waiting in the spool for replay"),
        _m("trackflow_collector_spool_age_seconds", "gauge", "", "collector", "Age of the oldest record waiting in the spool (0: empty)"),
        _m("trackflow_collector_journal_bytes", "gauge", "", "collector", "Bytes of acknowledged records kept for replay"),
        _m("trackflow_collector_journal_evicted_segments_total", "counter", "", "collector", "Journal segments dropped by the size cap"),
        _m("trackflow_collector_journal_replayed_records_total", "counter", "", "collector", "Journaled records replayed into a new broker"),
        _m("trackflow_collector_plan_version", "gauge", "app_id", "collector", "Tracking plan version in force"),
        # -- derived from the collectors' counters by the alerts component ----------------------------------------
        _m("trackflow_collector_up", "gauge", "instance", "alerts", "1 when the collector's /metrics answered the last scrape"),
        _m("trackflow_collector_success_ratio", "gauge", "", "alerts", "2xx / all requests over the last 5 minutes (1 when idle)"),
        _m("trackflow_collector_volume_ratio", "gauge", "app_id", "alerts", "Events accepted in the last hour / the same hour last week"),
        # -- broker and topics ------------------------------------------------------------------------------------
        _m("trackflow_kafka_up", "gauge", "", "alerts", "1 when the broker answers"),
        _m("trackflow_kafka_end_offset_messages", "gauge", "topic partition", "alerts", "Real end of each partition (read on past the reported end)"),
        _m("trackflow_kafka_end_offset_underreport_messages", "gauge", "topic partition", "alerts", "Real end minus the end ListOffsets reported"),
        _m("trackflow_kafka_consumer_lag_messages", "gauge", "group topic partition", "alerts", "Real end minus the group's committed offset"),
        # -- streaming jobs (Flink REST) --------------------------------------------------------------------------
        _m("trackflow_job_up", "gauge", "job", "alerts", "1 while the job is RUNNING"),
        _m("trackflow_job_checkpoint_age_seconds", "gauge", "job", "alerts", "Time since the last completed checkpoint"),
        _m("trackflow_job_checkpoint_duration_seconds", "gauge", "job", "alerts", "Duration of the last completed checkpoint"),
        _m("trackflow_job_checkpoints_failed_total", "counter", "job", "alerts", "Failed checkpoints since the job started"),
        _m("trackflow_job_restarts_total", "counter", "job", "alerts", "Restarts of the job since it was submitted"),
        _m("trackflow_job_backpressure_ratio", "gauge", "job", "alerts", "Largest share of time an operator was back-pressured"),
        _m("trackflow_job_dedup_dropped_events", "gauge", "job layer app_id", "alerts", "Events the job dropped as duplicates (the event index had their event_id), last closed minute"),
        # -- what the jobs counted (pipeline_metrics, the last closed minute) -------------------------------------
        _m("trackflow_pipeline_stage_events", "gauge", "stage app_id", "alerts", "Events each stage counted in the last closed minute"),
        _m("trackflow_pipeline_freshness_p50_seconds", "gauge", "layer", "alerts", "Collector acceptance -> queryable, median, last 5 minutes"),
        _m("trackflow_pipeline_freshness_p95_seconds", "gauge", "layer", "alerts", "Collector acceptance -> queryable, p95, last 5 minutes"),
        # -- warehouse ----------------------------------------------------------------------------------------------
        _m("trackflow_warehouse_up", "gauge", "", "alerts", "1 when the warehouse answers"),
        _m("trackflow_warehouse_query_seconds", "gauge", "", "alerts", "Latency of the monitoring probe query"),
        _m("trackflow_warehouse_inserted_rows_total", "counter", "", "alerts", "Rows inserted since the server started"),
        _m("trackflow_warehouse_failed_queries_total", "counter", "", "alerts", "Queries that failed since the server started"),
        _m("trackflow_warehouse_active_parts", "gauge", "table", "alerts", "Active data parts per table"),
        _m("trackflow_warehouse_merges_running_count", "gauge", "", "alerts", "Merges in progress"),
        _m("trackflow_warehouse_disk_free_bytes", "gauge", "disk", "alerts", "Free space per disk (volume)"),
        _m("trackflow_warehouse_disk_total_bytes", "gauge", "disk", "alerts", "Size of each disk (volume)"),
        # -- OneID ----------------------------------------------------------------------------------------------
        _m("trackflow_oneid_actions_events", "gauge", "action", "alerts", "OneID merge-log actions (new, merge, refuse) and splits, last closed minute"),
        _m("trackflow_oneid_links_count", "gauge", "", "alerts", "Links the OneID job wrote in the last closed minute (/ 60: links/s)"),
        _m("trackflow_oneid_lookups_total", "counter", "endpoint status", "oneid", "Lookups `oneid serve` answered, by endpoint and status"),
        _m("trackflow_oneid_lookup_seconds", "histogram", "endpoint", "oneid", "Time `oneid serve` took to answer a lookup"),
        _m("trackflow_oneid_up", "gauge", "", "alerts", "1 when `oneid serve` answered the last scrape"),
        _m("trackflow_oneid_lookup_p95_seconds", "gauge", "", "alerts", "Lookup latency p95 of `oneid serve` since the previous round"),
        # -- pushes ---------------------------------------------------------------------------------------------
        _m("trackflow_push_deadline_slack_seconds", "gauge", "push", "alerts", "Deadline minus predicted finish (negative: late)"),
        _m("trackflow_push_rows_done_rows", "gauge", "push", "alerts", "Rows the push's current run has written"),
        _m("trackflow_push_at_risk_count", "gauge", "push level", "alerts", "1 when the deadline forecast raises a level (P1-P3)"),
        # -- reconciliation ---------------------------------------------------------------------------------------
        _m("trackflow_reconciliation_mismatch_events", "gauge", "cadence stage app_id", "alerts", "Events missing (or doubled) at a stage, latest window"),
        _m("trackflow_reconciliation_age_seconds", "gauge", "cadence", "alerts", "Time since the end of the latest reconciled window"),
        # -- CDP syncs (cdp_sync_runs) -----------------------------------------------------------------------------
        _m("trackflow_cdp_sync_failed_count", "gauge", "source", "alerts", "1 when the CDP source's latest sync run failed"),
        _m("trackflow_cdp_sync_age_seconds", "gauge", "source", "alerts", "Time since the CDP source's latest successful sync ended"),
        # -- Dagster (its instance's run, schedule and asset storage) -----------------------------------------------
        _m("trackflow_dagster_up", "gauge", "", "alerts", "1 when the Dagster instance's storage could be read"),
        _m("trackflow_dagster_runs_count", "gauge", "job status", "alerts", "Runs created in the last 24 hours, by job and status"),
        _m("trackflow_dagster_job_last_success_age_seconds", "gauge", "job", "alerts", "Time since the job's latest successful run ended"),
        _m("trackflow_dagster_schedule_last_success_age_seconds", "gauge", "schedule", "alerts", "Time since the latest successful run of a running schedule ended"),
        _m("trackflow_dagster_schedule_failures_count", "gauge", "schedule", "alerts", "Failed runs of a running schedule since its latest success"),
        _m("trackflow_dagster_schedule_overdue_seconds", "gauge", "schedule", "alerts", "How long a success of a running schedule is overdue: time since its last success (or start) minus its cron interval"),
        _m("trackflow_dagster_asset_materialization_age_seconds", "gauge", "asset", "alerts", "Time since the asset's latest materialization"),
        # -- the alerts component itself --------------------------------------------------------------------------
        _m("trackflow_alerts_evaluations_total", "counter", "", "alerts", "Evaluation rounds"),
        _m("trackflow_alerts_sample_seconds", "gauge", "source", "alerts", "How long each source took to sample"),
        _m("trackflow_alerts_sample_errors_total", "counter", "source", "alerts", "Samples that failed, per source"),
        _m("trackflow_alerts_firing_count", "gauge", "rule priority", "alerts", "Alerts firing per rule"),
        _m("trackflow_alerts_notifications_total", "counter", "receiver outcome", "alerts", "Notifications sent (ok) or given up (failed)"),
    )
}


def known(name: str) -> bool:
    """A catalogued metric, or one of a catalogued histogram's series."""
    if name in METRICS:
        return True
    base = next((name[: -len(suffix)] for suffix in HISTOGRAM_SUFFIXES if name.endswith(suffix)), None)
    return base in METRICS and METRICS[base].kind == "histogram"
