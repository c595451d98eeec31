"""The reference answer: what ClickHouse's own analyzer says a query reads, from `EXPLAIN QUERY TREE passes=1`.

Only the analysis pass runs (`passes=1`), so the tree shows every column the query names, resolved to its
table, before optimisation passes rewrite or drop anything. From the tree we take:
  tables   - TABLE nodes (`table_name: db.table`), minus `system.one` (the table of a SELECT without FROM);
             plus dictionaries named by dictGet*/dictHas constants
  columns  - COLUMN nodes whose source is a TABLE node: `db.table.column`
  events   - constants compared with a table's `event` column by equals / in / globalIn / has
The corpus tests and the benchmark score the heat extraction against this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

_TABLE = re.compile(r"^TABLE id: (\d+)(?:, alias: [^,]+)?, table_name: ([^,\s]+)")
_COLUMN = re.compile(r"^COLUMN id: \d+, (?:alias: [^,]+, )?column_name: (.+?), result_type: .*, source_id: (\d+)$")
_FUNCTION = re.compile(r"^FUNCTION id: \d+, function_name: (\w+),")
_CONSTANT = re.compile(r"^CONSTANT id: \d+, constant_value: (.*), constant_value_type: ")
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")
_FORMAT_TAIL = re.compile(r"\s+FORMAT\s+\w+\s*;?\s*$", re.I)

EVENT_FUNCTIONS = frozenset({"equals", "in", "globalIn", "has"})
IGNORED_TABLES = frozenset({"system.one"})


@dataclass
class Node:
    text: str
    children: list["Node"] = field(default_factory=list)


@dataclass(frozen=True)
class Reference:
    tables: frozenset[str]
    columns: frozenset[str]
    events: frozenset[str]


def tree(explain_text: str) -> Node:
    """The indented EXPLAIN text as nested nodes (two spaces per level)."""
    root = Node("")
    stack: list[tuple[int, Node]] = [(-1, root)]
    for line in explain_text.splitlines():
        if not line.strip():
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 2
        node = Node(line.strip())
        while stack[-1][0] >= depth:
            stack.pop()
        stack[-1][1].children.append(node)
        stack.append((depth, node))
    return root


def _walk(node: Node):
    yield node
    for child in node.children:
        yield from _walk(child)


def _arguments(function: Node) -> list[Node]:
    for child in function.children:
        if child.text == "ARGUMENTS" and child.children:
            return child.children[0].children  # ARGUMENTS -> LIST -> items
    return []


def reference(explain_text: str, event_column: str = "event") -> Reference:
    root = tree(explain_text)
    nodes = list(_walk(root))
    table_ids: dict[str, str] = {}
    for node in nodes:
        match = _TABLE.match(node.text)
        if match:
            table_ids[match.group(1)] = match.group(2)
    tables = {t for t in table_ids.values() if t not in IGNORED_TABLES}
    columns, events = set(), set()

    def is_event_column(node: Node) -> bool:
        match = _COLUMN.match(node.text)
        return bool(match and match.group(1) == event_column and match.group(2) in table_ids)

    for node in nodes:
        column = _COLUMN.match(node.text)
        if column and column.group(2) in table_ids:
            columns.add(f"{table_ids[column.group(2)]}.{column.group(1)}")
            continue
        function = _FUNCTION.match(node.text)
        if not function:
            continue
        arguments = _arguments(node)
        name = function.group(1)
        if name.startswith(("dictGet", "dictHas")) and arguments:
            constant = _CONSTANT.match(arguments[0].text)
            if constant:
                tables.update(_QUOTED.findall(constant.group(1))[:1])
        if name in EVENT_FUNCTIONS and len(arguments) == 2:
            column_side, value_side = (1, 0) if name == "has" else (0, 1)
            pairs = [(column_side, value_side)] + ([(1, 0)] if name == "equals" else [])
            for c, v in pairs:
                constant = _CONSTANT.match(arguments[v].text)
                if is_event_column(arguments[c]) and constant:
                    events.update(_QUOTED.findall(constant.group(1)))
    return Reference(frozenset(tables), frozenset(columns), frozenset(events))


def explain(run: Callable[[str, dict], str], sql: str, parameters: dict | None = None) -> Reference:
    """`run(sql, parameters)` returns the text of a query's result (one line per row)."""
    body = _FORMAT_TAIL.sub("", sql.strip().rstrip(";"))
    return reference(run(f"EXPLAIN QUERY TREE passes = 1 {body}", parameters or {}))


def warehouse_runner(warehouse) -> Callable[[str, dict], str]:
    """Runs EXPLAIN through a Warehouse without notifying its listeners (the oracle is not analyst traffic)."""

    def run(sql: str, parameters: dict) -> str:
        result = warehouse.client().query(sql, parameters=parameters or None)
        return "\n".join(str(row[0]) for row in result.result_rows)

    return run
