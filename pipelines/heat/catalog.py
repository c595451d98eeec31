"""What the warehouse knows about its tables: columns (and types) per `db.table`, used to resolve names.

Without a catalog the passes still work: a column in a single-table query belongs to that table, and names
they cannot place are reported as unresolved. With a catalog (read from `system.columns`), multi-table queries,
`SELECT *` and subquery outputs resolve exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Table functions whose output columns are fixed, so `SELECT number FROM numbers(10)` needs no catalog.
TABLE_FUNCTION_COLUMNS = {
    "numbers": ("number",),
    "numbers_mt": ("number",),
    "zeros": ("zero",),
    "zeros_mt": ("zero",),
    "generate_series": ("generate_series",),
}


@dataclass(frozen=True)
class TableSchema:
    columns: dict[str, str]  # name -> ClickHouse type, every column a query may name
    star_columns: tuple[str, ...]  # what `SELECT *` expands to (no MATERIALIZED/ALIAS/EPHEMERAL)


@dataclass
class Catalog:
    default_database: str = "default"
    tables: dict[str, TableSchema] = field(default_factory=dict)

    def schema(self, qualified: str) -> TableSchema | None:
        return self.tables.get(qualified)

    def add(self, qualified: str, columns: list[tuple[str, str, str]]) -> None:
        """`columns`: (name, type, default_kind) rows as in `system.columns`."""
        self.tables[qualified] = TableSchema(
            {name: type_name for name, type_name, _ in columns},
            tuple(name for name, _, kind in columns if kind in ("", "DEFAULT")),
        )

    @classmethod
    def from_warehouse(cls, warehouse, databases: list[str] | None = None) -> "Catalog":
        """Read `system.columns` for the given databases (default: the warehouse's own)."""
        databases = databases or [warehouse.database]
        rows = warehouse.client().query(
            "SELECT database, table, name, type, default_kind FROM system.columns "
            "WHERE database IN {databases:Array(String)} ORDER BY database, table, position",
            parameters={"databases": databases},
        ).result_rows
        grouped: dict[str, list[tuple[str, str, str]]] = {}
        for database, table, name, type_name, kind in rows:
            grouped.setdefault(f"{database}.{table}", []).append((name, type_name, kind))
        catalog = cls(default_database=warehouse.database)
        for qualified, columns in grouped.items():
            catalog.add(qualified, columns)
        return catalog
