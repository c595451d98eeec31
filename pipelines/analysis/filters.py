"""Property expressions and filters, and the WHERE conditions every model starts from (app, time, events,
global filters, sampling). The one filter builder all models share; person-level filters and breakdowns (audience,
tag, person property) are built by person_filters.py."""

from __future__ import annotations

from collections.abc import Iterable

from pipelines.analysis.expr import all_of, any_of
from pipelines.analysis.person_filters import PersonFilter, breakdown_expr as person_breakdown_expr, person_condition
from pipelines.analysis.request import ANY_EVENT, Breakdown, EventSelector, PropertyFilter, QueryScope, scalar_text
from pipelines.analysis.schema import COLUMN_PROPERTIES, MATERIALIZED_PROPERTIES, PERSON_KEY
from pipelines.analysis.sqlparams import SqlParams
from pipelines.analysis.timerange import TimeRange

SAMPLE_SCALE = 10_000  # sampling resolution: 1/10,000 of the persons


def property_expr(name: str, params: SqlParams) -> str:
    """The String value of a property: its column, its materialized column, or the props map entry (the key is
    a parameter, so even a hostile name cannot change the SQL)."""
    if name in COLUMN_PROPERTIES:
        return name
    if name in MATERIALIZED_PROPERTIES:
        return MATERIALIZED_PROPERTIES[name]
    return f"props[{params.add('prop', name, 'String')}]"


def numeric_expr(name: str, params: SqlParams) -> str:
    """The property as a number; NULL when absent or not numeric, so aggregates skip it."""
    return f"toFloat64OrNull({property_expr(name, params)})"


def _is_set(name: str, params: SqlParams) -> str:
    if name in COLUMN_PROPERTIES:
        return f"{name} != ''"
    return f"mapContains(props, {params.add('prop', name, 'String')})"


def breakdown_expr(item: Breakdown, params: SqlParams) -> str:
    """The String a model groups an event under: a property's value, or the person's tag or audience."""
    return property_expr(item, params) if isinstance(item, str) else person_breakdown_expr(item, params)


def filter_condition(item: PropertyFilter | PersonFilter, params: SqlParams) -> str:
    if not isinstance(item, PropertyFilter):
        return person_condition(item, params)
    op, value = item.op, item.value
    if op == "is_set":
        return _is_set(item.property, params)
    if op == "is_not_set":
        return f"NOT ({_is_set(item.property, params)})"
    if op in (">", "<"):
        return f"{numeric_expr(item.property, params)} {op} {params.add('value', value, 'Float64')}"
    if op == "between":
        low, high = (params.add("value", v, "Float64") for v in value)
        return f"{numeric_expr(item.property, params)} BETWEEN {low} AND {high}"
    prop = property_expr(item.property, params)
    if op in ("=", "!="):
        return f"{prop} {op} {params.add('value', scalar_text(value), 'String')}"
    if op in ("in", "not_in"):
        values = params.add("values", [scalar_text(v) for v in value], "Array(String)")
        return f"{prop} {'IN' if op == 'in' else 'NOT IN'} {values}"
    if op == "contains":
        return f"position({prop}, {params.add('value', scalar_text(value), 'String')}) > 0"
    if op == "regex":
        return f"match({prop}, {params.add('pattern', scalar_text(value), 'String')})"
    raise ValueError(f"unsupported filter op {op!r}")  # unreachable: the request model lists the ops


def selector_condition(selector: EventSelector, params: SqlParams, hint: str = "event") -> str:
    """Matches one event selector: its event name (none for ANY_EVENT) and its own filters."""
    event = "" if selector.event == ANY_EVENT else f"event = {params.add(hint, selector.event, 'String')}"
    return all_of([event, *(filter_condition(f, params) for f in selector.filters)])


def scope_conditions(
    scope: QueryScope, params: SqlParams, events: Iterable[str], time_range: TimeRange | None = None
) -> list[str]:
    """WHERE conditions for the request's app, time range, the events a model reads, global filters and sampling.
    Listing the events lets the sort key (app_id, event, date, ...) skip everything else; with ANY_EVENT among
    them every event is read."""
    events = set(events)
    conditions = [
        f"app_id = {params.add('app_id', scope.app_id, 'String')}",
        (time_range or TimeRange.of(scope)).condition(params),
        "" if ANY_EVENT in events else f"event IN {params.add('events', sorted(events), 'Array(String)')}",
    ]
    conditions += [filter_condition(f, params) for f in scope.filters]
    if scope.sample is not None and scope.sample < 1:
        rate = params.add("sample_per_10k", round(scope.sample * SAMPLE_SCALE), "UInt32")
        conditions.append(f"{PERSON_KEY} % {SAMPLE_SCALE} < {rate}")
    return conditions


def histogram_sql(value: str, edges_placeholder: str, only_if: str | None = None) -> str:
    """Per-bucket counts of `value` for buckets [edge_i, edge_i+1) and a last open bucket [edge_n, inf),
    counting only rows where `only_if` holds."""
    edges = edges_placeholder
    below_next = any_of([f"i = length({edges})", f"{value} < {edges}[i + 1]"])
    in_bucket = all_of([only_if or "", f"{value} >= {edges}[i]", below_next])
    return f"sumForEach(arrayMap(i -> toUInt64({in_bucket}), arrayEnumerate({edges})))"


def uniform_histogram_sql(value: str, bin_placeholder: str, bins: int, only_if: str) -> str:
    """Counts of `value` in buckets i = [i * bin, (i + 1) * bin) and a last open bucket `bins - 1`, counting only
    rows where `only_if` holds: an array of `bins` counts, one bucket per row (not one comparison per edge)."""
    return f"sumResample(0, {bins}, 1)(toUInt64({only_if}), least(intDiv({value}, {bin_placeholder}), {bins - 1}))"


QUANTILE_LEVELS = (0.1, 0.25, 0.5, 0.75, 0.9)


def quantiles_sql(arguments: str, levels: Iterable[float] = QUANTILE_LEVELS, combinator: str = "") -> str:
    """Exact, linearly interpolated quantiles (numpy/pandas' default definition); `combinator` is e.g. If/ForEach."""
    return f"quantilesExactInclusive{combinator}({', '.join(str(level) for level in levels)})({arguments})"
