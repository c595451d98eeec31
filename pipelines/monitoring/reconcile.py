"""Reconciliation (对账) of one window: accepted = Kafka = quarantined + detail = warehouse rows, per app and layer,
and the first link of the chain where the counts part, named.

The chain, by received_at (every stage counts an event in the minute the collector received it, pipeline_metrics):
  kafka      the collector's accepted count (`collected`)          = `raw`, what the layering job read from Kafka
  streaming  `raw`                                                  = detail rows the dwd job wrote (`dwd.*`) + the copies
             it dropped as duplicates (`dedup.*`: a re-send is a second record on Kafka) + `quarantined`
             (when it fails, `layering` or `dwd` is named: the layering job's output `ods.*` tells which side lost them)
  warehouse  `dwd.<layer>`, what the dwd job says it inserted      = rows of `dwd_<layer>` in the warehouse
A stage without counts (a collector that flushes none, a layer with no traffic) is left out, not failed; but raw
events with nothing counted after them (no detail, no quarantine) in a closed window are missing in streaming.
Fewer observed than expected: events went missing at that stage; more: they were duplicated there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pipelines.streaming.metrics import DEDUP_STAGE_PREFIX

STAGE_COUNTS_SQL = """
SELECT stage, app_id, sum(events) FROM pipeline_metrics
WHERE minute >= {start:DateTime('UTC')} AND minute < {end:DateTime('UTC')}
GROUP BY stage, app_id
"""
WAREHOUSE_ROWS_SQL = """
SELECT _table, app_id, count() FROM events
WHERE received_at >= {start:DateTime64(3, 'UTC')} AND received_at < {end:DateTime64(3, 'UTC')}
GROUP BY _table, app_id
"""
COLUMNS = ("window_start", "window_end", "cadence", "app_id", "layer", "stage", "expected", "observed", "difference", "verdict")


@dataclass(frozen=True)
class Link:
    app_id: str
    layer: str  # "" for the links before the layers split
    stage: str  # kafka | layering | dwd | warehouse | streaming
    expected: int
    observed: int

    @property
    def difference(self) -> int:
        return self.observed - self.expected

    @property
    def verdict(self) -> str:
        return "ok" if not self.difference else ("duplicated" if self.difference > 0 else "missing")

    def describe(self) -> str:
        where = f"{self.app_id}" + (f", layer {self.layer}" if self.layer else "")
        if self.verdict == "ok":
            return f"{self.stage} ({where}): {self.observed:,} agree"
        return f"{abs(self.difference):,} events {self.verdict} at the {self.stage} stage ({where}): expected {self.expected:,}, found {self.observed:,}"


def compare(stage_counts: dict[tuple[str, str], int], warehouse_rows: dict[tuple[str, str], int]) -> list[Link]:
    """stage_counts: (stage, app_id) -> events; warehouse_rows: (layer, app_id) -> rows. Every link, in chain order
    per app (ok ones too: the history shows what agreed)."""
    apps = sorted({app for _, app in stage_counts} | {app for _, app in warehouse_rows})
    links: list[Link] = []
    for app in apps:
        counts = {stage: n for (stage, a), n in stage_counts.items() if a == app}
        collected, raw = counts.get("collected"), counts.get("raw")
        quarantined = counts.get("quarantined", 0)
        detail = {stage[4:]: n for stage, n in counts.items() if stage.startswith("dwd.")}
        dropped = {stage[len(DEDUP_STAGE_PREFIX) :]: n for stage, n in counts.items() if stage.startswith(DEDUP_STAGE_PREFIX)}
        layered = {stage[4:]: n for stage, n in counts.items() if stage.startswith("ods.")}
        stored = {layer: n for (layer, a), n in warehouse_rows.items() if a == app}
        if collected is not None and raw is not None:
            links.append(Link(app, "", "kafka", collected, raw))
        if raw is not None:  # nothing downstream of raw is a loss too (a stopped dwd job), not a stage to skip
            through = sum(detail.values()) + sum(dropped.values()) + quarantined
            if through == raw or not layered:
                links.append(Link(app, "", "streaming", raw, through))
            else:  # locate it: the layering job's output against its input, then each layer's dwd output
                links.append(Link(app, "", "layering", raw, sum(layered.values()) + quarantined))
                for layer in sorted(set(layered) | set(detail) | set(dropped)):
                    links.append(Link(app, layer, "dwd", layered.get(layer, 0), detail.get(layer, 0) + dropped.get(layer, 0)))
        for layer in sorted(set(detail) | set(stored)):
            links.append(Link(app, layer, "warehouse", detail.get(layer, 0), stored.get(layer, 0)))
    return links


def first_mismatch(links: list[Link]) -> Link | None:
    """The earliest link of the chain that does not agree: where the events went missing or were doubled (a loss
    upstream shows again downstream, so the first one is the stage to look at)."""
    order = {"kafka": 0, "layering": 1, "streaming": 1, "dwd": 2, "warehouse": 3}
    wrong = [link for link in links if link.verdict != "ok"]
    return min(wrong, key=lambda link: order[link.stage]) if wrong else None


def gather(warehouse, start: dt.datetime, end: dt.datetime) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
    """The counts of one window from the warehouse: pipeline_metrics per stage and app, detail rows per layer and app."""
    window = {"start": start, "end": end}
    stages = {(stage, app): int(n) for stage, app, n in warehouse.rows(STAGE_COUNTS_SQL, window)}
    rows = {(table.removeprefix("dwd_"), app): int(n) for table, app, n in warehouse.rows(WAREHOUSE_ROWS_SQL, window)}
    return stages, rows


def history_rows(links: list[Link], start: dt.datetime, end: dt.datetime, cadence: str) -> list[list]:
    return [[start, end, cadence, l.app_id, l.layer, l.stage, l.expected, l.observed, l.difference, l.verdict] for l in links]
