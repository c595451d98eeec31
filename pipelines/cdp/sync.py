"""One sync run of a `cdp.yaml` source: read its rows, map its person ids to OneIDs inside the warehouse, write its
tags and a new version of each of its audiences, and record the run in `cdp_sync_runs`.

The order makes a failure safe: the rows are read and staged (`cdp_sync_staging`, one partition per run) and every
audience is checked against the size limit before anything is written; audiences get new versions through
`store.write_members_from_sql`, visible only when complete, so a source that fails keeps its previous versions.
Person ids are normalised as identity.yaml says for their type and looked up in `oneid_map` (the newest row per id,
not deleted); ids with no OneID are counted per type and reported with a sample, never dropped silently. An id type
identity.yaml does not declare fails the run naming it.

Full mode: the rows are the whole truth for the source's tags; only values that changed are appended, and a tag the
source wrote before but no longer gives is appended as deleted. Incremental mode: rows changed after the watermark
(the newest `updated` of the last successful run) are appended as they are; a NULL tag value deletes the tag.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.cdp import store
from pipelines.cdp.sources import Source, SourceError, read_rows

log = logging.getLogger("trackflow.cdp")
RUN_COLUMNS = (
    "run", "source", "mode", "status", "started", "finished", "rows_read", "persons_mapped", "unmapped", "unmapped_by_type",
    "tags_written", "tags_deleted", "audience_versions", "watermark", "error",
)  # fmt: skip
UNMAPPED_SAMPLE = 5

# The OneID of each staged id of the run: the newest oneid_map row of (id_type, id_value), unless that row deletes it.
MAPPING_SQL = """
SELECT id_value, argMax(oneid, version) AS oneid
FROM oneid_map
WHERE id_type = {id_type:String} AND id_value IN (SELECT id_value FROM cdp_sync_staging WHERE run = {run:UInt64})
GROUP BY id_value
HAVING argMax(deleted, version) = 0
"""
# Ids of type `oneid`: a retired OneID redirects to its survivor (its oneid_map row); a current one maps to itself.
ONEID_MAPPING_SQL = """
SELECT id_value, oneid FROM (
    SELECT id_value, argMax(oneid, version) AS oneid, 0 AS preference
    FROM oneid_map
    WHERE id_type = 'oneid' AND id_value IN (SELECT id_value FROM cdp_sync_staging WHERE run = {run:UInt64})
    GROUP BY id_value
    HAVING argMax(deleted, version) = 0
    UNION ALL
    SELECT DISTINCT oneid AS id_value, oneid, 1 AS preference
    FROM oneid_current
    WHERE oneid IN (SELECT id_value FROM cdp_sync_staging WHERE run = {run:UInt64})
)
ORDER BY preference
LIMIT 1 BY id_value
"""
COUNTS_SQL = """
SELECT uniqExactIf(m.oneid, m.oneid != ''), uniqExactIf(s.id_value, m.oneid = ''),
       groupUniqArrayIf({sample})(s.id_value, m.oneid = '')
FROM cdp_sync_staging AS s
LEFT JOIN ({mapping}) AS m ON s.id_value = m.id_value
WHERE s.run = {{run:UInt64}}
"""
# The run's tag values per person (several ids of one person: the newest row wins), written once to cdp_sync_mapped.
MAP_TAGS_SQL = """
INSERT INTO cdp_sync_mapped (run, oneid, tag, value, updated, deleted)
SELECT {{run:UInt64}}, m.oneid AS oneid, s.tag AS tag, argMax(s.value, s.updated), max(s.updated), argMax(s.deleted, s.updated)
FROM cdp_sync_staging AS s
INNER JOIN ({mapping}) AS m ON s.id_value = m.id_value
WHERE s.run = {{run:UInt64}} AND s.tag != ''
GROUP BY oneid, tag
"""
MAPPED = "SELECT oneid, tag, value, updated, deleted FROM cdp_sync_mapped WHERE run = {run:UInt64}"
# The latest row of every person's tags among the source's tags.
LATEST_TAGS_SQL = """
SELECT oneid, tag, argMax(value, (updated, run)) AS value, argMax(deleted, (updated, run)) AS deleted,
       argMax(source, (updated, run)) AS source
