"""The single place that opens clickhouse-connect clients and runs warehouse queries.

Every analytic query goes through `Warehouse.query`/`query_df` so that listeners (the query-heat recorder)
see its SQL, parameters, duration, rows read and user. Listeners are called after the query returns and must
not block: the heat recorder only enqueues.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, Sequence

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from pipelines.config import Settings, get_settings
from pipelines.errors import ServiceUnavailable

log = logging.getLogger("trackflow.warehouse")


@dataclass(frozen=True)
class QueryRecord:
    """What a listener learns about one finished query."""

    sql: str
    parameters: dict[str, Any]
    user: str
    duration_s: float
    read_rows: int
    result_rows: int
    query_id: str
    error: str | None = None
    started_at: float = field(default_factory=time.time)


class QueryListener(Protocol):
    def __call__(self, record: QueryRecord) -> None: ...


class WarehouseUnavailable(ServiceUnavailable):
    """The warehouse endpoint cannot be reached (stack not running, wrong URL)."""


def resolve_url(settings: Settings) -> str:
    """The ClickHouse HTTP URL: configured, or the one the running embedded warehouse wrote to its state dir."""
    if settings.clickhouse_url:
        return settings.clickhouse_url
    return f"http://127.0.0.1:{settings.bound_port('warehouse', settings.warehouse_port)}"


class Warehouse:
    """A role-bound handle on the warehouse: `writer` for pipelines and migrations, `analyst` (read-only) for
    analysis queries. Thread-safe: each thread gets its own clickhouse-connect client."""

    def __init__(
        self,
        settings: Settings | None = None,
        role: str = "writer",
        url: str | None = None,
        database: str | None = None,
    ):
        if role not in ("writer", "analyst"):
            raise ValueError(f"unknown warehouse role {role!r}: expected 'writer' or 'analyst'")
        self.settings = settings or get_settings()
        self.role = role
        self.url = url or resolve_url(self.settings)
        self.database = database or self.settings.clickhouse_database
        if role == "writer":
            self.user, secret = self.settings.clickhouse_user, self.settings.clickhouse_password
        else:
            self.user, secret = self.settings.analyst_user, self.settings.analyst_password
        self._password = secret.get_secret_value()
        self._local = threading.local()
        self._listeners: list[QueryListener] = []

    def client(self) -> Client:
        client = getattr(self._local, "client", None)
        if client is None:
            try:
                client = clickhouse_connect.get_client(
                    dsn=self.url,
                    username=self.user,
                    password=self._password,
                    database=self.database,
                    autogenerate_session_id=False,
                )
            except clickhouse_connect.driver.exceptions.OperationalError as exc:
                raise WarehouseUnavailable(
                    f"warehouse at {self.url} is not reachable ({exc.__class__.__name__}); is the stack up? "
                    "Run `trackflow up` or set TRACKFLOW_CLICKHOUSE_URL."
                ) from None
            self._local.client = client
        return client

    # -- listeners (query heat) ---------------------------------------------------------------------------------
    def add_listener(self, listener: QueryListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: QueryListener) -> None:
        self._listeners.remove(listener)

    def _notify(self, record: QueryRecord) -> None:
        for listener in self._listeners:
            try:
                listener(record)
            except Exception:  # a broken listener must never fail the query it observes
                log.exception("query listener %r failed", listener)

    def _observed(self, sql: str, parameters: dict | None, run: Callable[[], Any], rows: Callable[[Any], int]):
        started, wall = time.perf_counter(), time.time()
        try:
            result = run()
        except Exception as exc:
            if self._listeners:
                self._notify(
                    QueryRecord(sql, dict(parameters or {}), self.user, time.perf_counter() - started, 0, 0, "", str(exc), wall)
                )
            raise
        if self._listeners:
            summary = getattr(result, "summary", None) or {}
            self._notify(
                QueryRecord(
                    sql=sql,
                    parameters=dict(parameters or {}),
                    user=self.user,
                    duration_s=time.perf_counter() - started,
                    read_rows=int(summary.get("read_rows", 0) or 0),
                    result_rows=rows(result),
                    query_id=str(getattr(result, "query_id", "") or summary.get("query_id", "")),
                    started_at=wall,
                )
            )
        return result

    # -- queries ------------------------------------------------------------------------------------------------
    def query(self, sql: str, parameters: dict | None = None, settings: dict | None = None):
        """Run a query; returns clickhouse-connect's QueryResult (`.result_rows`, `.column_names`, `.summary`)."""
        return self._observed(
            sql,
            parameters,
            lambda: self.client().query(sql, parameters=parameters, settings=settings),
            lambda result: len(result.result_rows),
        )

    def query_df(self, sql: str, parameters: dict | None = None, settings: dict | None = None):
        """Run a query into a pandas DataFrame, with its columns even when it has no rows."""
        frame = self._observed(
            sql, parameters, lambda: self.client().query_df(sql, parameters=parameters, settings=settings), len
        )
        if len(frame.columns) == 0:
            # ClickHouse's Native format sends nothing at all for an empty result, not even the column names
            # (ClickHouse issue 55939), so code reading the columns of "nothing yet" would fail.
            import pandas as pd

            names = [row[0] for row in self.rows(f"DESCRIBE TABLE ({sql.strip().rstrip(';')})", parameters, settings)]
            frame = pd.DataFrame(columns=names)
        return frame

    def rows(self, sql: str, parameters: dict | None = None, settings: dict | None = None) -> list[tuple]:
        return list(self.query(sql, parameters, settings).result_rows)

    def scalar(self, sql: str, parameters: dict | None = None) -> Any:
        rows = self.rows(sql, parameters)
        return rows[0][0] if rows else None

    def command(self, sql: str, parameters: dict | None = None, settings: dict | None = None) -> Any:
        """DDL and other statements without a result set (not reported to listeners: they are not analytics)."""
        return self.client().command(sql, parameters=parameters, settings=settings)

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]] | Iterable[Sequence[Any]],
        column_names: Sequence[str],
        settings: dict | None = None,
    ):
        return self.client().insert(table, rows, column_names=list(column_names), database=self.database, settings=settings)

    def insert_df(self, table: str, frame, settings: dict | None = None):
        return self.client().insert_df(table, frame, database=self.database, settings=settings)

    def insert_arrow(self, table: str, data, slices: int = 2, settings: dict | None = None) -> int:
        """Bulk insert of a pyarrow Table (or a pandas DataFrame, converted as pyarrow infers it: give Map columns
        a Table with `pa.map_` types). Serialised as Arrow IPC in pyarrow's C++ instead of clickhouse-connect's
        Python Native encoder, and sent as `slices` contiguous slices on their own connections at once, so the
        server parses them in parallel. Not atomic across slices. Returns the rows sent."""
        import io
        from concurrent.futures import ThreadPoolExecutor

        import pyarrow as pa

        arrow = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        step = -(-arrow.num_rows // max(1, slices))

        def send(offset: int) -> None:
            part = arrow.slice(offset, step)
            sink = io.BytesIO()
            with pa.ipc.new_stream(sink, part.schema) as writer:
                writer.write_table(part)
            self.client().raw_insert(
                table, arrow.column_names, insert_block=sink.getvalue(), settings=settings, fmt="ArrowStream"
            )

        offsets = range(0, arrow.num_rows, step) if arrow.num_rows else []
        with ThreadPoolExecutor(max_workers=max(1, slices)) as pool:
            list(pool.map(send, offsets))
        return arrow.num_rows

    def ping(self) -> bool:
        try:
            return bool(self.client().ping())
        except WarehouseUnavailable:
            return False

    def close(self) -> None:
        client = getattr(self._local, "client", None)
        if client is not None:
            client.close()
            self._local.client = None


def sql_dir() -> Path:
    """The repository's `sql/` folder (migrations and cluster variants)."""
    return Path(__file__).resolve().parents[2] / "sql"
