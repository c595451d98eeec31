"""The SQL of a push, built from its definition: warehouse queries (plan, rows, rejects, checksum) and the
PostgreSQL side (target DDL, checksum). Values (days, chunk numbers) are query parameters; identifiers and
expressions come from the validated definitions file, which is operator-authored configuration.

Conversion happens in the warehouse: each column is cast with `accurateCastOrNull`, and a non-empty value that
casts to NULL makes the row dirty, with a reason naming the column and value. So the clean rows leave the
warehouse already in the target's types and stream into COPY as CSV bytes without Python touching each row.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from pipelines.push.definitions import Column, Push

CLICKHOUSE_TYPES = {
    "bigint": "Int64",
    "integer": "Int32",
    "double": "Float64",
    "boolean": "Bool",
    "timestamptz": "DateTime64(3, \\'UTC\\')",  # inside a quoted type name
    "date": "Date",
    "uuid": "UUID",
}
POSTGRES_TYPES = {"text": "text", "json": "json", "bigint": "bigint", "integer": "integer", "double": "double precision",
                  "boolean": "boolean", "timestamptz": "timestamptz", "date": "date", "uuid": "uuid"}  # fmt: skip
# Every target row records which partition and chunk wrote it: replacing a chunk is one indexed DELETE.
PUSH_DATE, PUSH_CHUNK = "_push_date", "_push_chunk"


def day_bounds(push: Push, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The partition `day` in the push's timezone, as a UTC [start, end) range (keeps partition pruning)."""
    zone = ZoneInfo(push.timezone)
    start = dt.datetime.combine(day, dt.time(), zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)
    return start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)


def _converted(column: Column) -> str:
    expression = f"({column.expression})"
    if column.type == "json":
        return f"toJSONString({expression})"
    if column.type == "text":
        return f"toString({expression})"
    return f"accurateCastOrNull({expression}, '{CLICKHOUSE_TYPES[column.type]}')"


def _blank(column: Column) -> str:
    return f"(ifNull(toString({column.expression}), '') = '')"


def _problems(index: int, column: Column) -> list[tuple[str, str]]:
    """(condition, reason) pairs that make a row dirty because of this column. Reasons quote the raw value r<i>,
    which only the rejects query selects: the hot path evaluates the cheap conditions alone."""
    problems = []
    if column.required:
        problems.append((f"b{index}", f"'{column.name}: empty but required'"))
    if column.type not in ("text", "json"):
        problems.append(
            (f"(NOT b{index} AND isNull(c{index}))", f"concat('{column.name}: ', substring(r{index}, 1, 80), ' is not {column.type}')")
        )
    return problems


def _all_problems(push: Push) -> list[tuple[str, str]]:
    return [problem for i, c in enumerate(push.source.columns) for problem in _problems(i, c)]


def _dirty(push: Push) -> str:
    conditions = [condition for condition, _ in _all_problems(push)]
    return f"({' OR '.join(conditions)})" if conditions else "false"


def hash_range_chunk(hash_sql: str, count: int) -> str:
    """The chunk in [0, count) of a UInt64 hash: floor(hash * count / 2^64), computed exactly in UInt128.

    Chunks are contiguous ranges of the 64-bit hash, `count` of them, so a chunk can later be split without moving
    rows between the others: chunk c of n is exactly chunks c*k .. c*k+k-1 of n*k. (A range width written into the
    SQL cannot do this at every count: 2^64 for one chunk is no UInt64, and ClickHouse reads such a literal as
    Float64, which `toUInt64` turned into 2^63 - half the rows landed in a chunk 1 that was never pushed.)"""
    return f"toUInt32(bitShiftRight(toUInt128({hash_sql}) * {int(count)}, 64))"


def chunk_expression(push: Push) -> str:
    """The chunk (0-based) a source row belongs to."""
    if push.chunking.by == "hour":
        return f"toHour({push.source.time_column}, '{push.timezone}')"
    return hash_range_chunk(f"cityHash64({push.chunking.key})", push.chunking.count)


def _scan(push: Push, one_chunk: bool, raw_text: bool = False) -> str:
    """Source rows of the partition (of one chunk: parameter `chunk`) with converted values c<i>, blank flags b<i>,
    the chunk number and, for rejects, each value as text r<i>. The chunk condition sits in the scan's own WHERE
    so the warehouse can apply it (PREWHERE) before reading and converting the other columns."""
    columns = push.source.columns
    selected = [f"{_converted(c)} AS c{i}, {_blank(c)} AS b{i}" for i, c in enumerate(columns)]
    if raw_text:
        selected += [f"toString({c.expression}) AS r{i}" for i, c in enumerate(columns)]
    time_column = push.source.time_column
    where = f"{time_column} >= {{start:DateTime64(3, 'UTC')}} AND {time_column} < {{end:DateTime64(3, 'UTC')}}"
    if push.source.filter:
        where += f" AND ({push.source.filter})"
    if one_chunk:
        where += f" AND {chunk_expression(push)} = {{chunk:UInt32}}"
    return f"SELECT {', '.join(selected)}, {chunk_expression(push)} AS _chunk FROM {push.source.table} WHERE {where}"


