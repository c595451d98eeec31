"""Prometheus metrics of one collector process (text format at GET /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CollectorMetrics", "CONTENT_TYPE_LATEST"]


class CollectorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "trackflow_collector_requests", "HTTP requests by endpoint and status code", ["endpoint", "status"], registry=self.registry
        )
        self.events = Counter(
            "trackflow_collector_events",
            "Events by outcome: accepted (to events.raw), quarantined, rejected, spooled (accepted while Kafka was away)",
            ["app_id", "outcome"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "trackflow_collector_rejected_events",
            "Events rejected, by reason: envelope (not a valid event) or plan (refused by the tracking plan)",
            ["app_id", "reason"],
            registry=self.registry,
        )
        self.produce_latency = Histogram(
            "trackflow_collector_kafka_produce_seconds",
            "One direct delivery to Kafka: records sent -> all acknowledged (spooled deliveries not included)",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.ack_latency = Histogram(
            "trackflow_collector_ack_seconds",
            "Time from request received to Kafka acknowledgement (or spool fsync)",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.kafka_up = Gauge("trackflow_collector_kafka_up", "1 while delivering to Kafka directly, 0 while spooling", registry=self.registry)
        self.spool_bytes = Gauge("trackflow_collector_spool_bytes", "Bytes waiting in the spool for replay", registry=self.registry)
        self.spool_age = Gauge(
            "trackflow_collector_spool_age_seconds", "How long records have been waiting in the spool (0: empty)", registry=self.registry
        )
        self.journal_bytes = Gauge(
            "trackflow_collector_journal_bytes", "Bytes of acknowledged records kept in the journal for replay", registry=self.registry
        )
        self.journal_evicted = Counter(
            "trackflow_collector_journal_evicted_segments",
            "Journal segments dropped by the size cap while still inside the replay window (not replayable after a broker loss)",
            registry=self.registry,
        )
        self.journal_replayed = Counter(
            "trackflow_collector_journal_replayed_records",
            "Journaled records replayed into a broker that replaced the one which had acknowledged them",
            registry=self.registry,
        )
        self.plan_version = Gauge("trackflow_collector_plan_version", "Tracking plan version in force", ["app_id"], registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
