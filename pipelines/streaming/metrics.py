"""Per-minute pipeline counts and latency histograms for `pipeline_metrics`.

Latency is kept as a histogram (bucket upper bound in ms -> events) rather than as percentiles: histograms from
different flushes, instances and jobs add up exactly (`sumMap`), percentiles do not. The views in
sql/migrations/0040_pipeline_metrics.sql turn the summed histogram into p50/p95/p99.
"""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

# Upper bounds (ms) of the latency buckets: fine where the freshness goal is (seconds), coarse beyond.
LATENCY_BUCKETS_MS = (
    10, 25, 50, 100, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 4_000, 5_000, 7_500, 10_000, 15_000,
    20_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000, 86_400_000, 2**32 - 1,
)  # fmt: skip
WRITTEN_TOPIC = "metrics.dwd_written"  # the dwd job's per-insert summaries, read by the metrics job
DEDUP_STAGE_PREFIX = "dedup."  # pipeline_metrics stage of the events the dwd job dropped as duplicates, per layer
METRIC_COLUMNS = ("minute", "stage", "app_id", "event", "events", "latency_ms_hist", "job")


def latency_bucket(latency_ms: float) -> int:
    index = bisect.bisect_left(LATENCY_BUCKETS_MS, max(0, latency_ms))
    return LATENCY_BUCKETS_MS[min(index, len(LATENCY_BUCKETS_MS) - 1)]


def minute_of(epoch_ms: int) -> int:
    """Start of the minute, epoch seconds."""
    return int(epoch_ms // 60_000) * 60


def percentile(histogram: dict[int, int], quantile: float) -> int | None:
    """Upper bound of the bucket holding the `quantile` (0..1) of a histogram; None when empty."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = quantile * total
    running = 0
    for bound in sorted(histogram):
        running += histogram[bound]
        if running >= rank:
            return bound
    return max(histogram)


@dataclass
class MinuteCounts:
    """Counts per (minute, stage, app, event), with a latency histogram where the stage measures one."""

    counts: dict[tuple[int, str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    latency: dict[tuple[int, str, str, str], dict[int, int]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, stage: str, app_id: str, event: str, at_ms: int, events: int = 1, latency_ms: float | None = None):
        key = (minute_of(at_ms), stage, app_id, event)
        self.counts[key] += events
        if latency_ms is not None:
            bucket = latency_bucket(latency_ms)
            histogram = self.latency[key]
            histogram[bucket] = histogram.get(bucket, 0) + events

    def merge_summary(self, summary: dict[str, Any]) -> None:
        """Fold in one summary made by `summarise_written` (histogram keys arrive as JSON strings)."""
        key = (int(summary["minute"]), summary["stage"], summary["app_id"], summary["event"])
        self.counts[key] += int(summary["events"])
        histogram = self.latency[key]
        for bound, count in (summary.get("latency_ms_hist") or {}).items():
            histogram[int(bound)] = histogram.get(int(bound), 0) + int(count)

    def __len__(self) -> int:
        return len(self.counts)

    def rows(self, job: str) -> list[list[Any]]:
        """Values of METRIC_COLUMNS, one row per key (minute as a UTC datetime)."""
        import datetime as dt

        return [
            [
                dt.datetime.fromtimestamp(minute, tz=dt.timezone.utc),
                stage,
                app_id,
                event,
                count,
                dict(self.latency.get((minute, stage, app_id, event)) or {}),
                job,
            ]
            for (minute, stage, app_id, event), count in sorted(self.counts.items())
        ]


def summarise_written(layer: str, events: Iterable[dict[str, Any]], written_at_ms: int) -> list[str]:
    """JSON summaries of one dwd insert for the metrics job: counts per (received minute, app, event) and the
    received_at -> written latency (the freshness the pipeline delivers)."""
    return _summaries(f"dwd.{layer}", events, written_at_ms)


def summarise_dropped(layer: str, events: Iterable[dict[str, Any]]) -> list[str]:
    """JSON summaries of the events one dwd write dropped as duplicates (stage `dedup.<layer>`), by received minute:
    so a window reconciles raw copies = detail + dedup drops + quarantined, and monitoring shows the drops."""
    return _summaries(f"{DEDUP_STAGE_PREFIX}{layer}", events, None)


def _summaries(stage: str, events: Iterable[dict[str, Any]], written_at_ms: int | None) -> list[str]:
    counts = MinuteCounts()
    for event in events:
        received = int(event["received_at"])
        counts.add(stage, event["app_id"], event["event"], received, latency_ms=None if written_at_ms is None else written_at_ms - received)
    return [
        json.dumps(
            {
                "minute": minute,
                "stage": stage,
                "app_id": app_id,
                "event": name,
                "events": count,
                "latency_ms_hist": counts.latency.get((minute, stage, app_id, name)) or {},
            }
        )
        for (minute, stage, app_id, name), count in counts.counts.items()
    ]
