"""What an analyst can pick: the apps, and per app its events and their typed properties, from the tracking plan
and from what the warehouse saw in the last 30 days (read on the API's analyst handle, parameterised, bounded), plus
the context fields every event has as a column (platform, os, utm_source, ...)."""

from __future__ import annotations

from pipelines.analysis.schema import COLUMN_PROPERTIES
from pipelines.plan.model import AppPlan
from pipelines.warehouse.client import Warehouse

SEEN_DAYS = 30
# Property types are inferred from a bounded slice of recent events: a cheap query on any warehouse size.
TYPE_SAMPLE_EVENTS = 200_000
MAX_EVENTS = 1_000
MAX_PROPERTIES = 10_000
# The plan's types as the pickers need them (numeric properties offer numeric operators).
PLAN_TYPES = {"integer": "number", "number": "number", "boolean": "boolean", "string": "string", "array": "string", "object": "string"}


def apps(warehouse: Warehouse, plans: dict[str, AppPlan]) -> list[dict]:
    seen = {row[0] for row in warehouse.rows(
        f"SELECT DISTINCT app_id FROM events WHERE ts >= now() - INTERVAL {SEEN_DAYS} DAY LIMIT 10000")}  # fmt: skip
    return [{"app_id": app_id, "in_plan": app_id in plans, "seen": app_id in seen} for app_id in sorted(seen | set(plans))]


# Envelope fields every event carries in its own column (platform, os, utm_source, ...): offered with each event's
# properties for filters and breakdowns. Left out: the event name itself, and ids no one filters or groups by here.
CONTEXT_PROPERTIES = sorted(COLUMN_PROPERTIES - {"event", "person_id", "oneid", "session_id", "collector_id"})


def _seen_context(warehouse: Warehouse, app_id: str) -> set[str]:
    """The context columns with a non-empty value in the same bounded slice of recent events."""
    # Column names come from the fixed list above, never from the request.
    filled = ", ".join(f"max({column} != '')" for column in CONTEXT_PROPERTIES)
    row = warehouse.rows(
        f"SELECT {filled} FROM (SELECT {', '.join(CONTEXT_PROPERTIES)} FROM events WHERE app_id = {{app:String}} "
        f"AND ts >= now() - INTERVAL {SEEN_DAYS} DAY LIMIT {TYPE_SAMPLE_EVENTS})",
        {"app": app_id},
    )[0]
    return {column for column, seen in zip(CONTEXT_PROPERTIES, row) if seen}


def _seen_events(warehouse: Warehouse, app_id: str) -> dict[str, int]:
    rows = warehouse.rows(
        f"SELECT event, count() FROM events WHERE app_id = {{app:String}} AND ts >= now() - INTERVAL {SEEN_DAYS} DAY "
        f"GROUP BY event ORDER BY event LIMIT {MAX_EVENTS}",
        {"app": app_id},
    )
    return {event: int(count) for event, count in rows}


def _seen_properties(warehouse: Warehouse, app_id: str) -> dict[str, dict[str, str]]:
    """event -> property -> type, a type being what every sampled value parses as: boolean, number, datetime or
    else string."""
    rows = warehouse.rows(
        "SELECT event, key, min(value IN ('true', 'false')), min(isNotNull(toFloat64OrNull(value))), "
        "       min(isNotNull(parseDateTime64BestEffortOrNull(value))) "
        f"FROM (SELECT event, props FROM events WHERE app_id = {{app:String}} AND ts >= now() - INTERVAL {SEEN_DAYS} DAY "
        f"      LIMIT {TYPE_SAMPLE_EVENTS}) "
        "ARRAY JOIN mapKeys(props) AS key, mapValues(props) AS value "
        f"GROUP BY event, key ORDER BY event, key LIMIT {MAX_PROPERTIES}",
        {"app": app_id},
    )
    seen: dict[str, dict[str, str]] = {}
    for event, key, boolean, number, datetime in rows:
        kind = "boolean" if boolean else "number" if number else "datetime" if datetime else "string"
        seen.setdefault(event, {})[key] = kind
    return seen


def catalog(warehouse: Warehouse, app_id: str, plan: AppPlan | None) -> dict | None:
    """The app's events and properties, or None when neither the plan nor the warehouse knows the app."""
    counts = _seen_events(warehouse, app_id)
    if plan is None and not counts:
        return None
    seen_props = _seen_properties(warehouse, app_id) if counts else {}
    declared = plan.events if plan else {}
    events = []
    for name in sorted(set(declared) | set(counts)):
        spec = declared.get(name)
        planned = {prop.name: prop for prop in spec.properties} if spec else {}
        observed = seen_props.get(name, {})
        properties = [
            {
                "name": prop,
                "type": PLAN_TYPES[planned[prop].type] if prop in planned else observed[prop],
                "in_plan": prop in planned,
                "seen": prop in observed,
            }
            for prop in sorted(set(planned) | set(observed))
        ]
        events.append({
            "name": name, "description": spec.description if spec else "", "in_plan": spec is not None,
            "seen": name in counts, "count_30d": counts.get(name, 0), "properties": properties,
        })  # fmt: skip
    seen_context = _seen_context(warehouse, app_id) if counts else set()
    context = [
        {"name": column, "type": "string", "in_plan": False, "seen": column in seen_context}
        for column in CONTEXT_PROPERTIES
    ]
    return {"app_id": app_id, "events": events, "context_properties": context, **person_vocabulary(warehouse, app_id)}


MAX_PERSON_NAMES = 1_000  # per list: a picker shows names, not a CDP's every tag


def person_vocabulary(warehouse: Warehouse, app_id: str) -> dict[str, list]:
    """What the person-level filters and breakdowns (pipelines/analysis/person_filters.py) may name: audiences
    with a complete version (not a chain's temporary ones), tags any person ever had, and the person properties the
    app's SDKs set; the same tables the request check asks, so a name picked here is never refused as unknown."""
    limit = {"most": MAX_PERSON_NAMES}
    audiences = warehouse.rows(
        "SELECT toString(audience), max(version), argMax(size, version) FROM cdp_audience_versions "
        "WHERE kind != 'chain' GROUP BY audience ORDER BY audience LIMIT {most:UInt32}",
        limit,
    )
    tags = warehouse.rows("SELECT DISTINCT toString(tag) AS tag FROM cdp_tags ORDER BY tag LIMIT {most:UInt32}", limit)
    properties = warehouse.rows(
        "SELECT DISTINCT property FROM person_property_log WHERE app_id = {app:String} ORDER BY property LIMIT {most:UInt32}",
        {**limit, "app": app_id},
    )
    return {
        "audiences": [{"name": name, "version": version, "size": size} for name, version, size in audiences],
        "tags": [tag for (tag,) in tags],
        "person_properties": [name for (name,) in properties],
    }