FROM cdp_tags
WHERE tag IN {tags:Array(String)}
GROUP BY tag, oneid
"""
INSERT_TAGS = "INSERT INTO cdp_tags (oneid, tag, value, updated, source, deleted, run) "
INCREMENTAL_TAGS_SQL = INSERT_TAGS + f"SELECT oneid, tag, value, updated, {{source:String}}, deleted, {{run:UInt64}} FROM ({MAPPED})"
# Full mode in one pass over the latest rows: a value the run gives that differs from the latest (or is new, or was
# deleted) is appended; a tag of this source the run no longer gives is appended as deleted (its last value kept).
FULL_TAGS_SQL = (
    INSERT_TAGS
    + f"""SELECT if(toUInt8(n.oneid = '') AS gone, l.oneid, n.oneid), if(gone, l.tag, n.tag), if(gone, l.value, n.value),
       if(gone, {{now:DateTime64(3, 'UTC')}}, n.updated), {{source:String}}, gone, {{run:UInt64}}
FROM (SELECT oneid, tag, value, updated FROM cdp_sync_mapped WHERE run = {{run:UInt64}} AND deleted = 0) AS n
FULL OUTER JOIN ({LATEST_TAGS_SQL}) AS l ON n.oneid = l.oneid AND n.tag = l.tag
WHERE (n.oneid != '' AND (l.oneid = '' OR l.deleted = 1 OR l.value != n.value))
   OR (n.oneid = '' AND l.deleted = 0 AND l.source = {{source:String}})"""
)
MEMBERS_SQL = """
SELECT DISTINCT m.oneid AS oneid, cityHash64(m.oneid) AS oneid_hash
FROM cdp_sync_staging AS s
INNER JOIN ({mapping}) AS m ON s.id_value = m.id_value
WHERE s.run = {{run:UInt64}} AND s.audience = {{audience:String}}
"""


@dataclass
class SyncResult:
    source: str
    run: int
    mode: str
    status: str = "running"
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    finished: dt.datetime | None = None
    rows_read: int = 0
    persons_mapped: int = 0
    unmapped: int = 0
    unmapped_by_type: dict[str, int] = field(default_factory=dict)
    unmapped_sample: list[str] = field(default_factory=list)
    tags_written: int = 0
    tags_deleted: int = 0
    audience_versions: dict[str, int] = field(default_factory=dict)
    audience_sizes: dict[str, int] = field(default_factory=dict)
    watermark: str = ""
    error: str = ""
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step: read, stage, map, write

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def seconds(self) -> float:
        return ((self.finished or dt.datetime.now(dt.timezone.utc)) - self.started).total_seconds()

    def summary(self) -> str:
        if not self.ok:
            return f"source {self.source!r} failed: {self.error}"
        audiences = ", ".join(f"{a} v{v} ({self.audience_sizes.get(a, 0):,})" for a, v in self.audience_versions.items())
        unmapped = f"{self.unmapped:,} unmapped id(s)" + (f" e.g. {', '.join(self.unmapped_sample)}" if self.unmapped_sample else "")
        return (
            f"source {self.source!r} ({self.mode}): {self.rows_read:,} rows, {self.persons_mapped:,} persons, {unmapped}; "
            f"tags {self.tags_written:,} written, {self.tags_deleted:,} deleted; audiences: {audiences or 'none'} ({self.seconds:.1f}s)"
        )


class SyncFailed(RuntimeError):
    """A sync run that failed: its result (recorded in cdp_sync_runs) carries the reason."""

    def __init__(self, result: SyncResult):
        super().__init__(result.summary())
        self.result = result


def last_watermark(reader, source: str) -> dt.datetime | None:
    """The newest `updated` the source's successful runs reached (None: none yet, read everything)."""
    value = reader.scalar(
        "SELECT argMax(watermark, started) FROM cdp_sync_runs WHERE source = {s:String} AND status = 'ok' AND watermark != '' HAVING count() > 0",
        {"s": source},
    )
    return dt.datetime.fromisoformat(value) if value else None


