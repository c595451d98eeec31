"""Per-minute counts of the events the collector accepted (stage `collected`), sent to Kafka for jobs/metrics.

They are the first stage of reconciliation (对账): collected = raw (Kafka) = detail + quarantined = warehouse rows,
per received_at minute. They travel as the dwd job's insert summaries do: JSON summaries on a topic
(`metrics.collected`) that jobs/metrics adds into `pipeline_metrics`, so the collector's only output is Kafka. Counts
live in memory between flushes (every `collector_metrics_flush_s`) and go through the collector's sink like events
(spooled while Kafka is away); a collector that crashes loses at most one interval of counts, never events, and
reconciliation then reports the gap.
"""

from __future__ import annotations

import json
from collections import Counter

STAGE = "collected"


class CollectedCounts:
    def __init__(self):
        self._counts: Counter[tuple[int, str, str]] = Counter()

    def add(self, received_at_ms: int, app_id: str, events: list[str]) -> None:
        minute = received_at_ms // 60_000 * 60
        for event in events:
            self._counts[(minute, app_id, event)] += 1

    def drain(self) -> list[dict]:
        """The summaries to send (the shape of pipelines.streaming.metrics.summarise_written: minute in epoch
        seconds), and an empty counter: each flush sends deltas that the metrics job sums."""
        counts, self._counts = self._counts, Counter()
        return [
            {"minute": minute, "stage": STAGE, "app_id": app_id, "event": event, "events": n, "latency_ms_hist": {}}
            for (minute, app_id, event), n in sorted(counts.items())
        ]

    def restore(self, summaries: list[dict]) -> None:
        """Put back summaries a failed flush could not send, so the next flush carries them."""
        for summary in summaries:
            self._counts[(summary["minute"], summary["app_id"], summary["event"])] += summary["events"]


def summary_message(summary: dict) -> bytes:
    return json.dumps(summary, separators=(",", ":")).encode()
