"""What the analyst may run on the embedded warehouse: an allow-list checked with ClickHouse's own parser.

chDB runs every query as its own `default` user, and `readonly = 2` alone lets `file()`, `url()`,
`INSERT INTO FUNCTION` and `KILL QUERY` through, so the server in front of chDB enforces least privilege itself.
For each analyst statement it asks chDB's parser, without running anything:

1. `formatQuery(<text>)` when the text has a `;`: it is one statement (chDB would otherwise run every statement of
   a multi-statement text, including any after a harmless first one);
2. `EXPLAIN AST <text>` with the request's parameters substituted (an `{x:Identifier}` parameter can name a
   table), then walks the tree and accepts only:
   - a SELECT-family statement (SELECT, UNION/INTERSECT/EXCEPT, DESCRIBE of one, EXPLAIN of one);
   - tables of the Trackflow database, and a few system tables clickhouse-connect and the heat catalog read;
   - table functions from a small allow-list (`numbers`, `values`, ...), no others (no `file`, `url`, `remote`,
     `s3`, `executable`, `mysql`, `merge`, `dictionary`, chDB's `python`, ...);
   - no functions that read outside the query's tables (`file`, `joinGet`, ...); `dictGet*`/`dictHas` only on a
     dictionary of the Trackflow database named by a constant;
   - no `INTO OUTFILE`;
   - `SETTINGS` clauses (read from the formatted statement, one per `Set` node of the tree) and URL settings
     from an allow-list.

Of the allowed settings, the limits (`max_execution_time`, `max_memory_usage`) may only be lowered below the
analyst's ceilings, which every read-only connection is set to. Checks that pass are cached by the exact text (and
its Identifier parameters), so a repeated query costs a dictionary lookup.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

# Table functions that compute rows from their arguments alone and reach nothing outside the query.
ALLOWED_TABLE_FUNCTIONS = frozenset({"numbers", "values", "zeros", "generateSeries", "generate_series"})
# System tables the analyst reads: clickhouse-connect's handshake (`system.settings`), the heat catalog
# (`system.columns`, `system.tables`), function names for editors, and the table of a SELECT without FROM.
ALLOWED_SYSTEM_TABLES = frozenset({"system.one", "system.settings", "system.columns", "system.tables", "system.functions"})
# Ordinary functions that read files, other tables by name, or server-side models.
DENIED_FUNCTIONS = frozenset({"file", "joinGet", "joinGetOrNull", "hasColumnInTable", "catboostEvaluate", "naiveBayesClassifier"})
DICTIONARY_FUNCTIONS = re.compile(r"^dict(Get|Has|IsIn)")
IN_FUNCTIONS = frozenset({"in", "notIn", "globalIn", "globalNotIn", "nullIn", "notNullIn", "globalNullIn", "globalNotNullIn"})
SELECT_KINDS = frozenset({"SelectWithUnionQuery", "SelectIntersectExceptQuery"})
# The node kinds the walk looks at; the others (expression lists, literals, identifiers...) are only descended.
CHECKED_KINDS = frozenset({"Set", "Explain", "SelectWithUnionQuery", "DescribeQuery", "TableIdentifier", "Function"})
EXPLAINABLE = frozenset({"AST", "SYNTAX", "QUERY TREE", "PLAN", "PIPELINE", "ESTIMATE"})

# Settings the analyst may pass with a query (URL parameters). Limits with a ceiling may only be lowered (and not to
# 0, which means "no limit"); the others shape the output or lower what a query may do.
ANALYST_CEILINGS = {"max_execution_time": 300, "max_memory_usage": 8 << 30}
ANALYST_SETTINGS = frozenset(
    {
        *ANALYST_CEILINGS,
        "max_result_rows",
        "max_result_bytes",
        "result_overflow_mode",
        "max_rows_to_read",
        "max_bytes_to_read",
        "read_overflow_mode",
        "timeout_overflow_mode",
        "max_block_size",
        "date_time_output_format",
        "date_time_input_format",  # clickhouse-connect sends these two with every query
        "cast_string_to_dynamic_use_inference",
        "session_timezone",
        "join_use_nulls",
        "final",
        "short_circuit_function_evaluation",  # the funnel model's SETTINGS clause
    }
)
ANALYST_SETTING_PREFIXES = ("output_format_", "input_format_")

_CHILDREN = re.compile(r" \(children (\d+)\)$")
_ALIAS = re.compile(r" \(alias [^()]*\)$")
_SETTINGS_CLAUSE = re.compile(r"^\s*SETTINGS (.*)$", re.M)  # formatQuery puts each clause on a line of its own
_SETTING_ITEM = re.compile(r"([A-Za-z_][A-Za-z0-9_]*) = ((?:'(?:[^'\\]|\\.)*'|[^,'])+)")
_STRING_LITERAL = re.compile(r"^'((?:[^'\\]|\\.)*)'")
# Only parameters of type Identifier change what a statement reads; the others become `_CAST(value, type)` nodes
# whose shape does not depend on the value, so they are left out of the cache key.
_IDENTIFIER_PARAMETER = re.compile(r"\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*Identifier\s*\}", re.I)
CACHE_ENTRIES = 4096


class AccessDenied(Exception):
    """A statement or setting the analyst may not use: ClickHouse's error code and message."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _denied(what: str) -> AccessDenied:
    return AccessDenied(497, f"Code: 497. DB::Exception: analyst: Not enough privileges: {what}. (ACCESS_DENIED)")


