"""Pass 1, `qualify`: resolve every name in a statement to what it reads.

Tree in, tree out (as sqlglot's `qualify` rule): table names get their database, CTE references become the
CTE's query, expression aliases are replaced by the expression they name (ClickHouse lets an alias be used
anywhere in its query), `*` expands to the table's columns, and every `ColumnRef` becomes a `BoundColumn`
(the base-table columns it reads), a `LambdaVariable`, or an `UnboundColumn` with the reason. Later passes
never look names up again.

Name lookup follows ClickHouse's analyzer: lambda parameters, then expression aliases, then ARRAY JOIN aliases,
then the columns of the tables in FROM, then the enclosing query (correlated subqueries), then the WITH
aliases of enclosing queries (which CTE bodies and subqueries may use).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from pipelines.heat import syntax as s
from pipelines.heat.catalog import TABLE_FUNCTION_COLUMNS, Catalog
from pipelines.heat.render import render

# Table functions that read one named table: (argument index of the database, of the table) or a `db.table` arg.
TABLE_READING_FUNCTIONS = {"remote", "remotesecure", "cluster", "clusterallreplicas"}


@dataclass
class Source:
    """One table in a FROM chain, as seen from the query: its names and its columns (None: unknown)."""

    names: tuple[tuple[str, ...], ...]  # e.g. (("e",),) for an alias, (("events",), ("trackflow", "events"))
    table: str | None  # "db.table" for a base table, None for a subquery or an opaque table function
    columns: dict[str, tuple[s.QualifiedColumn, ...]] | None  # output name -> base columns it reads
    star: tuple[str, ...] = ()
    derived: bool = False
    direct: frozenset[str] = frozenset()  # of a subquery: the outputs that pass one base column on unchanged

    def is_direct(self, name: str) -> bool:
        return self.table is not None or name in self.direct


@dataclass
class Scope:
    sources: list[Source]
    ctes: dict[str, tuple[s.Query, "dict", "dict"]]  # name -> (query, CTEs and `inherited` where it was defined)
    aliases: dict[str, s.Expr]
    array_join: dict[str, s.Expr] = field(default_factory=dict)
    outer: "Scope | None" = None
    # WITH aliases of enclosing queries (`WITH (SELECT ...) AS labels, cte AS (... labels ...)`): ClickHouse lets
    # nested queries and CTE bodies use them. name -> (expression, scope it is resolved in: where it is defined).
    inherited: dict[str, tuple[s.Expr, "Scope"]] = field(default_factory=dict)


@dataclass(frozen=True)
class Output:
    name: str
    columns: tuple[s.QualifiedColumn, ...]
    direct: bool = False


class Qualifier:
    def __init__(self, catalog: Catalog | None = None):
        self.catalog = catalog or Catalog()

    # -- statements -------------------------------------------------------------------------------------------
    def statement(self, statement: s.Statement) -> s.Statement:
        if isinstance(statement, s.QueryStatement):
            return replace(statement, query=self.query(statement.query, {}, None)[0])
        if isinstance(statement, s.ExplainStatement):
            return replace(statement, statement=self.statement(statement.statement))
        if isinstance(statement, s.InsertStatement):
            target = self.table_name(statement.target) if isinstance(statement.target, s.TableName) else statement.target
            query = self.query(statement.query, {}, None)[0] if statement.query is not None else None
            return replace(statement, target=target, query=query)
        if isinstance(statement, s.CreateStatement):
            query = self.query(statement.source_query, {}, None)[0] if statement.source_query is not None else None
            return replace(
                statement,
                name=self.table_name(statement.name) if statement.kind != "database" else statement.name,
                source_query=query,
                tables=tuple(self.table_name(t) for t in statement.tables),
            )
        if isinstance(statement, s.OtherStatement):
            return replace(statement, tables=tuple(self.table_name(t) for t in statement.tables))
        return statement

    def table_name(self, table: s.TableName) -> s.TableName:
        return table if table.database else s.TableName(self.catalog.default_database, table.name)

    # -- queries ----------------------------------------------------------------------------------------------
    def query(
        self, query: s.Query, ctes: dict, outer: Scope | None, inherited: dict | None = None
    ) -> tuple[s.Query, list[Output]]:
        if isinstance(query, s.SetOperation):
            parts = [self.query(q, ctes, outer, inherited) for q in query.queries]
            outputs = list(parts[0][1])
            for _, other in parts[1:]:
                for position, output in enumerate(other[: len(outputs)]):
                    merged = tuple(dict.fromkeys(outputs[position].columns + output.columns))
                    direct = outputs[position].direct and output.direct
                    outputs[position] = Output(outputs[position].name, merged, direct)
            return replace(query, queries=tuple(q for q, _ in parts)), outputs
        return self.select(query, ctes, outer, inherited or {})

    def select(
        self, select: s.Select, ctes: dict, outer: Scope | None, inherited: dict
    ) -> tuple[s.Select, list[Output]]:
        visible = dict(ctes)
        scope = Scope([], visible, collect_aliases(select), outer=outer)
        own = {item.name: (item.expression, scope) for item in select.with_items if isinstance(item, s.Alias)}
        scope.inherited = {**inherited, **own}
        for item in select.with_items:
            if isinstance(item, s.Cte):
                visible[item.name] = (item.query, dict(visible), scope.inherited)

        from_table = self.table_item(select.from_table, scope) if select.from_table else None
        joins = []
        for join in select.joins:
            if isinstance(join, s.ArrayJoin):
                joins.append(self.array_join(join, scope))
            else:
                left_sources = list(scope.sources)
                table = self.table_item(join.table, scope)
                on = self.expr(join.on, scope) if join.on is not None else None
                if join.using:
                    on = self.using_keys(join.using, left_sources, scope.sources[-1])
                joins.append(replace(join, table=table, on=on))

        def q(expression):
            return self.expr(expression, scope) if expression is not None else None

        projection: list[s.Expr] = []
        names: list[str] = []  # from the items as written: a bare alias resolves to its expression, not its name
        for item in select.projection:
            if isinstance(item, s.Star):
                expanded = self.expand_star(item, scope)
                projection.extend(expanded)
                names.extend(output_name(column) for column in expanded)
            else:
                projection.append(q(item))
                names.append(output_name(item))
        qualified = replace(
            select,
            with_items=(),  # CTEs and WITH aliases are inlined where they are used
            from_table=from_table,
            joins=tuple(joins),
            projection=tuple(projection),
            prewhere=q(select.prewhere),
            where=q(select.where),
            group_by=tuple(q(e) for e in select.group_by),
            having=q(select.having),
            qualify=q(select.qualify),
            windows=tuple((name, self.window(w, scope)) for name, w in select.windows),
            order_by=tuple(replace(o, expression=q(o.expression)) for o in select.order_by),
            limit_by=tuple(q(e) for e in select.limit_by),
            limits=tuple(q(e) for e in select.limits),
        )
        return qualified, [output_of(name, item) for name, item in zip(names, projection)]

    # -- FROM -------------------------------------------------------------------------------------------------
    def table_item(self, item: s.TableItem, scope: Scope) -> s.TableItem:
        source = item.source
        alias_names = ((item.alias,),) if item.alias else ()
        if isinstance(source, s.TableName) and source.database is None and source.name in scope.ctes:
            cte_query, cte_env, cte_inherited = scope.ctes[source.name]
            qualified, outputs = self.query(cte_query, cte_env, None, cte_inherited)
            names = alias_names or ((source.name,),)
            scope.sources.append(derived_source(names, outputs))
            return replace(item, source=s.DerivedTable(qualified))
        if isinstance(source, s.TableName):
            table = self.table_name(source)
            scope.sources.append(self.base_source(table, alias_names))
            return replace(item, source=table)
        if isinstance(source, s.DerivedTable):
            qualified, outputs = self.query(source.query, scope.ctes, scope.outer, scope.inherited)
            scope.sources.append(derived_source(alias_names, outputs))
            return replace(item, source=s.DerivedTable(qualified))
        if isinstance(source, s.TableFunction):
            read = table_read_by(source, self.catalog.default_database)
            if read is not None:
                scope.sources.append(self.base_source(read, alias_names))
                return replace(item, source=replace(source, reads=read))
            fixed = TABLE_FUNCTION_COLUMNS.get(source.name.lower())
            columns = {name: () for name in fixed} if fixed else None
            scope.sources.append(Source(alias_names or ((source.name,),), None, columns, fixed or ()))
            return item
        scope.sources.append(Source(alias_names, None, None))  # a {table:Identifier} parameter
        return item

    def base_source(self, table: s.TableName, alias_names) -> Source:
        qualified = f"{table.database}.{table.name}"
        names = alias_names + ((table.name,), (table.database, table.name))
        schema = self.catalog.schema(qualified)
        if schema is None:
            return Source(names, qualified, None)
        columns = {name: (s.QualifiedColumn(qualified, name),) for name in schema.columns}
        return Source(names, qualified, columns, schema.star_columns)

    def array_join(self, join: s.ArrayJoin, scope: Scope) -> s.ArrayJoin:
        items = []
        for item in join.items:
            qualified = self.expr(item, scope)
            items.append(qualified)
            if isinstance(qualified, s.Alias):
                scope.array_join[qualified.name] = qualified.expression
        return replace(join, items=tuple(items))

    def using_keys(self, names: tuple[str, ...], left: list[Source], right: Source) -> s.Expr:
        """`USING (k)` reads `k` from the first left table that has it and from the right table."""
        keys = []
        for name in names:
            left_match = next((source for source in left if _has_column(source, name)), None)
            columns = [c for source in (left_match, right) if source is not None for c in _columns_named(source, name)]
            if columns:
                keys.append(s.BoundColumn((name,), tuple(dict.fromkeys(columns))))
            else:
                keys.append(s.UnboundColumn((name,), "USING key not found in the joined tables"))
        return s.Call("using", tuple(keys))

    # -- expressions ------------------------------------------------------------------------------------------
    def expr(self, node: s.Expr, scope: Scope, lambda_names: frozenset = frozenset(), expanding: frozenset = frozenset()):
        if isinstance(node, s.ColumnRef):
            return self.column(node, scope, lambda_names, expanding)
        if isinstance(node, s.Call):
            if node.name.lower() == "count" and any(isinstance(a, s.Star) for a in node.arguments):
                node = replace(node, arguments=())  # count(*) reads no column, unlike f(*)
            window = self.window(node.window, scope) if node.window is not None else None
            if node.window is not None and node.window.name and not node.window.partition_by and not node.window.order_by:
                window = node.window  # a named window; its definition is qualified with the WINDOW clause
            return replace(
                node,
                arguments=tuple(self.expr(a, scope, lambda_names, expanding) for a in node.arguments),
                parameters=tuple(self.expr(p, scope, lambda_names, expanding) for p in node.parameters),
                window=window,
            )
        if isinstance(node, s.Lambda):
            return replace(node, body=self.expr(node.body, scope, lambda_names | set(node.parameters), expanding))
        if isinstance(node, s.Alias):
            return replace(node, expression=self.expr(node.expression, scope, lambda_names, expanding | {node.name}))
        if isinstance(node, s.SubqueryExpr):
            return s.SubqueryExpr(self.query(node.query, scope.ctes, scope, scope.inherited)[0])
        if isinstance(node, s.Star):
            return s.Call("tuple", tuple(self.expand_star(node, scope)))
        return node

    def window(self, window: s.Window, scope: Scope) -> s.Window:
        return replace(
            window,
            partition_by=tuple(self.expr(e, scope) for e in window.partition_by),
            order_by=tuple(replace(o, expression=self.expr(o.expression, scope)) for o in window.order_by),
        )

    def column(self, ref: s.ColumnRef, scope: Scope, lambda_names: frozenset, expanding: frozenset):
        parts = ref.parts
        head = parts[0]
        if len(parts) == 1 and head in lambda_names:
            return s.LambdaVariable(head)
        if len(parts) == 1 and head in scope.aliases and head not in expanding:
            return self.expr(scope.aliases[head], scope, lambda_names, expanding | {head})
        if len(parts) == 1 and head in scope.array_join:
            return scope.array_join[head]
        looked_up: Scope | None = scope
        while looked_up is not None:
            bound = self.lookup(parts, looked_up)
            if bound is not None:
                return bound
            looked_up = looked_up.outer
        if len(parts) == 1 and head in scope.inherited and head not in expanding:
            expression, defined_in = scope.inherited[head]
            return self.expr(expression, defined_in, frozenset(), expanding | {head})
        return self.unknown_column(parts, scope)

    def lookup(self, parts: tuple[str, ...], scope: Scope) -> s.BoundColumn | None:
        """The column `parts` names among the scope's tables, or None when no table there has it."""
        for source in scope.sources:  # qualified: alias.col, table.col, db.table.col
            for name in source.names:
                if len(parts) > len(name) and parts[: len(name)] == name:
                    bound = self.bind_in(source, parts[len(name):], parts)
                    if bound is not None:
                        return bound
        for source in scope.sources:  # unqualified, or a tuple/JSON/Nested path starting with a column
            bound = self.bind_in(source, parts, parts, unknown_ok=False)
            if bound is not None:
                return bound
        return None

    @staticmethod
    def bind_in(source: Source, rest: tuple[str, ...], parts, unknown_ok: bool = True) -> s.BoundColumn | None:
        if source.columns is None:
            if not unknown_ok or source.table is None:
                return None
            return s.BoundColumn(parts, (s.QualifiedColumn(source.table, rest[0]),))
        for length in range(len(rest), 0, -1):  # `n.a` may be a Nested column's full name
            name = ".".join(rest[:length])
            if name in source.columns:
                return s.BoundColumn(parts, source.columns[name], source.derived, source.is_direct(name))
        return None

    def unknown_column(self, parts: tuple[str, ...], scope: Scope):
        """No table with a known schema has the column: give it to the one table whose schema is unknown."""
        unknown = [source for source in scope.sources if source.columns is None and source.table is not None]
        if len(unknown) == 1 and len(parts) == 1:
            return s.BoundColumn(parts, (s.QualifiedColumn(unknown[0].table, parts[0]),))
        if not scope.sources:
            return s.UnboundColumn(parts, "no table in FROM")
        if len(unknown) > 1:
            return s.UnboundColumn(parts, "several tables with unknown columns could hold it")
        return s.UnboundColumn(parts, "no table in scope has this column")

    def expand_star(self, star: s.Star, scope: Scope) -> list[s.Expr]:
        expanded: list[s.Expr] = []
        for source in scope.sources:
            if star.qualifier and star.qualifier not in source.names:
                continue
            if source.columns is None:
                if source.table is not None:
                    expanded.append(s.BoundColumn(("*",), (s.QualifiedColumn(source.table, "*"),)))
                continue
            for name in source.star:
                if name not in star.excluded:
                    expanded.append(s.BoundColumn((name,), source.columns[name], source.derived, source.is_direct(name)))
        return expanded


