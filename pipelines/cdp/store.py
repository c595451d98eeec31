"""Reads and writes of the CDP tables (sql/migrations/0070_cdp.sql).

Audiences are versioned: the members of a version are written first, its row in `cdp_audience_versions` last,
and readers only see versions that have that row. A write that fails half-way therefore leaves the previous version
current, and one over the size limit is refused before its version is visible: Python rows are counted before
anything is written; a query's members are written once (at most one past the limit), counted, and removed again
when too many. Audience names are validated (names.check_name: `chain_` ones are a chain's temporaries only) and
still passed as query parameters, never pasted into SQL.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any, Iterable

import pandas as pd

from pipelines.cdp.names import check_name
from pipelines.identity.changes import VersionClock

KINDS = ("synced", "rule", "saved", "chain")
SYNC = {"async_insert": 0}  # members and versions are read back at once (the version row must follow its members)
TAG_COLUMNS = ("oneid", "tag", "value", "updated", "deleted")

_clock = VersionClock()
_clock_lock = threading.Lock()


class AudienceTooLarge(ValueError):
    """An audience of more persons than `cdp_max_audience_persons`: refused before its version is visible."""

    def __init__(self, name: str, size: int, maximum: int):
        super().__init__(f"audience {name!r} has {size:,} persons, more than the maximum of {maximum:,} (cdp_max_audience_persons)")
        self.name, self.size, self.maximum = name, size, maximum


def next_version() -> int:
    """Microseconds since the epoch, strictly increasing within the process (as oneid_map versions)."""
    with _clock_lock:
        return _clock.next()


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"audience kind {kind!r} is unknown: expected one of {', '.join(KINDS)}")


def _publish(writer, audience: str, version: int, kind: str, source: str, max_persons: int, size_if_over=None) -> int:
    """Counts what was written for the version and makes it current; a version over the limit is removed instead,
    never visible, and refused with its size (`size_if_over()` when what was written stopped past the limit)."""
    version_of = {"a": audience, "v": version}
    size = int(writer.scalar("SELECT count() FROM cdp_audiences WHERE audience = {a:String} AND version = {v:UInt64}", version_of))
    if size > max_persons:
        writer.command("DELETE FROM cdp_audiences WHERE audience = {a:String} AND version = {v:UInt64}", version_of)
        raise AudienceTooLarge(audience, size if size_if_over is None else max(size, size_if_over()), max_persons)
    writer.insert(
        "cdp_audience_versions",
        [[audience, version, size, kind, source, dt.datetime.now(dt.timezone.utc)]],
        ("audience", "version", "size", "kind", "source", "created"),
        settings=SYNC,
    )
    return size


def write_members_from_sql(
    writer, audience: str, select_sql: str, params: dict[str, Any], kind: str, source: str, max_persons: int, distinct: bool = False
) -> tuple[int, int]:
    """A new version of `audience` from `select_sql` (columns `oneid, oneid_hash`; its own parameters in `params`,
    whose names must not start with `cdp_`). Duplicates are folded, unless the caller says `select_sql` yields each
    OneID once already (`distinct`: a chain's carried cell, persons.named_cell_sql; the fold cost 0.06-0.07 s of
    a 415k-person carry). Returns (version, size).

    The query runs once: into the version's members, which no reader sees before the version row. Only a refused
    audience runs it again, for the size its message names; writing at most one member past the limit bounds what
    a refusal writes and removes."""
    check_name(audience, kind)
    _check_kind(kind)
    members = select_sql if distinct else f"SELECT oneid, any(oneid_hash) AS oneid_hash FROM ({select_sql}) GROUP BY oneid"
    version = next_version()
    writer.command(
        "INSERT INTO cdp_audiences (audience, version, oneid, oneid_hash) "
        f"SELECT {{cdp_audience:String}}, {{cdp_version:UInt64}}, oneid, oneid_hash FROM ({members}) LIMIT {{cdp_over:UInt64}}",
        {**params, "cdp_audience": audience, "cdp_version": version, "cdp_over": max_persons + 1},
        settings=SYNC,
    )

    def size() -> int:
        return int(writer.scalar(f"SELECT count() FROM ({members})", params))

    return version, _publish(writer, audience, version, kind, source, max_persons, size)


def write_members(writer, audience: str, frame: pd.DataFrame | Iterable[str], kind: str, source: str, max_persons: int) -> tuple[int, int]:
    """A new version of `audience` from Python rows: a frame with a `oneid` column (or the OneIDs themselves).
    Duplicates are folded; an empty list is a valid, empty version. Returns (version, size)."""
    check_name(audience, kind)
    _check_kind(kind)
    oneids = frame["oneid"] if isinstance(frame, pd.DataFrame) else pd.Series(list(frame), dtype=object)
    unique = pd.unique(oneids.dropna().astype(str))
    if len(unique) > max_persons:
        raise AudienceTooLarge(audience, len(unique), max_persons)
    version = next_version()
    if len(unique):
        writer.insert_df("cdp_audiences", pd.DataFrame({"audience": audience, "version": version, "oneid": unique}), settings=SYNC)
    return version, _publish(writer, audience, version, kind, source, max_persons)


def current_version(reader, audience: str) -> int | None:
    """The newest complete version of `audience`, None when it has none (unknown audience)."""
    version = reader.scalar("SELECT max(version) FROM cdp_audience_versions WHERE audience = {a:String} HAVING count() > 0", {"a": audience})
    return None if version is None else int(version)


def audiences(reader) -> list[dict]:
    """Every audience with its current version: name, version, size, kind, source, created."""
    rows = reader.rows(
        "SELECT audience, max(version), argMax(size, version), argMax(kind, version), argMax(source, version), "
        "argMax(created, version) FROM cdp_audience_versions GROUP BY audience ORDER BY audience"
    )
    return [dict(zip(("name", "version", "size", "kind", "source", "created"), row)) for row in rows]


def size_history(reader, audience: str) -> list[tuple[dt.datetime, int, int]]:
    """(created, version, size) of every complete version of `audience`, oldest first."""
    rows = reader.rows(
        "SELECT created, version, size FROM cdp_audience_versions WHERE audience = {a:String} ORDER BY version", {"a": audience}
    )
    return [(created, int(version), int(size)) for created, version, size in rows]


def write_tags(writer, frame: pd.DataFrame, source: str, run: int = 0) -> int:
    """Appends tag rows (columns oneid, tag, value, updated, deleted; deleted may be absent: 0) to the history.
    Returns the rows written."""
    missing = [c for c in TAG_COLUMNS if c not in frame.columns and c != "deleted"]
    if missing:
        raise ValueError(f"tag rows lack column(s) {', '.join(missing)}")
    rows = pd.DataFrame(
        {
            "oneid": frame["oneid"].astype(str),
            "tag": frame["tag"].astype(str),
            "value": frame["value"].astype(str),
            "updated": pd.to_datetime(frame["updated"], utc=True),
            "source": source,
            "deleted": frame["deleted"].astype("uint8") if "deleted" in frame.columns else 0,
            "run": run,
        }
    )
    if len(rows):
        writer.insert_df("cdp_tags", rows, settings=SYNC)
    return len(rows)


TAGS_AS_OF_SQL = """
SELECT tag, argMax(value, (updated, run)) AS latest_value
FROM cdp_tags
WHERE oneid_hash = cityHash64({oneid:String}) AND oneid = {oneid:String} AND updated <= {at:DateTime64(3, 'UTC')}
GROUP BY tag
HAVING argMax(deleted, (updated, run)) = 0
ORDER BY tag
"""


def tags_as_of(reader, oneid: str, at: dt.datetime) -> dict[str, str]:
    """A person's tags as they were at `at`: per tag the newest row written for a time <= at, unless deleted."""
    return dict(reader.rows(TAGS_AS_OF_SQL, {"oneid": oneid, "at": _utc(at)}))


def known_tags(reader) -> set[str]:
    """Every tag name the history holds (a filter on another name is refused with it)."""
    return {row[0] for row in reader.rows("SELECT DISTINCT tag FROM cdp_tags")}


def _utc(at: dt.datetime) -> dt.datetime:
    return at.replace(tzinfo=dt.timezone.utc) if at.tzinfo is None else at.astimezone(dt.timezone.utc)