def sync(settings, writer, analyst, source: Source, rules, base: Path, now: dt.datetime | None = None) -> SyncResult:
    """Run `source` once and record the run. Returns the result; a failure is a result with status 'failed' and
    its reason (the caller decides how to fail: Dagster raises, the CLI exits 1)."""
    result = SyncResult(source.name, store.next_version(), source.mode)
    now = _milliseconds(now or result.started)
    try:
        _run(settings, writer, analyst, source, rules, base, now, result)
        result.status = "ok"
    except (SourceError, store.AudienceTooLarge) as exc:
        result.status, result.error = "failed", str(exc)
    except Exception as exc:  # the warehouse refused a statement, a connection broke: the run fails with the text
        log.warning("CDP source %s failed", source.name, exc_info=True)  # the traceback for whoever debugs it
        result.status, result.error = "failed", f"source {source.name!r}: {exc.__class__.__name__}: {' '.join(str(exc).split())[:500]}"
    finally:
        result.finished = dt.datetime.now(dt.timezone.utc)
        for table in ("cdp_sync_staging", "cdp_sync_mapped"):
            try:
                writer.command(f"ALTER TABLE {table} DROP PARTITION {int(result.run)}")
            except Exception:  # nothing staged (failed before), or the warehouse is gone: the table's TTL clears it
                pass
        _record(writer, result)
    return result


def _run(settings, writer, analyst, source: Source, rules, base: Path, now: dt.datetime, result: SyncResult) -> None:
    id_type = source.person.id_type
    if id_type != "oneid" and id_type not in rules.types:
        raise SourceError(
            f"source {source.name!r}: unknown id type {id_type!r} (identity.yaml declares: {', '.join(sorted(rules.types))}, and oneid)"
        )
    watermark = last_watermark(writer, source.name) if source.mode == "incremental" else None
    clock = time.perf_counter()
    frame = read_rows(source, settings, analyst, base, watermark)
    result.rows_read = len(frame)
    result.phases["read"], clock = time.perf_counter() - clock, time.perf_counter()
    staged = _staging_frame(source, frame, rules, result.run, now)
    if source.audience_column:
        unknown = sorted(set(staged.column("audience").unique().to_pylist()) - set(source.audiences) - {""})
        if unknown:
            raise SourceError(f"source {source.name!r}: column {source.audience_column!r} names audience(s) it does not declare: {', '.join(unknown[:5])}")
    if len(staged):
        writer.insert_arrow("cdp_sync_staging", staged, settings=store.SYNC)
    result.phases["stage"], clock = time.perf_counter() - clock, time.perf_counter()
    mapping = ONEID_MAPPING_SQL if id_type == "oneid" else MAPPING_SQL
    params = {"run": result.run, "id_type": id_type, "source": source.name}

    persons, unmapped, sample = writer.rows(COUNTS_SQL.format(mapping=mapping, sample=UNMAPPED_SAMPLE), params)[0]
    result.persons_mapped, result.unmapped, result.unmapped_sample = int(persons), int(unmapped), sorted(sample)
    result.unmapped_by_type = {id_type: int(unmapped)} if unmapped else {}
    result.phases["map"], clock = time.perf_counter() - clock, time.perf_counter()

    members = MEMBERS_SQL.format(mapping=mapping)
    for audience in source.audiences:  # every limit checked before the first write
        size = int(writer.scalar(f"SELECT count() FROM ({members})", {**params, "audience": audience}))
        if size > settings.cdp_max_audience_persons:
            raise store.AudienceTooLarge(audience, size, settings.cdp_max_audience_persons)
    for audience in source.audiences:
        version, size = store.write_members_from_sql(
            writer, audience, members, {**params, "audience": audience}, "synced", source.name, settings.cdp_max_audience_persons
        )
        result.audience_versions[audience], result.audience_sizes[audience] = version, size

    if source.tags:
        _write_tags(writer, source, mapping, params, now, result)
    result.phases["write"] = time.perf_counter() - clock
    if source.updated and len(frame):
        newest = frame[source.updated].max()
        result.watermark = newest.isoformat() if watermark is None or newest > watermark else watermark.isoformat()
    elif watermark is not None:
        result.watermark = watermark.isoformat()


def _written(writer, run: int, deleted: int) -> int:
    return int(writer.scalar("SELECT count() FROM cdp_tags WHERE run = {run:UInt64} AND deleted = {d:UInt8}", {"run": run, "d": deleted}))


def _write_tags(writer, source: Source, mapping: str, params: dict, now: dt.datetime, result: SyncResult) -> None:
    writer.command(MAP_TAGS_SQL.format(mapping=mapping), params, settings=store.SYNC)
    if source.mode == "incremental":
        writer.command(INCREMENTAL_TAGS_SQL, params, settings=store.SYNC)
    else:
        writer.command(FULL_TAGS_SQL, {**params, "tags": [t.name for t in source.tags], "now": now}, settings=store.SYNC)
    result.tags_written, result.tags_deleted = _written(writer, result.run, 0), _written(writer, result.run, 1)


