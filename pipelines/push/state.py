"""Chunk state in PostgreSQL: the compensation pattern (state, retries, next attempt, lock with expiry).

A chunk row is claimed in its own short transaction (state `running`, a lock owner and an expiry), and the
chunk's data and its `done` mark commit in ONE transaction on the target (writers.py), so a run killed at any
point leaves either the old chunk (still not done) or the new chunk marked done - never both, never half.

A lock is stale when it expired or when its owner's session is gone: while a worker runs a chunk, its state
connection holds a session advisory lock on the chunk; PostgreSQL drops it the moment that process dies
(SIGKILL included), so a rerun can take the chunk over at once instead of waiting for the expiry.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass

SCHEMA = "trackflow_push"

DDL = [
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.chunks (
        push            text NOT NULL,
        day             date NOT NULL,
        chunk           integer NOT NULL,
        chunks          integer NOT NULL,
        state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'failed')),
        attempts        integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        locked_by       text,
        lock_expires_at timestamptz,
        source_rows     bigint NOT NULL DEFAULT 0,
        dirty_rows      bigint NOT NULL DEFAULT 0,
        rows_written    bigint NOT NULL DEFAULT 0,
        run_id          text,
        started_at      timestamptz,
        finished_at     timestamptz,
        error           text,
        PRIMARY KEY (push, day, chunk)
    )""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.runs (
        run_id       text PRIMARY KEY,
        push         text NOT NULL,
        day          date NOT NULL,
        state        text NOT NULL CHECK (state IN ('running', 'done', 'failed')),
        planned_rows bigint NOT NULL DEFAULT 0,
        rows_done    bigint NOT NULL DEFAULT 0,
        progress_at  timestamptz,
        started_at   timestamptz NOT NULL DEFAULT now(),
        finished_at  timestamptz,
        owner        text,
        report       text
    )""",
    f"CREATE INDEX IF NOT EXISTS runs_push_day ON {SCHEMA}.runs (push, day, started_at)",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.reconciliations (
        push            text NOT NULL,
        day             date NOT NULL,
        checked_at      timestamptz NOT NULL DEFAULT now(),
        source_rows     bigint NOT NULL,
        target_rows     bigint NOT NULL,
        source_checksum text NOT NULL,
        target_checksum text NOT NULL,
        rejected_rows   bigint NOT NULL,
        ok              boolean NOT NULL,
        PRIMARY KEY (push, day, checked_at)
    )""",
]


def ensure_schema(connection) -> None:
    with connection.transaction():
        # Several processes may start at once (test sessions, Dagster runs): serialise the DDL.
        connection.execute("SELECT pg_advisory_xact_lock(hashtext('trackflow_push.schema'))")
        for statement in DDL:
            connection.execute(statement)


def owner_name(run_id: str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{run_id}"


def chunk_lock_key(push: str, day: dt.date, chunk: int) -> str:
    return f"{push}/{day}/{chunk}"


@dataclass(frozen=True)
class ChunkPlan:
    chunk: int
    source_rows: int
    dirty_rows: int


@dataclass(frozen=True)
class ChunkRow:
    chunk: int
    chunks: int
    state: str
    attempts: int
    source_rows: int
    dirty_rows: int
    rows_written: int
    error: str | None


def chunk_rows(connection, push: str, day: dt.date) -> list[ChunkRow]:
    rows = connection.execute(
        f"SELECT chunk, chunks, state, attempts, source_rows, dirty_rows, rows_written, error FROM {SCHEMA}.chunks "
        "WHERE push = %s AND day = %s ORDER BY chunk",
        (push, day),
    ).fetchall()
    return [ChunkRow(*row) for row in rows]


def planned_dirty_rows(connection, push: str, day: dt.date, chunk: int) -> int:
    return connection.execute(
        f"SELECT dirty_rows FROM {SCHEMA}.chunks WHERE push = %s AND day = %s AND chunk = %s", (push, day, chunk)
    ).fetchone()[0]


def reset_plan(connection, push: str, day: dt.date, plans: list[ChunkPlan], chunks: int, run_id: str) -> None:
    """A fresh plan for the partition: every chunk pending (used when nothing is left to resume)."""
    with connection.transaction():
        connection.execute(f"DELETE FROM {SCHEMA}.chunks WHERE push = %s AND day = %s", (push, day))
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {SCHEMA}.chunks (push, day, chunk, chunks, source_rows, dirty_rows, run_id) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [(push, day, p.chunk, chunks, p.source_rows, p.dirty_rows, run_id) for p in plans],
            )


def start_run(connection, run_id: str, push: str, day: dt.date, planned_rows: int) -> None:
    with connection.transaction():
        connection.execute(
            f"INSERT INTO {SCHEMA}.runs (run_id, push, day, state, planned_rows, owner) VALUES (%s, %s, %s, 'running', %s, %s)",
            (run_id, push, day, planned_rows, owner_name(run_id)),
        )


def record_progress(connection, run_id: str, rows_done: int) -> None:
    """The running throughput the deadline sensor predicts from."""
    connection.execute(f"UPDATE {SCHEMA}.runs SET rows_done = %s, progress_at = now() WHERE run_id = %s", (rows_done, run_id))


def finish_run(connection, run_id: str, state: str, rows_done: int, report: str = "") -> None:
    with connection.transaction():
        connection.execute(
            f"UPDATE {SCHEMA}.runs SET state = %s, finished_at = now(), rows_done = %s, report = %s WHERE run_id = %s",
            (state, rows_done, report, run_id),
        )


def claim(connection, push: str, day: dt.date, owner: str, lock_ttl_s: int, max_attempts: int) -> int | None:
    """Take the next chunk that is due: pending, failed with attempts left and past its back-off, or running under
    a stale lock (owner gone, or lock expired: a hung owner). On success the connection holds the chunk's session
    advisory lock until `release` (except when taking over an expired lock from a live owner)."""
    candidates = connection.execute(
        f"SELECT chunk, state, coalesce(lock_expires_at < now(), true) FROM {SCHEMA}.chunks WHERE push = %s AND day = %s "
        "AND (state = 'pending' OR (state = 'failed' AND attempts < %s AND next_attempt_at <= now()) OR state = 'running') "
        "ORDER BY chunk",
        (push, day, max_attempts),
    ).fetchall()
    for chunk, chunk_state, expired in candidates:
        key = chunk_lock_key(push, day, chunk)
        locked = connection.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone()[0]
        if not locked and not (chunk_state == "running" and expired):
            continue  # a live worker holds it (in this run or another)
        taken = connection.execute(
            f"UPDATE {SCHEMA}.chunks SET state = 'running', locked_by = %s, lock_expires_at = now() + make_interval(secs => %s), "
            "started_at = now(), error = NULL WHERE push = %s AND day = %s AND chunk = %s AND state <> 'done' RETURNING chunk",
            (owner, lock_ttl_s, push, day, chunk),
        ).fetchone()
        if taken:
            return chunk
        release(connection, push, day, chunk)
    return None


def heartbeat(connection, push: str, day: dt.date, chunk: int, owner: str, lock_ttl_s: int) -> None:
    connection.execute(
        f"UPDATE {SCHEMA}.chunks SET lock_expires_at = now() + make_interval(secs => %s) "
        "WHERE push = %s AND day = %s AND chunk = %s AND locked_by = %s",
        (lock_ttl_s, push, day, chunk, owner),
    )


class LockLost(RuntimeError):
    """Another worker took the chunk over (this one's lock expired): its write must not commit."""


def data_lock(cursor, push: str, day: dt.date, chunk: int) -> None:
    """First statement of a chunk's data transaction: two writers of one chunk (a hung owner and the worker that
    took its expired lock over) run one after the other, and the later one's DELETE sees the earlier one's rows."""
    cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("data/" + chunk_lock_key(push, day, chunk),))