def _readonly(what: str) -> AccessDenied:
    return AccessDenied(164, f"Code: 164. DB::Exception: analyst: Cannot execute in readonly mode: {what}. (READONLY)")


@dataclass
class Node:
    kind: str
    label: str  # what follows the kind: a function or table name, a literal, the EXPLAIN kind
    declared: int = 0  # the "(children N)" the line ends with
    children: list["Node"] = field(default_factory=list)


def format_query(run, sql: str) -> str:
    """The statement as ClickHouse's formatter prints it: each SETTINGS clause on a line of its own."""
    return run("SELECT formatQuery(" + quote(sql) + ")", {})


def parse_tree(text: str) -> list[Node]:
    """The roots of `EXPLAIN AST` output: one node a line, one leading space per level. ClickHouse prints names and
    aliases unescaped, so a quoted identifier with a line break can add lines of its own: every node must have the
    children its line declares, which such lines cannot keep true for the nodes they would displace."""
    roots: list[Node] = []
    stack: list[tuple[int, Node]] = []
    for line in text.splitlines():
        body = line.lstrip(" ")
        if not body:
            continue
        depth = len(line) - len(body)
        declared = _CHILDREN.search(body) if body.endswith(")") else None
        if declared:
            body = body[: declared.start()]
        kind, _, label = body.partition(" ")
        node = Node(kind, label, int(declared.group(1)) if declared else 0)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        (stack[-1][1].children if stack else roots).append(node)
        stack.append((depth, node))
    pending = list(roots)
    while pending:
        node = pending.pop()
        if len(node.children) != node.declared:
            raise _readonly(f"a statement whose parse tree cannot be read (quoted names with line breaks?) at {node.kind}")
        pending += node.children
    return roots


