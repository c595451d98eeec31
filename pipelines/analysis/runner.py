"""Validate a request, build its SQL, run it through the warehouse client (so query heat sees every query), and
shape the response. Which models exist, and how each builds and shapes, is the registry's (registry.py); caching
and HTTP live outside (api.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pipelines.analysis.contract import ResultTooLarge, Steps
from pipelines.analysis.names import unknown_name_warnings
from pipelines.analysis.person_filters import resolve
from pipelines.analysis.registry import MODELS
from pipelines.analysis.shaping import Rows
from pipelines.analysis.sqlparams import BuiltQuery


@dataclass(frozen=True)
class Limits:
    """Per-query guards, passed to the warehouse as ClickHouse settings."""

    timeout_s: float = 30.0
    max_result_rows: int = 100_000


class QueryTimeout(RuntimeError):
    """The warehouse stopped the query at the time limit."""


class InvalidPattern(ValueError):
    """A `regex` filter value the warehouse cannot compile: RE2 syntax is the warehouse's to judge, the fault the
    request's."""


def parse_request(payload: dict[str, Any] | Any):
    """A validated request object (raises pydantic.ValidationError naming the offending field)."""
    if isinstance(payload, MODELS.request_types()):
        return payload
    return MODELS.request_adapter().validate_python(payload)


def build_queries(request, over: str | None = None) -> dict[str, BuiltQuery]:
    return MODELS.of(request).queries(request, over)


def _settings(limits: Limits) -> dict[str, Any]:
    return {
        "max_execution_time": limits.timeout_s,
        "max_result_rows": limits.max_result_rows,
        "result_overflow_mode": "throw",
    }


def _run(warehouse, query: BuiltQuery, limits: Limits) -> Rows:
    try:
        result = warehouse.query(query.sql, query.parameters, settings=_settings(limits))
    except Exception as exc:
        message = str(exc)
        if "TIMEOUT_EXCEEDED" in message or "Timeout exceeded" in message:
            raise QueryTimeout(f"query exceeded the {limits.timeout_s:g}s limit") from None
        if "TOO_MANY_ROWS" in message:
            raise ResultTooLarge(f"result exceeds {limits.max_result_rows:,} rows; narrow the request") from None
        if "CANNOT_COMPILE_REGEXP" in message:
            reason = message.splitlines()[0][:500]
            raise InvalidPattern(f"a `regex` filter value is not a regular expression (RE2 syntax): {reason}") from None
        raise
    return Rows(list(result.column_names), list(result.result_rows))


def run_model(request, warehouse, limits: Limits = Limits(), over: str | None = None) -> dict[str, Any]:
    """The response of one validated single-model request: its queries run, their rows shaped (no warnings); read
    from its per-person rows materialised in the tables of base `over` when given (AnalysisModel.per_person)."""
    results = {name: _run(warehouse, query, limits) for name, query in build_queries(request, over).items()}
    return MODELS.of(request).shape(request, results)


def prepare(payload, warehouse, limits: Limits = Limits()):
    """The validated request with its person-level names checked and audience versions pinned (person_filters.py):
    raises pydantic.ValidationError or person_filters.UnknownPersonNames, both naming the field. What `execute`
    runs, and what a cache keys on (a new audience version is a new request)."""
    return resolve(parse_request(payload), lambda query: _run(warehouse, query, limits).rows)


def run_query(payload, warehouse, limits: Limits = Limits()) -> dict[str, Any]:
    """Run one analysis request on `warehouse` (use the read-only `analyst` role) and return the response, with
    `warnings` naming the events and properties the app has never heard of (names.py): never silent zeros."""
    return execute(prepare(payload, warehouse, limits), warehouse, limits)


def execute(request, warehouse, limits: Limits = Limits()) -> dict[str, Any]:
    """run_query of a prepared request."""
    started = time.perf_counter()
    model = MODELS.of(request)
    if model.run is not None:
        steps = Steps(prepare=lambda body: prepare(body, warehouse, limits), run=lambda part, over=None: run_model(part, warehouse, limits, over), model_of=MODELS.of)
        response = model.run(request, warehouse, limits, steps)
    else:
        response = run_model(request, warehouse, limits)
    source = (getattr(warehouse, "url", None), getattr(warehouse, "database", None))
    warnings = unknown_name_warnings(request, lambda query: _run(warehouse, query, limits).rows, source)
    return {"model": request.model, **response, "warnings": warnings, "query_ms": round((time.perf_counter() - started) * 1000, 1)}
