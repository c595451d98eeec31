"""The offline run: recompute the graph from every link in the warehouse, reconcile with the real-time mapping,
publish the corrections (oneid_map rows + identity.changes messages so the lookup service and the real-time job
follow). Dagster's daily asset and `trackflow oneid recompute` both call `run_daily`."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Callable

from pipelines.config import Settings
from pipelines.identity import store
from pipelines.identity.offline import recompute
from pipelines.identity.reconcile import differences, publish_messages
from pipelines.identity.rules import Rules, load_rules
from pipelines.warehouse.client import Warehouse

SOURCE = "offline"


@dataclass
class DailyReport:
    day: dt.date
    stats: dict[str, int]
    reasons: dict[str, int]  # difference reason -> ids
    published: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    ttl_as_of: dt.datetime | None = None  # the moment TTLs were measured against: the end of `day`
    aged_out: int = 0  # ids dropped because they were not seen for their type's TTL by `ttl_as_of`


def run_daily(
    settings: Settings,
    warehouse: Warehouse,
    day: dt.date,
    send: Callable[[list[str]], None] | None = None,
    rules: Rules | None = None,
    report: Callable[[str], None] = lambda _: None,
) -> DailyReport:
    """Recompute with links first seen before the end of `day`; `send` puts messages on identity.changes."""
    started = time.perf_counter()
    rules = rules or load_rules(settings.identity_rules)
    until = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)
    edges = store.read_edges(warehouse, until)
    previous, previous_redirects = store.read_current_map(warehouse)
    blocks = store.read_blocks(warehouse)
    report(f"{len(edges):,} links, {len(previous):,} mapped ids, {len(blocks.nodes) + len(blocks.links)} blocks")
    prior = previous[["node", "oneid", "created_at", "anchor"]]
    result = recompute(rules, edges, prior, previous_redirects, blocks, now_ms=int(until.timestamp() * 1000))
    aged_out = result.rejected.get("ttl_expired", 0)
    report(f"TTL as of {until:%Y-%m-%d %H:%M} UTC (end of {day}): {aged_out:,} ids aged out")
    realtime = dict(zip(previous["node"], previous["oneid"]))
    diff = differences(realtime, result, result.dropped)
    store.write_reconcile(warehouse, day, diff)
    messages = publish_messages(result, realtime, previous_redirects, diff, SOURCE)
    decoded = store.decode(messages)
    map_rows, log_rows = store.write_messages(warehouse, decoded, rules.label)
    if send and messages:
        send(messages)
    reasons = diff["reason"].value_counts().to_dict() if len(diff) else {}
    return DailyReport(
        day, result.stats, {str(k): int(v) for k, v in reasons.items()},
        {"messages": len(messages), "map_rows": map_rows, "log_rows": log_rows}, time.perf_counter() - started,
        until, aged_out,
    )  # fmt: skip


def kafka_sender(settings: Settings) -> Callable[[list[str]], None]:
    """Messages keyed by OneID (one person's changes stay in order within a partition)."""
    import json

    from pipelines import messaging

    def send(messages: list[str]) -> None:
        producer = messaging.producer(settings)
        try:
            for message in messages:
                key = json.loads(message).get("oneid", "")
                producer.send(messaging.IDENTITY_CHANGES, key=key.encode(), value=message.encode())
            producer.flush()
        finally:
            producer.close()

    return send