class AnalystPolicy:
    """The analyst's rights on the embedded warehouse: SELECTs on `database` and nothing else."""

    def __init__(self, database: str):
        self.database = database
        self._passed: OrderedDict[tuple, None] = OrderedDict()
        self._lock = threading.Lock()

    # -- settings and database ---------------------------------------------------------------------------------
    def check_request(self, settings: dict[str, str], readonly: str | None, database: str | None) -> None:
        """URL settings and database of an analyst request (its connection carries the ceilings already)."""
        if readonly not in (None, "1", "2"):
            raise _readonly(f"Cannot modify 'readonly' setting (to {readonly!r})")
        if database not in (None, "", self.database):
            raise AccessDenied(
                291, f"Code: 291. DB::Exception: analyst: Not enough privileges: database {database!r} (only {self.database!r}). (DATABASE_ACCESS_DENIED)"
            )
        for name, value in settings.items():
            self._setting(name, value)

    @staticmethod
    def _setting(name: str, value: str) -> None:
        if name not in ANALYST_SETTINGS and not name.startswith(ANALYST_SETTING_PREFIXES):
            allowed = ", ".join(sorted(ANALYST_SETTINGS)) + ", " + ", ".join(p + "*" for p in ANALYST_SETTING_PREFIXES)
            raise _readonly(f"Cannot modify '{name}' setting (the analyst may set {allowed})")
        ceiling = ANALYST_CEILINGS.get(name)
        if ceiling is not None:
            try:
                number = float(value.strip("'"))
            except ValueError:
                raise _readonly(f"Setting '{name}' needs a number, not {value!r}") from None
            if not 0 < number <= ceiling:
                raise _readonly(f"Setting '{name}' may not be above {ceiling} nor 0 (no limit) for the analyst: {value!r}")

    # -- statements --------------------------------------------------------------------------------------------
    def check_statement(self, run, sql: str, parameters: dict[str, str]) -> None:
        """`run(sql, parameters)` returns a parse-only query's text output (on a read-only connection)."""
        key = (sql, tuple((name, parameters.get(name)) for name in _IDENTIFIER_PARAMETER.findall(sql)))
        with self._lock:
            if key in self._passed:
                self._passed.move_to_end(key)
                return
        formatted = None
        if ";" in sql:
            # Statements are separated by `;` only; whether one is a separator or sits in a literal only the parser
            # can tell, and it must before EXPLAIN AST: chDB would run every statement after the first.
            formatted = format_query(run, sql)  # "Multi-statements are not allowed" (code 62)
        roots = parse_tree(run("EXPLAIN AST " + sql, parameters))
        if len(roots) != 1:
            raise _readonly("one statement per query")
        settings_clauses = self._statement(roots[0])
        if settings_clauses:
            clauses = _SETTINGS_CLAUSE.findall(formatted or format_query(run, sql))
            if settings_clauses != len(clauses):
                raise _readonly("SETTINGS clauses the check cannot read (pass settings as URL parameters)")
            for clause in clauses:
                for name, value in _SETTING_ITEM.findall(clause):
                    self._setting(name, value.strip())
        with self._lock:
            self._passed[key] = None
            while len(self._passed) > CACHE_ENTRIES:
                self._passed.popitem(last=False)

    def _statement(self, root: Node) -> int:
        """Checks the tree; returns how many SETTINGS clauses it has."""
        if root.kind in SELECT_KINDS or root.kind == "DescribeQuery":
            return self._walk(root)
        if root.kind == "Explain":
            return self._explain(root)
        raise _readonly(f"{root.kind} statements (the analyst may run SELECT, DESCRIBE and EXPLAIN of a SELECT)")

    def _explain(self, node: Node) -> int:
        kind = _ALIAS.sub("", node.label).removeprefix("EXPLAIN").strip() or "PLAN"
        _no_outfile(node)
        # Beside the statement: a Set (EXPLAIN's own options) and an Identifier (FORMAT x).
        statements = [child for child in node.children if child.kind not in ("Set", "Identifier")]
        if kind not in EXPLAINABLE or len(statements) != 1 or statements[0].kind not in SELECT_KINDS:
            raise _readonly(f"EXPLAIN {kind} of anything but one SELECT")
        return self._walk(statements[0])

    def _walk(self, node: Node, parent: Node | None = None) -> int:
        if node.kind not in CHECKED_KINDS:
            return sum(self._walk(child, node) for child in node.children)
        # A function's name is one word; a table's may hold spaces (quoted), its alias follows in parentheses.
        name = node.label.split(" ", 1)[0] if node.kind == "Function" else _ALIAS.sub("", node.label)
        if node.kind == "Set":
            return 1
        if node.kind == "Explain":
            return self._explain(node)
        if node.kind in ("SelectWithUnionQuery", "DescribeQuery"):
            _no_outfile(node)
        if node.kind == "TableIdentifier":
            self._table(name)
        elif node.kind == "Function" and parent is not None and parent.kind == "TableExpression":
            if name not in ALLOWED_TABLE_FUNCTIONS:
                raise _denied(f"table function {name} (the analyst may use {', '.join(sorted(ALLOWED_TABLE_FUNCTIONS))})")
        elif node.kind == "Function":
            self._function(name, node)
        return sum(self._walk(child, node) for child in node.children)

    def _function(self, name: str, node: Node) -> None:
        if name in DENIED_FUNCTIONS:
            raise _denied(f"function {name}")
        arguments = node.children[0].children if node.children else []
        if DICTIONARY_FUNCTIONS.match(name):
            literal = _STRING_LITERAL.match(arguments[0].label) if arguments and arguments[0].kind == "Literal" else None
            if literal is None:
                raise _denied(f"{name} with a dictionary name that is not a constant string")
            dictionary = literal.group(1).replace("\\'", "'").replace("\\\\", "\\")
            if "." in dictionary and not dictionary.startswith(self.database + "."):
                raise _denied(f"dictionary {dictionary}")
        elif name in IN_FUNCTIONS and len(arguments) == 2 and arguments[1].kind == "Identifier":
            # `x IN db.table` reads a table named by an identifier.
            target = _ALIAS.sub("", arguments[1].label)
            if "." in target:
                self._table(target)

    def _table(self, name: str) -> None:
        # Unqualified names resolve in the analyst's database (forced for every request) or to a CTE.
        if "." in name and not name.startswith(self.database + ".") and name not in ALLOWED_SYSTEM_TABLES:
            raise _denied(f"table {name} (the analyst reads {self.database}.* and {', '.join(sorted(ALLOWED_SYSTEM_TABLES))})")


def _no_outfile(statement: Node) -> None:
    # `INTO OUTFILE 'path'` is a Literal child of the statement; chDB would write the file in the server process.
    if any(child.kind == "Literal" for child in statement.children):
        raise _denied("INTO OUTFILE")


def quote(value: str) -> str:
    """A ClickHouse string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