# -- helpers --------------------------------------------------------------------------------------------------
def collect_aliases(select: s.Select) -> dict[str, s.Expr]:
    """Every `expr AS name` in the query's own clauses (not in its subqueries), first definition wins."""
    found: dict[str, s.Expr] = {}

    def visit(node):
        if isinstance(node, s.Alias):
            found.setdefault(node.name, node.expression)
            visit(node.expression)
        elif isinstance(node, s.Call):
            for child in node.arguments + node.parameters:
                visit(child)
        elif isinstance(node, s.Lambda):
            visit(node.body)

    for item in select.with_items:
        if isinstance(item, s.Alias):
            visit(item)
    for expression in select.projection:
        visit(expression)
    for expression in (select.prewhere, select.where, select.having, *select.group_by):
        if expression is not None:
            visit(expression)
    return found


def table_read_by(function: s.TableFunction, default_database: str) -> s.TableName | None:
    """`remote('host', db, table)`, `cluster('name', db.table)` and friends read one table: which one."""
    if function.name.lower() not in TABLE_READING_FUNCTIONS or len(function.arguments) < 2:
        return None
    names = [_name_argument(a) for a in function.arguments[1:3]]
    if len(names) == 2 and names[0] and names[1] and "." not in names[0]:
        return s.TableName(names[0], names[1])
    if names[0] and "." in names[0]:
        database, table = names[0].split(".", 1)
        return s.TableName(database, table)
    return None


