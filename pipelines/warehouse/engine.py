"""chDB engine behind the embedded warehouse: connections, sessions, users and statement execution.

chDB allows one process per data directory, so this object lives inside the warehouse server process
and everything else talks to it over the ClickHouse HTTP interface (see `server.py`). Inside, each
chDB connection is a ClickHouse session with its own settings; connections run queries concurrently,
so a pool of them gives concurrency, and a ClickHouse `session_id` gets a connection of its own.
"""

from __future__ import annotations

import hmac
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

import chdb

from pipelines.warehouse.access import ANALYST_CEILINGS, AccessDenied, AnalystPolicy, quote
from pipelines.warehouse.storage import connection_string

# Parameters of the HTTP interface that are not ClickHouse settings.
HTTP_ONLY_PARAMS = frozenset(
    {
        "query",
        "database",
        "user",
        "password",
        "session_id",
        "session_timeout",
        "session_check",
        "query_id",
        "default_format",
        "compress",
        "decompress",
        "quota_key",
        "buffer_size",
        "wait_end_of_query",
        "client_protocol_version",
        "role",
    }
)
# Settings ClickHouse honours at the HTTP layer; chDB has no HTTP layer, so applying them is a no-op.
TRANSPORT_SETTINGS = frozenset(
    {
        "enable_http_compression",
        "http_zlib_compression_level",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "http_response_buffer_size",
        "http_wait_end_of_query",
        "cancel_http_readonly_queries_on_client_close",
    }
)

_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TRAILING_FORMAT = re.compile(r"^(?P<statement>.*?)\s+FORMAT\s+(?P<format>[A-Za-z0-9_]+)\s*;?\s*$", re.S | re.I)
_INSERT = re.compile(r"^\s*(?:/\*.*?\*/\s*|--[^\n]*\n\s*)*INSERT\s", re.S | re.I)
# The data of `INSERT ... FORMAT x` starts after one whitespace character following the format name.
_INSERT_WITH_DATA = re.compile(rb"^(?P<statement>\s*INSERT\s.*?)\s+FORMAT\s+(?P<format>[A-Za-z0-9_]+)(?:\r?\n|[ \t])?", re.S | re.I)
_SET_STATEMENT = re.compile(r"^\s*SET\s", re.I)
_CODE = re.compile(r"Code: (\d+)\.")

SESSION_TIMEOUT_S = 60.0
MAX_SESSIONS = 256


class WarehouseError(Exception):
    """A ClickHouse-style error: numeric code, message and the HTTP status the interface answers with."""

    def __init__(self, code: int, message: str, http_status: int = 500):
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status

    @classmethod
    def from_chdb(cls, exc: Exception) -> "WarehouseError":
        message = str(exc).strip()
        match = _CODE.search(message)
        code = int(match.group(1)) if match else 1001  # STD_EXCEPTION
        return cls(code, message if match else f"Code: {code}. DB::Exception: {message}", http_status_for(code))


def http_status_for(code: int) -> int:
    """The HTTP status ClickHouse's HTTP handler uses for an error code (the common cases)."""
    if code in (516, 192, 193, 194, 195):  # authentication
        return 401
    if code in (164, 497, 291):  # READONLY, ACCESS_DENIED, DATABASE_ACCESS_DENIED
        return 403
    if code in (60, 81, 47, 16):  # UNKNOWN_TABLE, UNKNOWN_DATABASE, UNKNOWN_IDENTIFIER, NO_SUCH_COLUMN
        return 404
    if code in (62, 27, 26, 38, 42, 43, 44, 53, 115, 457, 72):  # syntax, parse, type and argument errors
        return 400
    if code == 373:  # SESSION_IS_LOCKED
        return 423
    return 500


@dataclass(frozen=True)
class User:
    name: str
    password: str
    readonly: bool


@dataclass
class Statement:
    """One HTTP request turned into what chDB runs."""

    sql: str
    data: bytes | Iterable[bytes] | None = None  # INSERT payload, decompressed: whole or as a stream of chunks
    output_format: str = "TabSeparated"
    parameters: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    database: str | None = None
    session_id: str | None = None
    session_timeout: float = SESSION_TIMEOUT_S
    query_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Result:
    body: bytes
    output_format: str
    read_rows: int = 0
    read_bytes: int = 0
    written_rows: int = 0
    written_bytes: int = 0
    elapsed_s: float = 0.0

    def summary(self) -> dict[str, str]:
        # ClickHouse sends every figure as a string in X-ClickHouse-Summary.
        return {
            "read_rows": str(self.read_rows),
            "read_bytes": str(self.read_bytes),
            "written_rows": str(self.written_rows),
            "written_bytes": str(self.written_bytes),
            "total_rows_to_read": str(self.read_rows),
            "result_rows": "0",
            "result_bytes": str(len(self.body)),
            "elapsed_ns": str(int(self.elapsed_s * 1e9)),
        }