def mark_done(cursor, push: str, day: dt.date, chunk: int, owner: str, rows_written: int, run_id: str) -> None:
    """Inside the chunk's data transaction: data and state commit together, and only while we own the lock."""
    cursor.execute(
        f"UPDATE {SCHEMA}.chunks SET state = 'done', rows_written = %s, finished_at = now(), locked_by = NULL, "
        "lock_expires_at = NULL, run_id = %s WHERE push = %s AND day = %s AND chunk = %s AND locked_by = %s",
        (rows_written, run_id, push, day, chunk, owner),
    )
    if cursor.rowcount != 1:
        raise LockLost(f"chunk {chunk} of {push} {day} was taken over by another worker; this write is rolled back")


def mark_failed(connection, push: str, day: dt.date, chunk: int, error: str, retry_base_s: float) -> int:
    """Record a failed attempt with exponential back-off; returns the attempts made so far."""
    attempts = connection.execute(
        f"UPDATE {SCHEMA}.chunks SET state = 'failed', attempts = attempts + 1, error = %s, locked_by = NULL, "
        "lock_expires_at = NULL, next_attempt_at = now() + make_interval(secs => %s * power(2, attempts)) "
        "WHERE push = %s AND day = %s AND chunk = %s RETURNING attempts",
        (error[:2000], retry_base_s, push, day, chunk),
    ).fetchone()[0]
    return attempts


def release(connection, push: str, day: dt.date, chunk: int) -> None:
    connection.execute("SELECT pg_advisory_unlock(hashtext(%s))", (chunk_lock_key(push, day, chunk),))


def record_reconciliation(connection, push: str, day: dt.date, result) -> None:
    with connection.transaction():
        connection.execute(
            f"INSERT INTO {SCHEMA}.reconciliations (push, day, source_rows, target_rows, source_checksum, target_checksum, "
            "rejected_rows, ok) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (push, day, result.source_rows, result.target_rows, result.source_checksum, result.target_checksum,
             result.rejected_rows, result.ok),
        )  # fmt: skip
