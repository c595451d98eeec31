"""Warehouse reads and writes of OneID, all through `pipelines.warehouse.client.Warehouse`."""

from __future__ import annotations

import datetime as dt
import json
from typing import Iterable

import pandas as pd

from pipelines.identity.changes import EDGE_COLUMNS, LOG_COLUMNS, MAP_COLUMNS, log_row, map_rows, millis
from pipelines.identity.links import Link
from pipelines.identity.offline import Blocks
from pipelines.identity.rules import NODE_SEPARATOR
from pipelines.warehouse.client import Warehouse

SYNC = {"async_insert": 0}  # identity writes are read back by the next step: they must be visible on return

EDGES_SQL = """
SELECT strong, weak, toUnixTimestamp64Milli(min(first_seen)) AS first_ms, toUnixTimestamp64Milli(max(last_seen)) AS last_ms
FROM oneid_edges
WHERE first_seen < {until:DateTime64(3, 'UTC')}
GROUP BY strong, weak
"""  # aliases differ from the columns: ClickHouse would otherwise read the WHERE's first_seen as the aggregate
CURRENT_MAP_SQL = """
SELECT concat(id_type, ':', id_value) AS node, argMax(oneid, version) AS oneid, argMax(anchor, version) AS anchor,
       toUnixTimestamp64Milli(argMax(oneid_created_at, version)) AS created_at,
       toUnixTimestamp64Milli(argMax(oneid_map.first_seen, version)) AS first_ms,
       toUnixTimestamp64Milli(argMax(oneid_map.last_seen, version)) AS last_ms,
       max(oneid_map.version) AS newest
FROM oneid_map
GROUP BY id_type, id_value
HAVING argMax(deleted, version) = 0
"""
BLOCKS_SQL = "SELECT kind, strong, weak FROM oneid_blocks"
NEWEST_LINK_SQL = "SELECT toDate(max(last_seen), 'UTC'), count() FROM oneid_edges"


def write_links(warehouse: Warehouse, links: Iterable[Link]) -> int:
    """Fold observations into one row per distinct link, then one insert."""
    folded: dict[tuple[str, str], list[int]] = {}
    for ts, strong, weak in links:
        seen = folded.get((strong, weak))
        if seen is None:
            folded[(strong, weak)] = [ts, ts, 1]
        else:
            seen[0], seen[1], seen[2] = min(seen[0], ts), max(seen[1], ts), seen[2] + 1
    rows = [[s, w, millis(first), millis(last), n] for (s, w), (first, last, n) in folded.items()]
    if rows:
        warehouse.insert("oneid_edges", rows, EDGE_COLUMNS, settings=SYNC)
    return len(rows)


def write_messages(warehouse: Warehouse, messages: Iterable[dict], rules_label: str) -> tuple[int, int]:
    """identity.changes messages -> oneid_map rows and oneid_merge_log rows; returns (map rows, log rows)."""
    map_out, log_out = [], []
    for message in messages:
        if message["kind"] == "decision":
            log_out.append(log_row(message, rules_label))
        else:
            map_out.extend(map_rows(message, rules_label))
    if map_out:
        warehouse.insert("oneid_map", map_out, MAP_COLUMNS, settings=SYNC)
    if log_out:
        warehouse.insert("oneid_merge_log", log_out, LOG_COLUMNS, settings=SYNC)
    return len(map_out), len(log_out)


def read_edges(warehouse: Warehouse, until: dt.datetime) -> pd.DataFrame:
    return warehouse.query_df(EDGES_SQL, {"until": until}).rename(columns={"first_ms": "first_seen", "last_ms": "last_seen"})


def newest_link_day(warehouse: Warehouse) -> dt.date | None:
    """The UTC day of the newest link sighting (None when there are no links): what a recompute ages ids against
    when no day is given, so a backfilled month is not aged by today's clock."""
    day, links = warehouse.rows(NEWEST_LINK_SQL)[0]
    return day if links else None


def read_current_map(warehouse: Warehouse) -> tuple[pd.DataFrame, dict[str, str]]:
    """(node, oneid, anchor, created_at, first_seen, last_seen, version) of every live id, and the redirects."""
    frame = warehouse.query_df(CURRENT_MAP_SQL).rename(columns={"first_ms": "first_seen", "last_ms": "last_seen", "newest": "version"})
    prefix = f"oneid{NODE_SEPARATOR}"
    is_redirect = frame["node"].str.startswith(prefix)
    redirects = dict(zip(frame.loc[is_redirect, "node"].str.slice(len(prefix)), frame.loc[is_redirect, "oneid"]))
    return frame.loc[~is_redirect].reset_index(drop=True), redirects


def read_blocks(warehouse: Warehouse) -> Blocks:
    blocks = Blocks()
    for kind, strong, weak in warehouse.rows(BLOCKS_SQL):
        if kind == "value":
            blocks.nodes.add(strong)
        else:
            blocks.links.add((strong, weak))
    return blocks


def write_block(warehouse: Warehouse, kind: str, strong: str, weak: str, reason: str, created_by: str) -> None:
    warehouse.insert("oneid_blocks", [[kind, strong, weak, reason, created_by]], ("kind", "strong", "weak", "reason", "created_by"), settings=SYNC)


def write_reconcile(warehouse: Warehouse, day: dt.date, differences: pd.DataFrame) -> int:
    if not len(differences):
        return 0
    run_at = dt.datetime.now(dt.timezone.utc)
    rows = [[day, run_at, node, reason, rt, off] for node, reason, rt, off in
            differences[["node", "reason", "realtime_oneid", "offline_oneid"]].itertuples(index=False)]  # fmt: skip
    warehouse.insert("oneid_reconcile", rows, ("day", "run_at", "node", "reason", "realtime_oneid", "offline_oneid"), settings=SYNC)
    return len(rows)


def decode(values: Iterable[str | bytes]) -> list[dict]:
    return [json.loads(value) for value in values]