def _name_argument(node) -> str | None:
    if isinstance(node, s.Literal) and isinstance(node.value, str):
        return node.value
    if isinstance(node, s.ColumnRef):
        return ".".join(node.parts)
    return None


def _has_column(source: Source, name: str) -> bool:
    return (source.columns is None and source.table is not None) or (source.columns is not None and name in source.columns)


def _columns_named(source: Source, name: str) -> tuple[s.QualifiedColumn, ...]:
    if source.columns is None:
        return (s.QualifiedColumn(source.table, name),) if source.table is not None else ()
    return source.columns.get(name, ())


def output_name(item) -> str:
    if isinstance(item, s.Alias):
        return item.name
    if isinstance(item, (s.BoundColumn, s.ColumnRef)):
        return item.parts[-1]
    return render(item)


def output_of(name: str, item: s.Expr) -> Output:
    value = item.expression if isinstance(item, s.Alias) else item
    direct = isinstance(value, s.BoundColumn) and value.direct and len(value.columns) == 1
    return Output(name, tuple(dict.fromkeys(columns_in(item))), direct)


def derived_source(names, outputs: list[Output]) -> Source:
    """A subquery or CTE in FROM: its outputs by name; first output of a name wins, as in `_by_name`."""
    first: dict[str, Output] = {}
    for output in outputs:
        first.setdefault(output.name, output)
    direct = frozenset(name for name, output in first.items() if output.direct)
    return Source(names, None, _by_name(outputs), tuple(o.name for o in outputs), derived=True, direct=direct)


def columns_in(node) -> list[s.QualifiedColumn]:
    """Base columns read by an already-qualified expression (not looking into subqueries)."""
    if isinstance(node, s.BoundColumn):
        return list(node.columns)
    if isinstance(node, s.Alias):
        return columns_in(node.expression)
    if isinstance(node, s.Lambda):
        return columns_in(node.body)
    if isinstance(node, s.Call):
        found: list[s.QualifiedColumn] = []
        for child in node.arguments + node.parameters:
            found.extend(columns_in(child))
        return found
    return []


def _by_name(outputs: list[Output]) -> dict[str, tuple[s.QualifiedColumn, ...]]:
    by_name: dict[str, tuple[s.QualifiedColumn, ...]] = {}
    for output in outputs:
        by_name.setdefault(output.name, output.columns)
    return by_name


def qualify(statement: s.Statement, catalog: Catalog | None = None) -> s.Statement:
    return Qualifier(catalog).statement(statement)
