"""Extraction: SQL text -> `Extraction`. The parse step, then the passes in order, then parameter binding.

    parse -> qualify -> (tables, columns, events, time range) -> bind parameters

Each pass is a pure function of the qualified tree, so each is tested alone. The expensive part is the parse, so
`Extractor` caches the unbound result per normalized query text (comments dropped, whitespace collapsed outside
quotes): the analysis models send the same text with different `{name:Type}` parameters, and binding is cheap.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from pipelines.heat import syntax as s
from pipelines.heat.catalog import Catalog
from pipelines.heat.columns import collect_columns
from pipelines.heat.events import DEFAULT_EVENT_COLUMNS, collect_events
from pipelines.heat.model import ColumnUse, EventUse, Extraction, TimeBound, Unresolved
from pipelines.heat.parse import HeatSyntaxError, parse
from pipelines.heat.qualify import qualify
from pipelines.heat.tables import collect_tables
from pipelines.heat.timerange import collect_time_range

_LEXEMES = re.compile(
    r"""(?P<quoted>'(?:[^'\\]|\\.|'')*'|`(?:[^`\\]|\\.|``)*`|"(?:[^"\\]|\\.|"")*")"""
    r"""|(?P<comment>--[^\n]*|\#[^\n]*|/\*.*?\*/)|(?P<space>\s+)""",
    re.S,
)
_PLACEHOLDER = re.compile(r"^\{(?P<name>[^:}]+):(?P<type>.+)\}$")


_QUOTED = re.compile(r"""('(?:[^'\\]|\\.|'')*'|`(?:[^`\\]|\\.|``)*`|"(?:[^"\\]|\\.|"")*")""")


def normalize(sql: str) -> str:
    """The cache key: same text for queries that differ only in comments, whitespace and a trailing `;`."""
    if "--" in sql or "/*" in sql or "#" in sql:
        return _slow_normalize(sql)
    # No comments: split out the quoted parts and collapse whitespace in the code between them (the recorder
    # does this for every logged query, so it avoids a regex callback per whitespace run).
    parts = _QUOTED.split(sql)
    for index in range(0, len(parts), 2):
        code = parts[index]
        collapsed = " ".join(code.split())
        if collapsed and code[0].isspace():
            collapsed = " " + collapsed
        if collapsed and code[-1].isspace():
            collapsed += " "
        parts[index] = collapsed if collapsed or not code else " "
    return "".join(parts).strip().rstrip(";").strip()


def _slow_normalize(sql: str) -> str:
    def keep(match: re.Match) -> str:
        return match.group("quoted") or " "

    return _LEXEMES.sub(keep, sql).strip().rstrip(";").strip()


@dataclass(frozen=True)
class ExtractionFailure:
    """A query that could not be parsed: message and position (line 1-based, column 0-based)."""

    error: str
    line: int
    column: int

    def as_json(self) -> dict:
        return {"error": self.error, "line": self.line, "column": self.column}


def statement_kind(statement: s.Statement) -> str:
    if isinstance(statement, s.QueryStatement):
        return "select"
    if isinstance(statement, s.InsertStatement):
        return "insert"
    if isinstance(statement, s.CreateStatement):
        return "create"
    if isinstance(statement, s.ExplainStatement):
        return "explain"
    return statement.verb.lower()


def extract_statement(statement: s.Statement, catalog: Catalog, event_columns=DEFAULT_EVENT_COLUMNS) -> Extraction:
    qualified = qualify(statement, catalog)
    tables = collect_tables(qualified, catalog.default_database)
    columns, unbound = collect_columns(qualified)
    events, event_gaps = collect_events(qualified, event_columns)
    time_range, time_gaps = collect_time_range(qualified, catalog)
    return Extraction(
        statement=statement_kind(statement),
        tables=tables.tables,
        columns=columns,
        events=events,
        time_range=time_range,
        unresolved=tables.unresolved + unbound + event_gaps + time_gaps,
        dictionaries=tables.dictionaries,
        table_functions=tables.table_functions,
        writes=tables.writes,
    )


def merge(extractions: list[Extraction]) -> Extraction:
    """One result for a multi-statement text: unions in first-seen order."""
    if len(extractions) == 1:
        return extractions[0]

    def union(attribute):
        return tuple(dict.fromkeys(item for e in extractions for item in getattr(e, attribute)))

    roles: dict[tuple[str, str], set[str]] = {}
    for extraction in extractions:
        for use in extraction.columns:
            roles.setdefault((use.table, use.column), set()).update(use.roles)
    columns = tuple(ColumnUse(t, c, tuple(sorted(r))) for (t, c), r in roles.items())
    return Extraction(
        statement=",".join(dict.fromkeys(e.statement for e in extractions)),
        tables=union("tables"), columns=columns, events=union("events"), time_range=union("time_range"),
        unresolved=union("unresolved"), dictionaries=union("dictionaries"),
        table_functions=union("table_functions"), writes=union("writes"),
    )