def insert_in_query(query: str | None) -> tuple[str, str] | None:
    """(statement, input format) when the `query` parameter is an `INSERT ... FORMAT x` whose data is the body."""
    if query and _INSERT.match(query):
        match = _TRAILING_FORMAT.match(query)
        if match:
            return match.group("statement"), match.group("format")
    return None


def insert_in_body(head: bytes) -> tuple[str, str, int] | None:
    """(statement, input format, offset where the data starts) when the body opens with `INSERT ... FORMAT x`."""
    if not _INSERT.match(head[:64].decode("utf-8", errors="replace")):
        return None
    match = _INSERT_WITH_DATA.match(head)
    if not match:
        return None
    return match.group("statement").decode(), match.group("format").decode(), match.end()


def split_statement(query: str | None, body: bytes, default_format: str | None) -> tuple[str, bytes | None, str]:
    """Apply ClickHouse's HTTP rules to a whole request: the `query` parameter and the body together form it; an
    INSERT with `FORMAT x` takes whatever follows as its data. Returns (sql, insert data or None, output format)."""
    target = insert_in_query(query)
    if target and body:
        return target[0], body, target[1]
    inline = None if query else insert_in_body(body)
    if inline:
        return inline[0], body[inline[2] :], inline[1]
    text = "\n".join(part for part in (query, body.decode("utf-8", errors="replace")) if part)
    if not text.strip():
        raise WarehouseError(62, "Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)", 400)
    return text, None, default_format or "TabSeparated"