def plan_sql(push: Push) -> str:
    """Rows and dirty rows per chunk: the planner's input, and the dirty-limit check before anything is written."""
    return f"SELECT _chunk, count(), countIf({_dirty(push)}) FROM ({_scan(push, one_chunk=False)}) GROUP BY _chunk ORDER BY _chunk"


def _outputs(push: Push) -> str:
    # Files carry UUIDs as text: Parquet has no UUID type every reader agrees on.
    as_text = push.target.kind != "postgres"
    return ", ".join(
        f"{f'toString(c{i})' if as_text and c.type == 'uuid' else f'c{i}'} AS {c.name}" for i, c in enumerate(push.source.columns)
    )


def rows_sql(push: Push, with_push_columns: bool) -> str:
    """The clean rows of one chunk in target column order (fetched as CSV or Parquet). A PostgreSQL target also
    gets the partition day and chunk number of each row (`with_push_columns`)."""
    outputs = _outputs(push)
    if with_push_columns:
        outputs += f", {{day:Date}} AS {PUSH_DATE}, _chunk AS {PUSH_CHUNK}"
    return f"SELECT {outputs} FROM ({_scan(push, one_chunk=True)}) WHERE NOT {_dirty(push)}"


def target_columns(push: Push, with_push_columns: bool) -> list[str]:
    names = [c.name for c in push.source.columns]
    return names + [PUSH_DATE, PUSH_CHUNK] if with_push_columns else names


def rejects_sql(push: Push, whole_partition: bool = False) -> str:
    """Dirty rows of one chunk (or of the whole partition): each source value as text, plus the reason."""
    named = ", ".join(f"r{i} AS {c.name}" for i, c in enumerate(push.source.columns))
    reasons = ", ".join(f"if({condition}, {reason}, '')" for condition, reason in _all_problems(push)) or "''"
    reason = f"arrayStringConcat(arrayFilter(x -> x != '', [{reasons}]), '; ')"
    scan = _scan(push, one_chunk=not whole_partition, raw_text=True)
    return f"SELECT {named}, {reason} AS reason FROM ({scan}) WHERE {_dirty(push)}"


# -- checksums: the same canonical text per value on both sides, an order-independent sum of 60-bit hashes ------
# Canonical text per target type, (warehouse, PostgreSQL) side by side so the two stay in step; {v} is the value.
# Other types use their plain text, which both sides render alike (uuid lower-case, date ISO, json verbatim).
CANONICAL = {
    "double": ("toString(toInt64(round({v} * 1000000)))", "round({v} * 1000000)::bigint::text"),  # both round half-even
    "boolean": ("toString(toUInt8({v}))", "{v}::int::text"),
    "timestamptz": ("toString(toUnixTimestamp64Milli({v}))", "floor(extract(epoch from {v}) * 1000)::bigint::text"),
    "date": ("toString({v})", "to_char({v}, 'YYYY-MM-DD')"),
}
PLAIN_TEXT = ("toString({v})", "{v}::text")


def _canonical_clickhouse(index: int, column: Column) -> str:
    text = CANONICAL.get(column.type, PLAIN_TEXT)[0].format(v=f"c{index}")
    return f"ifNull({text}, '\\\\N')"


def _canonical_postgres(column: Column) -> str:
    text = CANONICAL.get(column.type, PLAIN_TEXT)[1].format(v=f'"{column.name}"')
    return f"coalesce({text}, '\\N')"


def source_checksum_sql(push: Push) -> str:
    """Clean rows of the partition: count and checksum (what the target must hold)."""
    scan = _scan(push, one_chunk=False)
    row = f"arrayStringConcat([{', '.join(_canonical_clickhouse(i, c) for i, c in enumerate(push.source.columns))}], char(31))"
    hashed = f"reinterpretAsUInt64(reverse(unhex(concat('0', substring(hex(MD5({row})), 1, 15)))))"
    return f"SELECT count(), toString(sum(toUInt128({hashed}))) FROM ({scan}) WHERE NOT {_dirty(push)}"


def target_checksum_sql(push: Push) -> str:
    row = f"concat_ws(chr(31), {', '.join(_canonical_postgres(c) for c in push.source.columns)})"
    hashed = f"('x' || substr(md5({row}), 1, 15))::bit(60)::bigint"
    return f"SELECT count(*), coalesce(sum({hashed}), 0)::text FROM {push.target.table} WHERE {PUSH_DATE} = %s"


def target_ddl(push: Push) -> list[str]:
    """Create the target table if missing (an existing table is left as it is: the department may own it)."""
    table = push.target.table
    columns = [f'"{c.name}" {POSTGRES_TYPES[c.type]}' for c in push.source.columns]
    columns += [f"{PUSH_DATE} date NOT NULL", f"{PUSH_CHUNK} integer NOT NULL"]
    statements = []
    if "." in table:
        statements.append(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
    if push.write_mode == "upsert":
        columns.append(f"PRIMARY KEY ({', '.join(chr(34) + k + chr(34) for k in push.key)})")
    statements.append(f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(columns)})")
    index = table.replace(".", "_") + "_push_chunk"
    statements.append(f"CREATE INDEX IF NOT EXISTS {index} ON {table} ({PUSH_DATE}, {PUSH_CHUNK})")
    return statements
