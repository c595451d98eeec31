"""The syntax tree the heat passes work on: small frozen dataclasses with fields named for what they hold.

`build.py` turns ANTLR's parse tree into these nodes. Operators become `Call`s with ClickHouse's own function
names (`a = b` is `Call("equals", (a, b))`, `x IN (...)` is `Call("in", ...)`), the way ClickHouse's analyzer
represents them, so a pass that looks for event predicates has one shape to match instead of one per spelling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


# -- expressions ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Literal:
    value: object  # str, int, float, bool or None
    text: str = ""


@dataclass(frozen=True)
class Parameter:
    """A `{name:Type}` query parameter; its value arrives with the query, not in its text."""

    name: str
    type_name: str


@dataclass(frozen=True)
class ColumnRef:
    """A name path as written: `col`, `t.col`, `db.t.col`, or a map/JSON path whose head is a column."""

    parts: tuple[str, ...]


@dataclass(frozen=True)
class Star:
    """`*` or `t.*`, with the names an `EXCEPT` transformer removes."""

    qualifier: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()


@dataclass(frozen=True)
class Window:
    name: str | None
    partition_by: tuple["Expr", ...]
    order_by: tuple["OrderItem", ...]


@dataclass(frozen=True)
class Call:
    """A function call or an operator. `parameters` holds a parametric aggregate's first list
    (`windowFunnel(86400)(ts, cond...)`: parameters `(86400,)`, arguments `(ts, cond...)`)."""

    name: str
    arguments: tuple["Expr", ...]
    parameters: tuple["Expr", ...] = ()
    distinct: bool = False
    window: Window | None = None


@dataclass(frozen=True)
class Lambda:
    parameters: tuple[str, ...]
    body: "Expr"


@dataclass(frozen=True)
class Alias:
    """`expr AS name`; ClickHouse lets an alias appear inside any expression and be used anywhere in the query."""

    name: str
    expression: "Expr"


@dataclass(frozen=True)
class SubqueryExpr:
    query: "Query"


Expr = Union[Literal, Parameter, ColumnRef, Star, Call, Lambda, Alias, SubqueryExpr]


@dataclass(frozen=True)
class OrderItem:
    expression: Expr
    descending: bool = False


# -- table sources --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TableName:
    database: str | None
    name: str


@dataclass(frozen=True)
class TableFunction:
    name: str
    arguments: tuple[Expr, ...]
    reads: "TableName | None" = None  # set by `qualify` for remote()/cluster()-style functions over one table


@dataclass(frozen=True)
class DerivedTable:
    query: "Query"


TableSource = Union[TableName, TableFunction, DerivedTable, Parameter]


@dataclass(frozen=True)
class TableItem:
    source: TableSource
    alias: str | None = None
    final: bool = False


@dataclass(frozen=True)
class Join:
    """One step of the FROM chain after the first table. `kind` is e.g. `LEFT ANY`, `GLOBAL ASOF LEFT`, `CROSS`,
    `COMMA`; `ARRAY JOIN` steps use `ArrayJoin` instead."""

    kind: str
    table: TableItem
    on: Expr | None = None
    using: tuple[str, ...] = ()


@dataclass(frozen=True)
class ArrayJoin:
    items: tuple[Expr, ...]  # each may be an Alias
    left: bool = False


# -- queries --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cte:
    name: str
    query: "Query"


@dataclass(frozen=True)
class Select:
    projection: tuple[Expr, ...]
    with_items: tuple[Union[Cte, Alias], ...] = ()
    distinct: bool = False
    from_table: TableItem | None = None
    joins: tuple[Union[Join, ArrayJoin], ...] = ()
    prewhere: Expr | None = None
    where: Expr | None = None
    group_by: tuple[Expr, ...] = ()
    having: Expr | None = None
    qualify: Expr | None = None
    windows: tuple[tuple[str, Window], ...] = ()
    order_by: tuple[OrderItem, ...] = ()
    limit_by: tuple[Expr, ...] = ()
    limits: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class SetOperation:
    """`UNION [ALL|DISTINCT]`, `EXCEPT`, `INTERSECT` over two or more queries."""

    operator: str
    queries: tuple["Query", ...]


Query = Union[Select, SetOperation]


# -- statements -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueryStatement:
    query: Query
    format_name: str | None = None


@dataclass(frozen=True)
class InsertStatement:
    target: TableName | TableFunction
    columns: tuple[str, ...] = ()
    query: Query | None = None


@dataclass(frozen=True)
class CreateStatement:
    """CREATE TABLE / VIEW / DATABASE / DICTIONARY / FUNCTION. `source_query` is the `AS SELECT` part, if any;
    `tables` are tables named otherwise (`AS other_table`, `TO target`)."""

    kind: str
    name: TableName
    source_query: Query | None = None
    tables: tuple[TableName, ...] = ()


@dataclass(frozen=True)
class ExplainStatement:
    kind: str
    statement: "Statement"


@dataclass(frozen=True)
class OtherStatement:
    """ALTER, DROP, SHOW, DESCRIBE, USE, SET, OPTIMIZE, ... : the verb and the tables the statement names."""

    verb: str
    tables: tuple[TableName, ...] = ()
    expressions: tuple[Expr, ...] = field(default=())


Statement = Union[QueryStatement, InsertStatement, CreateStatement, ExplainStatement, OtherStatement]


# -- nodes the `qualify` pass puts in place of names ----------------------------------------------------------
@dataclass(frozen=True)
class QualifiedColumn:
    table: str  # "db.table"
    column: str

    def __str__(self) -> str:
        return f"{self.table}.{self.column}"


@dataclass(frozen=True)
class BoundColumn:
    """A column reference resolved to the base-table columns it reads: one for a table column, several when it
    names a subquery/CTE output computed from several columns (`through_derived`). `direct`: its value is the
    one base column itself (a table column, or a subquery output that passes one on unchanged), not a value
    computed from it: only a direct reference to the event column names events when compared."""

    parts: tuple[str, ...]
    columns: tuple[QualifiedColumn, ...]
    through_derived: bool = False
    direct: bool = True


@dataclass(frozen=True)
class UnboundColumn:
    """A name the qualify pass could not resolve; it is reported in `unresolved`, never dropped."""

    parts: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class LambdaVariable:
    name: str
