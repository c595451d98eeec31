"""OneID's own measurements (issue 21, docs/monitoring.md): the links the job writes, counted into pipeline_metrics
per minute of writing (the alerts component reads the last closed minute as `trackflow_oneid_links_count`, and its
history keeps it for the board), and the lookups of `oneid serve` (a latency histogram and a counter on its /metrics)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram

LINKS_STAGE = "oneid.links"
JOB = "oneid"
# Lookups answer from memory in tens of microseconds; the upper buckets catch a pause (a collection, a busy core).
LOOKUP_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


def record_links(warehouse, links: int, now_ms: int | None = None) -> None:
    """One pipeline_metrics row: `links` written by this flush, in the minute it was written (rows of a minute add up)."""
    from pipelines.streaming.metrics import METRIC_COLUMNS, MinuteCounts

    if links:
        counts = MinuteCounts()
        counts.add(LINKS_STAGE, "", "", int(time.time() * 1000) if now_ms is None else now_ms, events=links)
        warehouse.insert("pipeline_metrics", counts.rows(job=JOB), METRIC_COLUMNS, settings={"async_insert": 0})


class LookupMetrics:
    """`oneid serve`'s Prometheus registry: lookups by endpoint and status, and how long each took to answer."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.lookups = Counter("trackflow_oneid_lookups", "Lookups `oneid serve` answered, by endpoint and status", ["endpoint", "status"], registry=self.registry)
        self.seconds = Histogram("trackflow_oneid_lookup_seconds", "Time `oneid serve` took to answer a lookup", ["endpoint"], buckets=LOOKUP_BUCKETS_S, registry=self.registry)
        # Children resolved once: labels() is a dictionary lookup under a lock, too slow for the hot path.
        self._children: dict[tuple[str, int], tuple] = {}

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        child = self._children.get((endpoint, status))
        if child is None:
            child = self._children[(endpoint, status)] = (self.lookups.labels(endpoint, str(status)), self.seconds.labels(endpoint))
        child[0].inc()
        child[1].observe(seconds)
