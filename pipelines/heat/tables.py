"""Pass: the tables, dictionaries and table functions a qualified statement reads, and the tables it writes."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.heat import syntax as s
from pipelines.heat.functions import reads_dictionary
from pipelines.heat.model import Unresolved
from pipelines.heat.render import render
from pipelines.heat.walk import all_selects, clauses, nodes, table_items

WRITING_VERBS = frozenset({"ALTER", "DROP", "DETACH", "TRUNCATE", "OPTIMIZE", "RENAME", "DELETE", "EXCHANGE"})


@dataclass(frozen=True)
class TableUses:
    tables: tuple[str, ...]
    dictionaries: tuple[str, ...]
    table_functions: tuple[str, ...]
    writes: tuple[str, ...]
    unresolved: tuple[Unresolved, ...]


def qualified_name(table: s.TableName) -> str:
    return f"{table.database}.{table.name}" if table.database else table.name


def collect_tables(statement: s.Statement, default_database: str) -> TableUses:
    tables: dict[str, None] = {}
    dictionaries: dict[str, None] = {}
    functions: dict[str, None] = {}
    writes: dict[str, None] = {}
    unresolved: list[Unresolved] = []

    for select in all_selects(statement):
        for item in table_items(select):
            source = item.source
            if isinstance(source, s.TableName):
                tables[qualified_name(source)] = None
            elif isinstance(source, s.TableFunction):
                if source.reads is not None:  # remote()/cluster(): `qualify` found the table they read
                    tables[qualified_name(source.reads)] = None
                else:
                    functions[source.name] = None
            elif isinstance(source, s.Parameter):
                unresolved.append(Unresolved("table", render(source), "table name is a query parameter"))
        for _, expression in clauses(select):
            for node in nodes(expression):
                if isinstance(node, s.Call) and reads_dictionary(node.name) and node.arguments:
                    name = node.arguments[0]
                    if isinstance(name, s.Literal) and isinstance(name.value, str):
                        dictionaries[_qualify_dotted(name.value, default_database)] = None
                    else:
                        unresolved.append(Unresolved("table", render(node), "dictionary name is not a literal"))

    inner = statement.statement if isinstance(statement, s.ExplainStatement) else statement
    if isinstance(inner, s.InsertStatement) and isinstance(inner.target, s.TableName):
        writes[qualified_name(inner.target)] = None
    elif isinstance(inner, s.CreateStatement) and inner.kind not in ("database", "function"):
        writes[qualified_name(inner.name)] = None
        for table in inner.tables:
            tables[qualified_name(table)] = None
    elif isinstance(inner, s.OtherStatement):
        target = writes if inner.verb in WRITING_VERBS else tables
        for table in inner.tables:
            target[qualified_name(table)] = None

    all_tables = dict(tables)
    all_tables.update(dictionaries)
    return TableUses(tuple(all_tables), tuple(dictionaries), tuple(functions), tuple(writes), tuple(unresolved))


def _qualify_dotted(name: str, default_database: str) -> str:
    return name if "." in name else f"{default_database}.{name}"