_PLACEHOLDER_ANYWHERE = re.compile(r"\{(?P<name>[^:{}]+):(?P<type>[^{}]+)\}")
# Time bounds that are a conversion of one bound number: shown as the instant they denote.
_EPOCH_CONVERSIONS = {
    "fromUnixTimestamp64Milli": 1e-3, "fromUnixTimestamp64Micro": 1e-6, "fromUnixTimestamp64Nano": 1e-9,
    "fromUnixTimestamp": 1.0, "toDateTime": 1.0, "toDateTime64": 1.0,
}
_CONVERSION = re.compile(r"^(?P<function>\w+)\((?P<number>-?\d+)(?:, .*)?\)$")


def _instant(text: str) -> str:
    """`fromUnixTimestamp64Milli(1793491200000)` -> `2026-11-01T00:00:00+00:00`; anything else unchanged."""
    match = _CONVERSION.match(text)
    if match and match.group("function") in _EPOCH_CONVERSIONS:
        seconds = int(match.group("number")) * _EPOCH_CONVERSIONS[match.group("function")]
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat()
        except (OverflowError, OSError, ValueError):
            return text
    return text


def bind(extraction: Extraction, parameters: dict[str, Any] | None) -> Extraction:
    """Fill `{name:Type}` placeholders in events and time bounds from the query's parameters."""
    has_placeholder = any(e.event.startswith("{") for e in extraction.events) or any(
        "{" in (t.lower or "") or "{" in (t.upper or "") for t in extraction.time_range
    )
    if not has_placeholder:
        return extraction
    parameters = parameters or {}
    missing: list[Unresolved] = []

    def note_missing(text: str) -> None:
        missing.append(Unresolved("parameter", text, "query parameter has no value"))

    def event_names(text: str) -> list[str]:
        match = _PLACEHOLDER.match(text)
        if not match:
            return [text]
        if match.group("name") not in parameters:
            note_missing(text)
            return [text]
        value = parameters[match.group("name")]
        return [str(v) for v in value] if isinstance(value, (list, tuple, set)) else [str(value)]

    def bound(text: str | None) -> str | None:
        if text is None or "{" not in text:
            return text

        def substitute(match: re.Match) -> str:
            if match.group("name") not in parameters:
                note_missing(match.group(0))
                return match.group(0)
            return str(parameters[match.group("name")])

        return _instant(_PLACEHOLDER_ANYWHERE.sub(substitute, text))

    events = tuple(
        dict.fromkeys(EventUse(name, e.table, e.via) for e in extraction.events for name in event_names(e.event))
    )
    time_range = tuple(TimeBound(t.column, bound(t.lower), bound(t.upper), t.relative) for t in extraction.time_range)
    return replace(extraction, events=events, time_range=time_range, unresolved=extraction.unresolved + tuple(missing))


class Extractor:
    """Extraction with an LRU cache of unbound results keyed by normalized text. Thread-safe."""

    def __init__(self, catalog: Catalog | None = None, cache_size: int = 4096, event_columns=DEFAULT_EVENT_COLUMNS):
        self.catalog = catalog or Catalog()
        self.cache_size = cache_size
        self.event_columns = frozenset(event_columns)
        self._cache: OrderedDict[str, Extraction] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def extract(
        self, sql: str, parameters: dict[str, Any] | None = None, key: str | None = None
    ) -> Extraction | ExtractionFailure:
        """`key`: the normalized text if the caller already has it (the recorder also stores its hash)."""
        key = key if key is not None else normalize(sql)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                self.hits += 1
        if cached is None:
            # Parse the text as given (not the normalized key) so error positions point into the caller's SQL;
            # failures are not cached for the same reason: another spelling would get the wrong position.
            cached = self._extract_unbound(sql)
            with self._lock:
                self.misses += 1
                if isinstance(cached, ExtractionFailure):
                    return cached
                self._cache[key] = cached
                if len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return bind(cached, parameters)

    def _extract_unbound(self, sql: str) -> Extraction | ExtractionFailure:
        try:
            statements = parse(sql).statements
            return merge([extract_statement(st, self.catalog, self.event_columns) for st in statements])
        except HeatSyntaxError as exc:
            return ExtractionFailure(exc.reason, exc.line, exc.column)
        except RecursionError:
            return ExtractionFailure("query nested too deeply to analyse", 1, 0)
        except Exception as exc:  # a bug in a pass must not take the recorder down; report it like bad SQL
            return ExtractionFailure(f"internal error while analysing ({exc.__class__.__name__}: {exc})", 1, 0)


def extract(sql: str, parameters: dict[str, Any] | None = None, catalog: Catalog | None = None):
    """One-off extraction without a shared cache (the CLI and tests)."""
    return Extractor(catalog, cache_size=1).extract(sql, parameters)
