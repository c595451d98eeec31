"""Traversal helpers shared by the passes: every SELECT in a statement, each clause with its role, and the
nodes of an expression. Passes stay small because none of them re-implements a tree walk."""

from __future__ import annotations

from typing import Iterator

from pipelines.heat import syntax as s


def statement_queries(statement: s.Statement) -> list[s.Query]:
    """The top-level queries a statement runs (its own SELECT, INSERT ... SELECT, CREATE ... AS SELECT)."""
    if isinstance(statement, s.QueryStatement):
        return [statement.query]
    if isinstance(statement, s.ExplainStatement):
        return statement_queries(statement.statement)
    if isinstance(statement, (s.InsertStatement,)) and statement.query is not None:
        return [statement.query]
    if isinstance(statement, s.CreateStatement) and statement.source_query is not None:
        return [statement.source_query]
    return []


def selects(query: s.Query) -> Iterator[s.Select]:
    """Every SELECT in a query: set-operation members, derived tables and expression subqueries, depth first."""
    if isinstance(query, s.SetOperation):
        for member in query.queries:
            yield from selects(member)
        return
    yield query
    for item in table_items(query):
        if isinstance(item.source, s.DerivedTable):
            yield from selects(item.source.query)
    for _, expression in clauses(query):
        for node in nodes(expression, into_subqueries=False):
            if isinstance(node, s.SubqueryExpr):
                yield from selects(node.query)


def all_selects(statement: s.Statement) -> Iterator[s.Select]:
    for query in statement_queries(statement):
        yield from selects(query)


def table_items(select: s.Select) -> list[s.TableItem]:
    items = [select.from_table] if select.from_table else []
    return items + [join.table for join in select.joins if isinstance(join, s.Join)]


def clauses(select: s.Select) -> Iterator[tuple[str, s.Expr]]:
    """(role, expression) for every expression in a SELECT's own clauses."""
    for expression in select.projection:
        yield "select", expression
    for join in select.joins:
        if isinstance(join, s.ArrayJoin):
            for item in join.items:
                yield "array_join", item
        elif join.on is not None:
            yield "join_key", join.on
    for expression in (select.prewhere, select.where, select.having, select.qualify):
        if expression is not None:
            yield "where", expression
    for expression in select.group_by:
        yield "group_by", expression
    for _, window in select.windows:
        for expression in window.partition_by:
            yield "window", expression
        for item in window.order_by:
            yield "window", item.expression
    for item in select.order_by:
        yield "order_by", item.expression
    for expression in select.limit_by:
        yield "limit_by", expression
    for expression in select.limits:
        yield "where", expression


def children(node) -> tuple:
    if isinstance(node, s.Call):
        window = ()
        if node.window is not None:
            window = node.window.partition_by + tuple(o.expression for o in node.window.order_by)
        return node.arguments + node.parameters + window
    if isinstance(node, s.Alias):
        return (node.expression,)
    if isinstance(node, s.Lambda):
        return (node.body,)
    return ()


def nodes(expression, into_subqueries: bool = False) -> Iterator:
    """Pre-order walk of an expression. Subqueries are yielded as nodes but not entered unless asked."""
    stack = [expression]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, s.SubqueryExpr) and into_subqueries:
            for select in selects(node.query):
                stack.extend(expression for _, expression in clauses(select))
        stack.extend(reversed(children(node)))


def conjuncts(expression) -> list:
    """`a AND b AND c` -> [a, b, c]."""
    if isinstance(expression, s.Call) and expression.name == "and":
        found = []
        for argument in expression.arguments:
            found.extend(conjuncts(argument))
        return found
    return [expression]
