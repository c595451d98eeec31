"""Query heat of short-lived commands (`trackflow query`), recorded off their exit path without losing it.

Parsing a query with the ANTLR grammar and writing `query_log` costs a CLI more than the query itself (importing
the parser alone takes ~0.4 s). So a command attaches a `QueryHandoff` instead of a `HeatRecorder`: it keeps its
query records in memory and at exit writes them as one JSON-lines file into `<data_dir>/heat/pending/` (under a
temporary name, then renamed: a drain never reads half a file) and starts a detached
`python -m pipelines.heat.handoff`, which records every pending file with the HeatRecorder and deletes a file only
once its rows are written. A drain that cannot reach the warehouse leaves the files to the next one; drains take
turns on a lock file, and a retried file collapses in query_log (same query ids).
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import subprocess
import sys
import uuid
from pathlib import Path

from pipelines.config import Settings, get_settings

log = logging.getLogger("trackflow.heat")


def pending_dir(settings: Settings) -> Path:
    return settings.data_dir / "heat" / "pending"


def _jsonable(value):
    """Query parameters as JSON: binding reads values with str(), and lists stay lists (event names)."""
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


class QueryHandoff:
    """Warehouse listener of a short-lived command: `QueryHandoff(settings).attach(warehouse)`, then `close()`."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.records: list[dict] = []
        self._attached: list = []

    def __call__(self, record) -> None:
        fields = dataclasses.asdict(record)
        fields["query_id"] = record.query_id or str(uuid.uuid4())  # fixed now, so a retried drain collapses
        self.records.append(fields)

    def attach(self, warehouse) -> "QueryHandoff":
        warehouse.add_listener(self)
        self._attached.append(warehouse)
        return self

    def close(self) -> Path | None:
        """Detach and hand the records to a detached drain; returns the pending file (None: nothing to record)."""
        for warehouse in self._attached:
            warehouse.remove_listener(self)
        self._attached.clear()
        path = self.write_pending()
        if path is not None:
            start_drain(self.settings)
        return path

    def write_pending(self) -> Path | None:
        if not self.records:
            return None
        directory = pending_dir(self.settings)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / f"{uuid.uuid4().hex}.jsonl"
            partial = path.with_suffix(".partial")
            partial.write_text("".join(json.dumps(r, default=_jsonable) + "\n" for r in self.records))
            partial.rename(path)
        except OSError as exc:  # no writable data dir here: record in this process rather than lose the heat
            log.warning("cannot hand query heat to %s (%s); recording it now", directory, exc.strerror)
            record_pending(self.settings, [self.records])
            path = None
        self.records = []
        return path


def start_drain(settings: Settings) -> subprocess.Popen:
    """A drain in its own session: it outlives the command, and a Ctrl-C at the terminal does not reach it."""
    directory = pending_dir(settings)
    with open(directory.parent / "drain.log", "ab") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "pipelines.heat.handoff"],
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file, start_new_session=True, close_fds=True,
        )


def drain(settings: Settings) -> int:
    """Record every pending file (one drain at a time); returns how many queries were recorded."""
    directory = pending_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / "drain.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a drain that waited here finds what the one before it left
        files = sorted(directory.glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
        batches = []
        for path in list(files):
            try:
                batches.append([json.loads(line) for line in path.read_text().splitlines() if line])
            except (OSError, ValueError) as exc:
                log.error("pending heat file %s is unreadable (%s); kept as %s.unreadable", path, exc, path.name)
                path.rename(path.with_name(path.name + ".unreadable"))
                files.remove(path)
        written = record_pending(settings, batches)
        for path in files[:written]:
            path.unlink()
        return sum(len(batch) for batch in batches[:written])


def record_pending(settings: Settings, batches: list[list[dict]]) -> int:
    """Record batches of handed-off query records in order; returns how many batches were written (a write that
    fails stops there: the rest stay pending)."""
    if not batches:
        return 0
    from pipelines.heat.catalog import Catalog
    from pipelines.heat.extract import Extractor
    from pipelines.heat.recorder import HeatRecorder, SeenQuery
    from pipelines.warehouse.client import QueryRecord, Warehouse

    writer = Warehouse(settings)
    try:
        recorder = HeatRecorder(writer, Extractor(Catalog.from_warehouse(writer)))
        for done, batch in enumerate(batches):
            failures = recorder.write_failures
            recorder.record([SeenQuery.from_record(QueryRecord(**fields)) for fields in batch])
            if recorder.write_failures > failures:
                return done
        return len(batches)
    finally:
        writer.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        log.info("recorded %d handed-off queries", drain(get_settings()))
    except Exception:  # the warehouse being away: the files stay for the next drain
        log.exception("heat drain stopped; pending files are kept")
        sys.exit(1)
