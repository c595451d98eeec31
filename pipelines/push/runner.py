"""One push of one partition: plan the chunks, check the dirty limit, write the chunks in parallel (resuming what a
previous run left), then reconcile source against target.

Resume rule: if the partition has chunks that are not done under the current plan shape, a run takes over only
those (pending, failed, or running under a stale lock); otherwise it plans afresh and pushes every chunk again
(a rerun of a finished partition replaces it, which is how late data gets re-pushed).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pipelines.config import Settings
from pipelines.push import state
from pipelines.push.connection import connect
from pipelines.push.definitions import Push
from pipelines.push.reconcile import Reconciliation, reconcile
from pipelines.push.sql import PUSH_CHUNK, PUSH_DATE, day_bounds, plan_sql, rejects_sql, target_ddl
from pipelines.push.throttle import Throttle
from pipelines.push.writers import ChunkContext, FileWriter, PostgresWriter, files_dir, write_rejects


class PushFailed(RuntimeError):
    """The push did not complete; the message is the report."""


class DirtyLimitExceeded(PushFailed):
    pass


@dataclass
class Progress:
    """Shared by the workers; read by the CLI's progress bar and the Dagster log."""

    planned_rows: int = 0
    rows_done: int = 0
    chunks_total: int = 0
    chunks_done: int = 0
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_rows(self, rows: int) -> None:
        with self._lock:
            self.rows_done += rows

    def chunk_finished(self) -> None:
        with self._lock:
            self.chunks_done += 1

    @property
    def rows_per_s(self) -> float:
        return self.rows_done / max(time.monotonic() - self.started, 1e-9)


class ProgressReporter:
    """Writes the run's rows done to its `runs` row every couple of seconds (from its own thread and connection):
    the deadline sensor, possibly in another process, predicts the finish from it."""

    INTERVAL_S = 2.0

    def __init__(self, settings: Settings, run_id: str, progress: Progress):
        self.settings, self.run_id, self.progress = settings, run_id, progress
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"push-progress-{run_id}", daemon=True)

    def _loop(self) -> None:
        with connect(self.settings) as connection:
            while not self._stop.wait(self.INTERVAL_S):
                state.record_progress(connection, self.run_id, self.progress.rows_done)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()


@dataclass(frozen=True)
class PushResult:
    push: str
    day: dt.date
    run_id: str
    resumed: bool
    chunks: int
    chunks_written: int
    rows_written: int
    rejected_rows: int
    reject_files: list[Path]
    seconds: float
    reconciliation: Reconciliation
    # Where the time went: planning (counting chunks and dirty rows), writing the chunks, reconciling.
    plan_s: float = 0.0
    write_s: float = 0.0
    reconcile_s: float = 0.0

    @property
    def rows_per_s(self) -> float:
        return self.rows_written / self.seconds if self.seconds else 0.0


def rejects_dir(settings: Settings, push: Push, day: dt.date) -> Path:
    base = settings.push_reject_dir if str(settings.push_reject_dir) not in ("", ".") else settings.data_dir / "push" / "rejects"
    return base / push.name / day.isoformat()


def prepare_target(connection, push: Push) -> None:
    state.ensure_schema(connection)
    if push.target.kind == "postgres":
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"ddl/{push.target.table}",))
            for statement in target_ddl(push):
                connection.execute(statement)


def dirty_report(push: Push, day: dt.date, plans: list[state.ChunkPlan]) -> tuple[bool, str]:
    """(over the limit?, one-line summary) - DataX-style: a count limit and a percentage limit."""
    total = sum(p.source_rows for p in plans)
    dirty = sum(p.dirty_rows for p in plans)
    percent = 100.0 * dirty / total if total else 0.0
    over = dirty > push.dirty.max_rows or percent > push.dirty.max_percent
    summary = (
        f"{dirty:,} dirty of {total:,} rows ({percent:.3f}%) in {push.name} {day}; "
        f"limit {push.dirty.max_rows:,} rows and {push.dirty.max_percent}%"
    )
    return over and dirty > 0, summary


