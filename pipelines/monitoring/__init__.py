"""Pipeline monitoring, alerting and reconciliation (issue 21): one naming scheme for every stage's metrics
(`catalogue`), samplers that read each stage the way an operator would check it (`sources`: the collector's
/metrics, consumer lag from committed offsets against the real end of each partition, the Flink REST API, the
warehouse's system tables, pipeline_metrics, the reconciliation history), alert rules from a versioned `alerts.yaml`
(`rules`), a pure state machine that evaluates them (`engine`: pending -> firing -> resolved, silences, acks, one
notification per state change), webhook formats (`notify`: generic JSON, WeCom, DingTalk, Feishu, Slack) and the
`alerts` stack component that runs it all (`service`), writing its history to the warehouse (`store`).
Reconciliation's arithmetic (accepted = Kafka = quarantined + warehouse, naming the stage that lost or doubled
events) is `reconcile`; the Dagster assets in dagster_project/monitoring.py run it. docs/monitoring.md.
"""
