"""A PostHog-style path query in plain ClickHouse SQL, the peer the path model is timed against: each person's
(time, event) pairs in one `groupArray`, sorted, cut into sessions with `arraySplit` at the inactivity gap, each
session cut from the first start event (`indexOf`), consecutive repeats dropped, the first N kept, then one row per
(step, source, target) with its paths and average time (PostHog's paths insight builds the same arrays).

It answers the plain question only (an event-name start without filters, every event an element): no persons per
edge, no folding, no step totals. Its ties are broken by event name and its sessions split at the gap, as the
model's are, so its counts for the edges the model lists must equal the model's (the bench checks them).
"""

from __future__ import annotations

from pipelines.analysis.paths import PathsQuery
from pipelines.analysis.schema import PERSON_KEY


def posthog_paths_sql(request: PathsQuery, params: dict) -> tuple[str, dict]:
    """The peer's SQL over the same app and range (`params` of the model's query: app_id, time_from, time_to)."""
    assert request.item == "event" and request.start is not None and not request.start.filters and not request.events
    values = {k: params[k] for k in ("app_id", "time_from", "time_to")}
    values |= {"start": request.start.event, "gap_ms": request.session_gap_seconds * 1000, "steps": request.steps}
    sql = f"""
SELECT step, path[step].2 AS source, path[step + 1].2 AS target, count() AS paths, avg(path[step + 1].1 - path[step].1) AS avg_ms
FROM (
    SELECT person,
           arraySlice(session, indexOf(session.2, {{start:String}})) AS from_start,
           arraySlice(arrayFilter((x, previous, i) -> i = 1 OR x.2 != previous, from_start,
                                  arrayShiftRight(from_start.2, 1), arrayEnumerate(from_start)), 1, {{steps:UInt32}}) AS path
    FROM (
        SELECT {PERSON_KEY} AS person, arraySort(groupArray((toUnixTimestamp64Milli(ts), toString(event)))) AS timeline,
               arraySplit((x, d) -> d >= {{gap_ms:Int64}}, timeline, arrayDifference(timeline.1)) AS sessions
        FROM events
        WHERE app_id = {{app_id:String}} AND ts >= fromUnixTimestamp64Milli({{time_from:Int64}}) AND ts < fromUnixTimestamp64Milli({{time_to:Int64}})
        GROUP BY person
    )
    ARRAY JOIN sessions AS session
    WHERE has(session.2, {{start:String}})
)
ARRAY JOIN arrayEnumerate(arrayPopBack(path)) AS step
GROUP BY step, source, target
ORDER BY step, paths DESC, source, target"""
    return sql, values


def same_counts(response: dict, peer_rows: list[tuple]) -> str:
    """Whether the peer's paths per edge equal the model's for every edge the model lists (not folded)."""
    peer = {(int(step), source, target): int(paths) for step, source, target, paths, _ in peer_rows}
    listed = [e for e in response["edges"] if e["step"] > 0 and not e["other"]]
    differ = [e for e in listed if peer.get((e["step"], e["source"], e["target"])) != e["count"]]
    if differ:
        first = differ[0]
        return f"{len(differ)} of {len(listed)} listed edges differ (e.g. step {first['step']} {first['source']} -> {first['target']}: model {first['count']}, peer {peer.get((first['step'], first['source'], first['target']))})"
    return f"all {len(listed)} listed edges have the model's counts"
