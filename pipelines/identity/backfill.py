"""Identity links of events that reach the warehouse without Kafka (`trackflow warehouse load`, a backfill): they go
where the daily recompute reads every link from, `oneid_edges`, exactly as the real-time job writes them.

Why there and not onto Kafka for the OneID job: data flows one way (a file is loaded into the warehouse; the
recompute reads the warehouse and publishes on identity.changes), a load needs no broker, and the job keeps one
owner: the recompute decides history, the job decides what streams by. The next recompute (daily, or
`trackflow oneid recompute`) ties the backfill's ids into persons, publishes them, and the real-time job and the
lookup service follow from identity.changes.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from pipelines.identity import store
from pipelines.identity.links import links_of_events
from pipelines.identity.rules import Rules, load_rules
from pipelines.warehouse.client import Warehouse


@lru_cache(maxsize=4)
def _rules(path: Path) -> Rules:
    return load_rules(path)


def record_event_links(warehouse: Warehouse, events: Iterable[dict[str, Any]]) -> int:
    """Write the links of `events` (valid envelopes) to oneid_edges; returns the distinct links written. Idempotent
    for the recompute (first/last seen fold by min/max), so a re-load or a retry after a failure between the
    events and their links loses nothing. A rules file that cannot be read raises `RulesError` with its reason
    (the loader, pipelines/backfill.py, stops on it)."""
    rules = _rules(warehouse.settings.identity_rules)
    return store.write_links(warehouse, links_of_events(rules, events))
