"""The parse step: SQL text -> syntax tree, with ANTLR in SLL mode first and full LL only when SLL fails.

SLL prediction is much cheaper in the pure-Python runtime and decides every query our grammar was shaped for; a
syntax error under SLL may be a false alarm, so the same tokens are re-parsed with LL and only an error there is
reported. Errors carry the line and column of the offending token; nothing here raises anything but
`HeatSyntaxError`.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from antlr4 import CommonTokenStream, InputStream
from antlr4.atn.PredictionMode import PredictionMode
from antlr4.error.ErrorListener import ErrorListener
from antlr4.error.ErrorStrategy import BailErrorStrategy, DefaultErrorStrategy
from antlr4.error.Errors import ParseCancellationException

from pipelines.heat._generated import ClickHouseLexer, ClickHouseParser
from pipelines.heat.build import SyntaxBuilder, TreeShapeError
from pipelines.heat.syntax import Statement


class HeatSyntaxError(ValueError):
    """SQL the grammar does not accept; `line` is 1-based, `column` 0-based (ANTLR's convention)."""

    def __init__(self, message: str, line: int, column: int):
        super().__init__(f"line {line}:{column} {message}")
        self.reason = message
        self.line = line
        self.column = column

    def as_dict(self) -> dict:
        return {"error": self.reason, "line": self.line, "column": self.column}


class _FirstError(ErrorListener):
    """Keeps the first syntax error instead of ANTLR's default of printing every one to stderr."""

    def __init__(self):
        self.error: HeatSyntaxError | None = None

    def syntaxError(self, recognizer, offendingSymbol, line, column, msg, e):  # noqa: N802 - ANTLR's name
        if self.error is None:
            self.error = HeatSyntaxError(readable(msg, offendingSymbol), line, column)


_EXPECTED_SET = re.compile(r"expecting \{([^}]*)\}")
_UNCLOSED_QUOTES = {"'": "string literal", "`": "backquoted identifier", '"': "quoted identifier"}


def readable(message: str, token) -> str:
    """ANTLR's message, minus the list of 200 acceptable keywords it prints when an expression was expected."""
    text = getattr(token, "text", "") or ""
    if text in _UNCLOSED_QUOTES:
        return f"unterminated {_UNCLOSED_QUOTES[text]} (opening {text} has no closing quote)"
    match = _EXPECTED_SET.search(message)
    if match and match.group(1).count(",") >= 8:
        message = message[: match.start()] + "expecting an expression, a name or a keyword"
    return message


@dataclass(frozen=True)
class ParseOutcome:
    statements: tuple[Statement, ...]
    used_ll_fallback: bool


# ANTLR's Python runtime shares its prediction cache (DFA) between parser instances without locking. Parsing is
# CPU-bound under the GIL anyway, so serialising it costs no throughput and keeps that cache consistent when the
# recorder thread and another thread (CLI, API) parse at the same time.
_PARSE_LOCK = threading.Lock()


def parse(sql: str) -> ParseOutcome:
    """Parse one or more `;`-separated statements. Raises `HeatSyntaxError` with a position."""
    with _PARSE_LOCK:
        tree, used_ll = _parse_tree(sql)
    try:
        return ParseOutcome(tuple(SyntaxBuilder().statements(tree)), used_ll)
    except TreeShapeError as exc:
        raise HeatSyntaxError(str(exc), exc.line, exc.column) from None
    except RecursionError:
        raise HeatSyntaxError("query nested too deeply to analyse", 1, 0) from None


def _parse_tree(sql: str):
    lexer = ClickHouseLexer(InputStream(sql))
    lexer.removeErrorListeners()  # the grammar's catch-all token means the lexer itself never fails
    tokens = CommonTokenStream(lexer)
    parser = ClickHouseParser(tokens)
    parser.removeErrorListeners()
    parser._interp.predictionMode = PredictionMode.SLL
    parser._errHandler = BailErrorStrategy()
    used_ll = False
    try:
        tree = parser.queries()
    except ParseCancellationException:
        used_ll = True
        tree = _parse_ll(parser, tokens)
    except RecursionError:
        raise HeatSyntaxError("query nested too deeply to parse", 1, 0) from None
    return tree, used_ll


def _parse_ll(parser: ClickHouseParser, tokens: CommonTokenStream):
    errors = _FirstError()
    tokens.seek(0)
    parser.reset()
    parser.addErrorListener(errors)
    parser._errHandler = DefaultErrorStrategy()
    parser._interp.predictionMode = PredictionMode.LL
    try:
        tree = parser.queries()
    except RecursionError:
        raise HeatSyntaxError("query nested too deeply to parse", 1, 0) from None
    if errors.error is not None:
        raise errors.error
    return tree
