"""Batched writes of detail rows into `dwd_<layer>`, each event_id once.

The dedup is the warehouse's event index (pipelines/warehouse/eventindex.py): every batch's ids are looked up
there, new ids are claimed before their rows go in, so a batch replayed after a restore (with another composition),
a late re-send with a new client `ts`, or a copy routed to another layer adds no row.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pipelines.config import Settings
from pipelines.envelope import detail_row
from pipelines.streaming.batching import table_of_layer
from pipelines.warehouse.client import Warehouse
from pipelines.warehouse import person_strings
from pipelines.warehouse.eventindex import EventIndex

TEMPLATE_TABLE = "dwd_default"


@dataclass(frozen=True)
class WriteResult:
    table: str
    written: int
    already_present: int
    written_at_ms: int
    events: list[dict[str, Any]]  # the events this insert added (for metrics)
    dropped: list[dict[str, Any]]  # the events the event index found written already (for metrics)


class DetailWriter:
    def __init__(self, settings: Settings):
        self.warehouse = Warehouse(settings)
        self.index = EventIndex(self.warehouse)
        self._tables: set[str] = set()

    def ensure_table(self, layer: str) -> str:
        """dwd_<layer> with dwd_default's structure; the `events` Merge table picks it up by name. A layer table
        made before a migration that added columns to dwd_default (0003) gets them here: inserts name every
        detail column, and a migration cannot list the layer tables that exist. So does its id-strings view."""
        table = table_of_layer(layer)
        if table not in self._tables:
            if table != TEMPLATE_TABLE:
                self.warehouse.command(f"CREATE TABLE IF NOT EXISTS {table} AS {TEMPLATE_TABLE}")
                self._add_missing_columns(table)
                self._keep_person_strings(table)
            self._tables.add(table)
        return table

    def _keep_person_strings(self, table: str) -> None:
        """Migration 0080's view over dwd_default, for this table too (pipelines/warehouse/person_strings.py), so
        a chain names its persons from the kept strings. A table made before it had one gets its rows copied once,
        after the view exists (a row both write is folded at merges)."""
        view = person_strings.view_name(table)
        existed = self.warehouse.scalar(
            "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = {view:String}", {"view": view}
        )
        if not existed:
            self.warehouse.command(person_strings.view_ddl(table))
            self.warehouse.command(person_strings.backfill_sql(table))

    def _add_missing_columns(self, table: str) -> None:
        missing = self.warehouse.rows(
            "SELECT name, type, default_kind, default_expression FROM system.columns"
            " WHERE database = currentDatabase() AND table = {template:String}"
            " AND name NOT IN (SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {table:String})"
            " ORDER BY position",
            {"template": TEMPLATE_TABLE, "table": table},
        )
        if missing:
            # Names and types come from the warehouse's own catalogue of dwd_default, not from any input.
            columns = ", ".join(
                f"ADD COLUMN IF NOT EXISTS `{name}` {kind_type}{f' {kind} {expression}' if kind else ''}"
                for name, kind_type, kind, expression in missing
            )
            self.warehouse.command(f"ALTER TABLE {table} {columns}")

    def write(self, layer: str, events: list[dict[str, Any]]) -> WriteResult:
        """Insert the events of `events` whose event_id has no row yet (in any layer) into dwd_<layer>."""
        table = self.ensure_table(layer)
        result = self.index.write_once(table, events, lambda event: detail_row(event, layer))
        return WriteResult(table, len(result.written), result.duplicates, int(time.time() * 1000), result.written, result.dropped)

    def close(self) -> None:
        self.index.flush()
        self.warehouse.close()
