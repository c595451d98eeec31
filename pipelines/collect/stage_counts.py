"""Per-minute counts of the events the collector accepted, written to `pipeline_metrics` as stage `collected`.

They are the first stage of reconciliation (对账): collected = raw (Kafka) = detail + quarantined = warehouse rows,
per received_at minute. Counts live in memory between flushes (every `collector_metrics_flush_s`); a collector that
crashes loses at most one interval of counts, never events, and reconciliation then reports the gap.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

COLUMNS = ("minute", "stage", "app_id", "event", "events", "latency_ms_hist", "job")
STAGE = "collected"


class CollectedCounts:
    def __init__(self, collector_id: str):
        self.collector_id = collector_id
        self._counts: Counter[tuple[int, str, str]] = Counter()

    def add(self, received_at_ms: int, app_id: str, events: list[str]) -> None:
        minute = received_at_ms // 60_000
        for event in events:
            self._counts[(minute, app_id, event)] += 1

    def drain(self) -> list[list]:
        """The rows to write, and an empty counter: each flush writes deltas that readers sum."""
        counts, self._counts = self._counts, Counter()
        return [
            [dt.datetime.fromtimestamp(minute * 60, dt.timezone.utc), STAGE, app_id, event, n, {}, self.collector_id]
            for (minute, app_id, event), n in sorted(counts.items())
        ]

    def restore(self, rows: list[list]) -> None:
        """Put back rows a failed flush could not write, so the next flush carries them."""
        for minute, _, app_id, event, n, _, _ in rows:
            self._counts[(int(minute.timestamp()) // 60, app_id, event)] += n
