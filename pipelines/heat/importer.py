"""Importer of a real ClickHouse's `system.query_log`: queries that did not go through the platform (BI tools,
clickhouse-client sessions) still count towards heat.

Reads finished queries (`type = 'QueryFinish'` or failed ones) from a given Warehouse and records them with
`source = 'system.query_log'`. `query_log`'s ReplacingMergeTree on query_id makes re-imports idempotent; queries
the platform already recorded (same query_id) collapse too. The embedded chDB warehouse has no
`system.query_log`; pass `table=` to read a table of the same shape.
"""

from __future__ import annotations

from datetime import datetime, timezone

from pipelines.heat.recorder import HeatRecorder, SeenQuery

# The `system.query_log` columns we read (present in every ClickHouse since 21.x).
IMPORT_SQL = """
SELECT query_id, query, user, toFloat64(toUnixTimestamp64Micro(query_start_time_microseconds)) / 1e6 AS started,
       query_duration_ms, read_rows, result_rows, exception, type
FROM {database:Identifier}.{table:Identifier}
WHERE type IN ('QueryFinish', 'ExceptionWhileProcessing', 'ExceptionBeforeStart')
  AND is_initial_query
  AND event_time >= {since:DateTime}
  AND query_kind IN ('Select', 'Insert', 'Create', 'Alter', 'Drop', 'System', 'Explain', 'Show', 'Describe', 'Other', '')
  AND user NOT IN {skip_users:Array(String)}
ORDER BY event_time
LIMIT {limit:UInt64}
"""


def import_query_log(
    source,
    recorder: HeatRecorder,
    since: datetime,
    table: str = "system.query_log",
    limit: int = 100_000,
    skip_users: tuple[str, ...] = (),
) -> int:
    """Record queries from `source`'s query log started at or after `since`; returns how many were read.

    `skip_users` leaves out accounts whose queries the platform already records (e.g. the analyst user)."""
    database, _, name = table.rpartition(".")
    rows = source.client().query(
        IMPORT_SQL,
        parameters={
            "database": database or source.database,
            "table": name,
            "since": since.astimezone(timezone.utc).replace(tzinfo=None),
            "limit": limit,
            "skip_users": list(skip_users),
        },
    ).result_rows
    batch = [
        SeenQuery(
            query_id=query_id,
            sql=query,
            parameters={},
            user=user,
            started_at=float(started),
            duration_s=float(duration_ms) / 1000.0,
            read_rows=int(read_rows),
            result_rows=int(result_rows),
            error=exception or "",
            source="system.query_log",
        )
        for query_id, query, user, started, duration_ms, read_rows, result_rows, exception, _ in rows
    ]
    for start in range(0, len(batch), recorder.batch_size):
        recorder.record(batch[start : start + recorder.batch_size])
    return len(batch)