def settings_and_parameters(params: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Split URL parameters into ClickHouse settings and `{name:Type}` query parameters."""
    settings, parameters = {}, {}
    for key, value in params.items():
        if key.startswith("param_"):
            parameters[key[len("param_") :]] = value
        elif key in HTTP_ONLY_PARAMS or key in TRANSPORT_SETTINGS:
            continue
        elif not _SETTING_NAME.match(key):
            raise WarehouseError(115, f"Code: 115. DB::Exception: Unknown setting '{key}'. (UNKNOWN_SETTING)", 400)
        else:
            settings[key] = value
    return settings, parameters


class _Session:
    def __init__(self, connection, timeout: float):
        self.connection = connection
        self.lock = threading.Lock()
        self.timeout = timeout
        self.last_used = time.monotonic()


class ChdbEngine:
    """Runs statements on a chDB data directory for authenticated users."""

    def __init__(self, data_dir: str, users: list[User], analyst_database: str = "trackflow", pool_size: int = 4):
        self.data_dir = data_dir
        # What read-only users may run: SELECTs on this database, checked before anything reaches chDB.
        self.policy = AnalystPolicy(analyst_database)
        # The connection string carries the storage-policy config (hot/cold volumes) of the embedded warehouse.
        self._dsn = connection_string(data_dir)
        self.users = {user.name: user for user in users}
        self._admin = chdb.connect(self._dsn)
        self._slots = threading.BoundedSemaphore(pool_size)
        self._idle: dict[bool, list] = {False: [], True: []}
        self._sessions: OrderedDict[tuple[str, str], _Session] = OrderedDict()
        self._lock = threading.Lock()

    # -- users -------------------------------------------------------------------------------------------------
    def authenticate(self, name: str | None, password: str | None) -> User:
        user = self.users.get(name or "default")
        if user is None or not hmac.compare_digest(user.password.encode(), (password or "").encode()):
            raise WarehouseError(
                516,
                f"Code: 516. DB::Exception: {name or 'default'}: Authentication failed: password is incorrect, "
                "or there is no user with such name. (AUTHENTICATION_FAILED)",
                401,
            )
        return user

    # -- connections -------------------------------------------------------------------------------------------
    def _new_connection(self, readonly: bool):
        connection = chdb.connect(self._dsn)
        if readonly:
            # readonly=2: reads and per-query settings, never writes or DDL, and it cannot be switched back off.
            connection.query("SET readonly = 2")
            for name, ceiling in ANALYST_CEILINGS.items():
                connection.query(f"SET {name} = {ceiling}")
        return connection

    def _pooled(self, readonly: bool):
        with self._lock:
            idle = self._idle[readonly]
            return idle.pop() if idle else self._new_connection(readonly)

    def _release(self, readonly: bool, connection) -> None:
        with self._lock:
            self._idle[readonly].append(connection)

    def _session(self, user: User, session_id: str, timeout: float) -> _Session:
        key = (user.name, session_id)
        with self._lock:
            self._expire_sessions()
            session = self._sessions.get(key)
            if session is None:
                session = _Session(self._new_connection(user.readonly), timeout)
                self._sessions[key] = session
            self._sessions.move_to_end(key)
            session.last_used = time.monotonic()
            return session

    def _expire_sessions(self) -> None:
        now = time.monotonic()
        for key, session in list(self._sessions.items()):
            too_many = len(self._sessions) > MAX_SESSIONS
            if (too_many or now - session.last_used > session.timeout) and not session.lock.locked():
                del self._sessions[key]
                session.connection.close()

    # -- execution ---------------------------------------------------------------------------------------------
    def execute(self, user: User, statement: Statement) -> Result:
        # `readonly` is enforced by running on a read-only connection: once set, chDB cannot unset it per query.
        requested = statement.settings.pop("readonly", None)
        readonly = user.readonly or requested not in (None, "0", "")
        if user.readonly:
            try:
                self.policy.check_request(statement.settings, requested, statement.database)
            except AccessDenied as denied:
                raise WarehouseError(denied.code, denied.message, http_status_for(denied.code)) from None
            statement.database = self.policy.database
        with self._slots:
            if statement.session_id and readonly == user.readonly:
                session = self._session(user, statement.session_id, statement.session_timeout)
                with session.lock:
                    self._check(user, session.connection, statement)
                    return self._run(session.connection, statement, keep_session_settings=True, readonly=readonly)
            connection = self._pooled(readonly)
            try:
                # A pooled connection must not carry the previous request's database over.
                statement.database = statement.database or "default"
                self._check(user, connection, statement)
                return self._run(connection, statement, keep_session_settings=False, readonly=readonly)
            finally:
                self._release(readonly, connection)

    def _check(self, user: User, connection, statement: Statement) -> None:
        """A read-only user's statement must pass the analyst policy (parsed on its own read-only connection)."""
        if not user.readonly:
            return
        if statement.data is not None:
            raise WarehouseError(164, "Code: 164. DB::Exception: analyst: Cannot execute INSERT in readonly mode. (READONLY)", 403)

        def parse_only(sql: str, parameters: dict[str, str]) -> str:
            try:
                return connection.query(sql, "TabSeparatedRaw", params=parameters or None).bytes().decode()
            except Exception as exc:
                raise WarehouseError.from_chdb(exc) from None

        try:
            self.policy.check_statement(parse_only, statement.sql, statement.parameters)
        except AccessDenied as denied:
            raise WarehouseError(denied.code, denied.message, http_status_for(denied.code)) from None

    def _run(self, connection, statement: Statement, keep_session_settings: bool, readonly: bool) -> Result:
        if not keep_session_settings and statement.data is None and _SET_STATEMENT.match(statement.sql):
            # Without a session a SET outlives nothing, exactly as on a ClickHouse server.
            return Result(b"", statement.output_format)
        # A read-only connection's limits go back to the analyst's ceilings after a query lowered them.
        baseline = ANALYST_CEILINGS if readonly else {}
        applied = self._apply(connection, statement, baseline)
        started = time.perf_counter()
        try:
            if statement.data is not None:
                return self._insert(connection, statement, started)
            result = connection.query(statement.sql, statement.output_format, params=statement.parameters or None)
            return Result(
                body=result.bytes(),
                output_format=statement.output_format,
                read_rows=result.rows_read(),
                read_bytes=result.bytes_read(),
                written_rows=result.rows_written(),
                written_bytes=result.bytes_written(),
                elapsed_s=time.perf_counter() - started,
            )
        except WarehouseError:
            raise
        except Exception as exc:  # chDB raises ChdbError / RuntimeError carrying ClickHouse's message
            raise WarehouseError.from_chdb(exc) from None
        finally:
            self._restore(connection, applied, baseline)

    @staticmethod
    def _insert(connection, statement: Statement, started: float) -> Result:
        chunks = [statement.data] if isinstance(statement.data, bytes) else statement.data
        inserter = connection.send_insert(statement.sql, statement.output_format)
        received = 0
        try:
            for chunk in chunks:
                received += len(chunk)
                inserter.append(chunk)
            outcome = inserter.finish()
        except BaseException:
            inserter.cancel()
            raise
        return Result(
            body=b"",
            output_format=statement.output_format,
            written_rows=getattr(outcome, "rows_written", 0),
            written_bytes=getattr(outcome, "bytes_written", received),
            elapsed_s=time.perf_counter() - started,
        )

    @staticmethod
    def _apply(connection, statement: Statement, baseline: dict) -> list[str]:
        applied = []
        try:
            if statement.database:
                connection.query(f"USE {_backquote(statement.database)}")
            for name, value in statement.settings.items():
                connection.query(f"SET {name} = {quote(value)}")
                applied.append(name)
        except Exception as exc:
            ChdbEngine._restore(connection, applied, baseline)
            raise WarehouseError.from_chdb(exc) from None
        return applied

    @staticmethod
    def _restore(connection, applied: list[str], baseline: dict) -> None:
        for name in applied:
            connection.query(f"SET {name} = {baseline.get(name, 'DEFAULT')}")

    def close(self) -> None:
        with self._lock:
            for session in self._sessions.values():
                session.connection.close()
            self._sessions.clear()
            for idle in self._idle.values():
                for connection in idle:
                    connection.close()
                idle.clear()
        self._admin.close()


def _backquote(identifier: str) -> str:
    return "`" + identifier.replace("\\", "\\\\").replace("`", "\\`") + "`"