class PushRun:
    def __init__(self, settings: Settings, push: Push, day: dt.date, warehouse, on_progress: Callable[[Progress], None] | None = None):
        self.settings, self.push, self.day, self.warehouse = settings, push, day, warehouse
        self.run_id = uuid.uuid4().hex[:12]
        self.owner = state.owner_name(self.run_id)
        self.progress = Progress()
        self.on_progress = on_progress or (lambda progress: None)
        self.throttle = Throttle(push.rows_per_s)
        self.rejects = rejects_dir(settings, push, day)

    # -- planning -----------------------------------------------------------------------------------------------
    def _plan(self) -> list[state.ChunkPlan]:
        start, end = day_bounds(self.push, self.day)
        counted = {int(c): (int(n), int(d)) for c, n, d in self.warehouse.rows(plan_sql(self.push), {"start": start, "end": end})}
        if outside := sorted(set(counted) - set(range(self.push.chunking.count))):
            # Rows of a chunk the plan does not have would never be written: stop before writing half a partition.
            raise PushFailed(
                f"push {self.push.name} {self.day}: {sum(counted[c][0] for c in outside):,} rows fall in chunk(s) "
                f"{outside[:5]} outside 0..{self.push.chunking.count - 1}; the chunk expression is wrong"
            )
        return [state.ChunkPlan(c, *counted.get(c, (0, 0))) for c in range(self.push.chunking.count)]

    def _resumable(self, rows: list[state.ChunkRow]) -> bool:
        return bool(rows) and rows[0].chunks == self.push.chunking.count and any(r.state != "done" for r in rows)

    def _drop_stale_chunks(self, connection, previous: list[state.ChunkRow]) -> None:
        """A plan with fewer chunks than the previous one must not leave the old extra chunks' rows behind."""
        if not previous or previous[0].chunks <= self.push.chunking.count:
            return
        if self.push.target.kind == "postgres":
            with connection.transaction():
                connection.execute(
                    f"DELETE FROM {self.push.target.table} WHERE {PUSH_DATE} = %s AND {PUSH_CHUNK} >= %s",
                    (self.day, self.push.chunking.count),
                )
        else:
            folder = FileWriter.partition_folder(self.push, self.day, files_dir(self.settings))
            for chunk in range(self.push.chunking.count, previous[0].chunks):
                (folder / f"part-{chunk:04d}.{self.push.target.kind}").unlink(missing_ok=True)

    # -- the run ------------------------------------------------------------------------------------------------
    def run(self) -> PushResult:
        started = time.monotonic()
        with connect(self.settings) as connection:
            prepare_target(connection, self.push)
            previous = state.chunk_rows(connection, self.push.name, self.day)
            resumed = self._resumable(previous)
            if resumed:
                plans = [state.ChunkPlan(r.chunk, r.source_rows, r.dirty_rows) for r in previous]
                with connection.transaction():  # an operator's rerun gives exhausted chunks a fresh set of attempts
                    connection.execute(
                        f"UPDATE {state.SCHEMA}.chunks SET attempts = 0, next_attempt_at = now() "
                        "WHERE push = %s AND day = %s AND state = 'failed'",
                        (self.push.name, self.day),
                    )
            else:
                plans = self._plan()
            planned_at = time.monotonic()
            over, summary = dirty_report(self.push, self.day, plans)
            if over:
                raise DirtyLimitExceeded(self._dirty_failure(summary))
            if not resumed:
                self._drop_stale_chunks(connection, previous)
                state.reset_plan(connection, self.push.name, self.day, plans, self.push.chunking.count, self.run_id)
            todo = [r.chunk for r in state.chunk_rows(connection, self.push.name, self.day) if r.state != "done"]
            self.progress.planned_rows = sum(p.source_rows - p.dirty_rows for p in plans if p.chunk in todo)
            self.progress.chunks_total = len(todo)
            state.start_run(connection, self.run_id, self.push.name, self.day, self.progress.planned_rows)
            reporter = ProgressReporter(self.settings, self.run_id, self.progress)
            try:
                with reporter:
                    written, reject_files = self._write_chunks(len(todo))
                written_at = time.monotonic()
                result = reconcile(self.settings, self.push, self.day, self.warehouse, connection, plans)
            except BaseException as exc:
                state.finish_run(connection, self.run_id, "failed", self.progress.rows_done, str(exc)[:4000])
                raise
            # A mismatch is the caller's verdict to give (the CLI exits 1, Dagster fails the `reconciled` check);
            # the run is recorded as failed either way.
            state.finish_run(connection, self.run_id, "done" if result.ok else "failed", written, result.summary())
        return PushResult(
            push=self.push.name, day=self.day, run_id=self.run_id, resumed=resumed, chunks=len(plans),
            chunks_written=len(todo), rows_written=written, rejected_rows=sum(p.dirty_rows for p in plans),
            reject_files=reject_files, seconds=time.monotonic() - started, reconciliation=result,
            plan_s=planned_at - started, write_s=written_at - planned_at, reconcile_s=time.monotonic() - written_at,
        )  # fmt: skip

    def _dirty_failure(self, summary: str) -> str:
        """The failure report: the limit, where all rejected rows are, and the most common problems by column."""
        context = self._chunk_context(chunk=0, heartbeat=lambda: None)
        path = write_rejects(context, self.rejects, whole_partition=True)
        start, end = day_bounds(self.push, self.day)
        by_column = self.warehouse.rows(
            "SELECT splitByString(': ', problem)[1] AS column, count() AS n, any(problem) AS example FROM "
            f"(SELECT arrayJoin(splitByString('; ', reason)) AS problem FROM ({rejects_sql(self.push, True)})) "
            "GROUP BY column ORDER BY n DESC LIMIT 10",
            {"start": start, "end": end},
        )
        lines = [f"push failed: dirty-record limit exceeded: {summary}", f"rejected rows with reasons: {path}"]
        lines += [f"  {column}: {n:,} rows, e.g. {example}" for column, n, example in by_column]
        return "\n".join(lines)

    def _chunk_context(self, chunk: int, heartbeat: Callable[[], None]) -> ChunkContext:
        def on_rows(rows: int) -> None:
            self.progress.add_rows(rows)
            self.on_progress(self.progress)

        return ChunkContext(self.push, self.day, chunk, self.run_id, self.owner, self.warehouse, self.throttle, heartbeat, on_rows)

    def _write_chunks(self, todo: int) -> tuple[int, list[Path]]:
        workers = max(1, min(self.push.parallelism, todo))
        with ThreadPoolExecutor(workers, thread_name_prefix=f"push-{self.push.name}") as pool:
            outcomes = list(pool.map(lambda _: self._worker(), range(workers)))
        written = sum(w for w, _ in outcomes)
        reject_files = sorted({f for _, files in outcomes for f in files})
        with connect(self.settings) as connection:
            rows = state.chunk_rows(connection, self.push.name, self.day)
        failed = [r for r in rows if r.state != "done"]
        if failed:
            detail = "; ".join(f"chunk {r.chunk}: {r.state} after {r.attempts} attempt(s): {r.error}" for r in failed[:5])
            raise PushFailed(f"push {self.push.name} {self.day}: {len(failed)} of {len(rows)} chunks not done - {detail}")
        return written, reject_files

    def _worker(self) -> tuple[int, list[Path]]:
        """Claim and write chunks until none is left to this run."""
        written, reject_files = 0, []
        settings, push, day = self.settings, self.push, self.day
        with connect(settings) as state_connection, connect(settings, options="-c TimeZone=UTC") as target_connection:
            writer = (
                PostgresWriter(target_connection) if push.target.kind == "postgres" else FileWriter(state_connection, files_dir(settings))
            )
            while True:
                chunk = state.claim(state_connection, push.name, day, self.owner, settings.push_lock_ttl_s, settings.push_max_attempts)
                if chunk is None:
                    if not self._wait_for_retry(state_connection):
                        return written, reject_files
                    continue
                beat = lambda: state.heartbeat(state_connection, push.name, day, chunk, self.owner, settings.push_lock_ttl_s)  # noqa: E731
                context = self._chunk_context(chunk, beat)
                try:
                    if state.planned_dirty_rows(state_connection, push.name, day, chunk):
                        reject_files.append(write_rejects(context, self.rejects))
                    written += writer.write(context)
                    self.progress.chunk_finished()
                    self.on_progress(self.progress)
                except Exception as exc:  # the chunk's transaction rolled back: record the attempt, retry later
                    state.mark_failed(state_connection, push.name, day, chunk, f"{type(exc).__name__}: {exc}", settings.push_retry_base_s)
                finally:
                    state.release(state_connection, push.name, day, chunk)

    def _wait_for_retry(self, connection) -> bool:
        """No chunk is claimable now. True (after a pause) if one may become due: a failed chunk with attempts left
        waiting out its back-off, or a chunk another live worker is writing."""
        waiting = connection.execute(
            f"SELECT min(greatest(next_attempt_at - now(), interval '0')) FILTER (WHERE state = 'failed' AND attempts < %s), "
            "count(*) FILTER (WHERE state = 'running') FROM "
            f"{state.SCHEMA}.chunks WHERE push = %s AND day = %s",
            (self.settings.push_max_attempts, self.push.name, self.day),
        ).fetchone()
        backoff, running = waiting
        if backoff is None and not running:
            return False
        time.sleep(min(backoff.total_seconds() if backoff is not None else 0.5, 1.0) + 0.05)
        return True


def run_push(settings: Settings, push: Push, day: dt.date, warehouse, on_progress=None) -> PushResult:
    return PushRun(settings, push, day, warehouse, on_progress).run()
