"""Pass: columns by role. Walks each SELECT's clauses of a qualified statement and records, per base column,
the roles it plays; a column inside an aggregate's arguments plays `aggregate` rather than its clause's role."""

from __future__ import annotations

from pipelines.heat import syntax as s
from pipelines.heat.functions import is_aggregate
from pipelines.heat.model import ROLES, ColumnUse, Unresolved
from pipelines.heat.render import render
from pipelines.heat.walk import all_selects, children, clauses


def collect_columns(statement: s.Statement) -> tuple[tuple[ColumnUse, ...], tuple[Unresolved, ...]]:
    roles: dict[s.QualifiedColumn, set[str]] = {}
    unresolved: dict[tuple, Unresolved] = {}

    def visit(node, role: str) -> None:
        if isinstance(node, s.BoundColumn):
            for column in node.columns:
                roles.setdefault(column, set()).add(role)
            return
        if isinstance(node, s.UnboundColumn):
            unresolved.setdefault(node.parts, Unresolved("column", render(node), node.reason))
            return
        if isinstance(node, s.Call):
            inner_role = "aggregate" if is_aggregate(node.name) else role
            for child in node.arguments + node.parameters:
                visit(child, inner_role)
            if node.window is not None:
                for child in node.window.partition_by + tuple(o.expression for o in node.window.order_by):
                    visit(child, "window")
            return
        for child in children(node):
            visit(child, role)

    for select in all_selects(statement):
        for role, expression in clauses(select):
            visit(expression, role)

    ordered = sorted(roles.items(), key=lambda item: (item[0].table, item[0].column))
    uses = tuple(
        ColumnUse(column.table, column.column, tuple(r for r in ROLES if r in found)) for column, found in ordered
    )
    return uses, tuple(unresolved.values())