def _staging_frame(source: Source, frame: pd.DataFrame, rules, run: int, now: dt.datetime):
    """The rows in the staging table's long form (a pyarrow Table): one row per (person, tag) and per (person,
    audience). Built column by column in Arrow: a million source rows are two million staged ones."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rule = rules.types.get(source.person.id_type)
    # Normalised as the identity graph normalises ids of the type (case, spaces), once per distinct value.
    codes, distinct = pd.factorize(frame[source.person.column])
    normalised = pa.array([rule.normalise(v) if rule else str(v).strip() for v in distinct] + [""], pa.string())
    ids = normalised.take(pa.array(np.where(codes < 0, len(distinct), codes), pa.int64()))  # NULL (code -1): ""
    if source.updated:
        updated = pa.array(frame[source.updated].dt.floor("ms"), pa.timestamp("ms", tz="UTC"))
    else:
        updated = pa.array([pd.Timestamp(now)] * len(frame), pa.timestamp("ms", tz="UTC"))
    rows = len(frame)
    parts = []

    def part(tag, value, deleted, audience) -> pa.Table:
        return pa.table({"id_value": ids, "tag": pa.array([tag] * rows, pa.string()), "value": value, "updated": updated, "deleted": deleted, "audience": audience})

    empty = pa.array([""] * rows, pa.string())
    for tag in source.tags:
        values = pa.array(frame[tag.column], pa.string())
        parts.append(part(tag.name, pc.fill_null(values, ""), pc.is_null(values).cast(pa.uint8()), empty))
    if source.audiences:
        audience = pa.array(frame[source.audience_column], pa.string()) if source.audience_column else pa.array([source.audiences[0]] * rows, pa.string())
        parts.append(part("", empty, pa.array([0] * rows, pa.uint8()), pc.fill_null(audience, "")))
    long = pa.concat_tables(parts)
    return long.add_column(0, "id_type", pa.array([source.person.id_type] * len(long), pa.string())).add_column(
        0, "run", pa.array([run] * len(long), pa.uint64())
    )


def _milliseconds(at: dt.datetime) -> dt.datetime:
    """The warehouse keeps times to the millisecond: a time compared with stored ones must be cut the same way."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def _record(writer, result: SyncResult) -> None:
    row = [
        result.run, result.source, result.mode, result.status, result.started, result.finished, result.rows_read,
        result.persons_mapped, result.unmapped, result.unmapped_by_type, result.tags_written, result.tags_deleted,
        result.audience_versions, result.watermark, result.error,
    ]  # fmt: skip
    writer.insert("cdp_sync_runs", [row], RUN_COLUMNS, settings=store.SYNC)


def history(reader, source: str | None = None, limit: int = 20) -> list[dict]:
    """The newest runs (of one source, or all), newest first."""
    rows = reader.query_df(
        "SELECT run, source, mode, status, started, finished, rows_read, persons_mapped, unmapped, tags_written, tags_deleted, "
        "audience_versions, watermark, error FROM cdp_sync_runs WHERE {s:String} = '' OR source = {s:String} "
        "ORDER BY started DESC LIMIT {n:UInt32}",
        {"s": source or "", "n": limit},
    )
    return rows.to_dict("records")


def status(reader) -> list[dict]:
    """Per source: its latest run and the time of its latest successful one."""
    rows = reader.rows(
        "SELECT source, argMax(status, started), max(started), argMax(error, started), maxIf(finished, status = 'ok'), "
        "argMax(rows_read, started), argMax(unmapped, started) FROM cdp_sync_runs GROUP BY source ORDER BY source"
    )
    keys = ("source", "status", "started", "error", "last_ok", "rows_read", "unmapped")
    return [dict(zip(keys, row)) for row in rows]


def run_source(settings, writer, analyst, name: str | None = None) -> list[SyncResult]:
    """Sync one source of the sources file (or all, in file order); relative file paths are relative to the file."""
    from pipelines.cdp.sources import find_source, load_sources
    from pipelines.identity.rules import load_rules

    path = settings.cdp_sources
    sources = load_sources(path)
    chosen = [find_source(sources, name)] if name else sources
    rules = load_rules(settings.identity_rules)
    return [sync(settings, writer, analyst, source, rules, path.resolve().parent) for source in chosen]
