"""Embedded warehouse server: the ClickHouse HTTP interface in front of a chDB data directory.

This is the single-machine default only; production points `TRACKFLOW_CLICKHOUSE_URL` at a real
ClickHouse and this module is not used. It speaks enough of the interface for unmodified
clickhouse-connect: query/body splitting, `param_*` binding (in the URL, or in a multipart form body, which
clickhouse-connect sends when the parameters would make the URL too long), settings and `session_id` passthrough,
request bodies in chunked transfer encoding and compressed with gzip/deflate/lz4/zstd, compressed
responses, `X-ClickHouse-*` headers and ClickHouse error codes. Queries run in worker threads so a slow
query never blocks `/ping`.

Run: `python -m pipelines.warehouse.server --data-dir DIR --port N` (`trackflow up` does it).
"""

from __future__ import annotations

import argparse
import base64
import json
import queue
import zlib

import anyio
import lz4.frame
import uvicorn
import zstandard
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from pipelines.config import Settings
from pipelines.warehouse.engine import (
    ChdbEngine,
    Statement,
    User,
    WarehouseError,
    insert_in_body,
    insert_in_query,
    settings_and_parameters,
    split_statement,
)

SERVER_VERSION = "trackflow-embedded"
CONTENT_TYPES = {
    "TabSeparated": "text/tab-separated-values; charset=UTF-8",
    "TSV": "text/tab-separated-values; charset=UTF-8",
    "CSV": "text/csv; charset=UTF-8",
    "JSON": "application/json; charset=UTF-8",
    "JSONEachRow": "application/x-ndjson; charset=UTF-8",
}
HEAD_LIMIT = 1 << 16  # an INSERT statement in front of its data is shorter than this
FORM_FIELDS = 10_000  # a form body's `query` and `param_*` fields, at most (an analysis query binds under 1,000)
STREAM_CHUNK = 1 << 20


class BodyDecoder:
    """Incremental decoding of a request body by its Content-Encoding, so an INSERT can stream into chDB while
    the client is still sending. clickhouse-connect compresses each Native block as its own LZ4 or zstd frame, so
    a body is a run of frames."""

    def __init__(self, encoding: str | None):
        self.encoding = (encoding or "identity").lower()
        if self.encoding == "lz4":
            self._lz4 = lz4.frame.LZ4FrameDecompressor()
        elif self.encoding == "zstd":
            self._zstd = zstandard.ZstdDecompressor().decompressobj(read_across_frames=True)
        elif self.encoding in ("gzip", "deflate"):
            self._zlib = zlib.decompressobj(wbits=31 if self.encoding == "gzip" else 15)
        elif self.encoding != "identity":
            raise WarehouseError(
                48, f"Code: 48. DB::Exception: Unknown Content-Encoding of HTTP request: {encoding}. (NOT_IMPLEMENTED)", 400
            )

    def feed(self, chunk: bytes) -> bytes:
        try:
            if self.encoding == "lz4":
                return self._feed_lz4(chunk)
            if self.encoding == "zstd":
                return self._zstd.decompress(chunk)
            if self.encoding in ("gzip", "deflate"):
                return self._zlib.decompress(chunk)
        except WarehouseError:
            raise
        except Exception as exc:
            raise WarehouseError(
                354, f"Code: 354. DB::Exception: Cannot decompress request body ({self.encoding}): {exc}. (CANNOT_DECOMPRESS)", 400
            ) from None
        return chunk

    def _feed_lz4(self, chunk: bytes) -> bytes:
        parts = []
        while chunk:
            parts.append(self._lz4.decompress(chunk))
            if not self._lz4.eof:
                break
            chunk = self._lz4.unused_data
            self._lz4 = lz4.frame.LZ4FrameDecompressor()
        return b"".join(parts)


def encode_body(body: bytes, accept_encoding: str, enabled: bool) -> tuple[bytes, str | None]:
    if not enabled or not body:
        return body, None
    offered = [part.split(";")[0].strip() for part in accept_encoding.split(",")]
    for encoding in offered:
        if encoding == "lz4":
            return lz4.frame.compress(body), encoding
        if encoding == "zstd":
            return zstandard.ZstdCompressor(level=1).compress(body), encoding
        if encoding == "gzip":
            return zlib.compress(body, level=1, wbits=31), encoding
        if encoding == "deflate":
            return zlib.compress(body, level=1), encoding
    return body, None


def credentials(request: Request) -> tuple[str | None, str | None]:
    """ClickHouse accepts Basic auth, X-ClickHouse-User/Key headers, or user/password URL parameters."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            name, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return name, password
        except Exception:
            return None, None
    if "x-clickhouse-user" in request.headers:
        return request.headers["x-clickhouse-user"], request.headers.get("x-clickhouse-key", "")
    return request.query_params.get("user"), request.query_params.get("password")


def error_response(error: WarehouseError, query_id: str | None = None) -> Response:
    headers = {"X-ClickHouse-Exception-Code": str(error.code), "X-ClickHouse-Server-Display-Name": SERVER_VERSION}
    if query_id:
        headers["X-ClickHouse-Query-Id"] = query_id
    return PlainTextResponse(f"{error.message} (version {SERVER_VERSION})\n", error.http_status, headers=headers)


class DecodedBody:
    """The request body decoded chunk by chunk, with the bytes already read kept in front."""

    def __init__(self, request: Request):
        self._chunks = request.stream()
        self._decoder = BodyDecoder(request.headers.get("content-encoding"))
        self.finished = False

    async def read_until(self, enough) -> bytes:
        buffer = b""
        async for raw in self._chunks:
            buffer += self._decoder.feed(raw)
            if enough(buffer):
                return buffer
        self.finished = True
        return buffer

    async def read_all(self) -> bytes:
        return await self.read_until(lambda _: False)

    async def __aiter__(self):
        async for raw in self._chunks:
            decoded = self._decoder.feed(raw)
            if decoded:
                yield decoded


async def form_fields(request: Request, body: DecodedBody) -> dict[str, str]:
    """The fields of a multipart/form-data body, read like URL parameters (`query`, `param_*`, settings)."""
    try:
        form = await MultiPartParser(request.headers, body, max_fields=FORM_FIELDS, max_part_size=1 << 30).parse()
    except MultiPartException as exc:
        raise WarehouseError(27, f"Code: 27. DB::Exception: Cannot parse the form data of the request: {exc.message}. (CANNOT_PARSE_INPUT_ASSERTION_FAILED)", 400) from None
    fields = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            raise WarehouseError(48, f"Code: 48. DB::Exception: External data (form file '{name}') is not supported by the embedded warehouse. (NOT_IMPLEMENTED)", 400)
        fields[name] = value
    return fields


async def read_statement(request: Request, params: dict[str, str]) -> tuple[Statement, tuple | None]:
    """The request as a Statement. An `INSERT ... FORMAT x` whose data is still arriving comes back with
    (bytes already read, the rest of the body) so it can stream into chDB; anything else is read whole."""
    body = DecodedBody(request)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        params = {**params, **await form_fields(request, body)}
        body.finished = True  # the form was the body
    query = params.get("query")
    target = insert_in_query(query)
    stream = None
    if target:
        sql, data, output_format = target[0], None, target[1]
        stream = (b"", body)
    else:
        # A body that opens with `INSERT ... FORMAT x` carries its data from the next line on.
        head = await body.read_until(lambda b: b"\n" in b or len(b) > HEAD_LIMIT)
        inline = None if query or body.finished else insert_in_body(head)
        if inline:
            sql, data, output_format = inline[0], None, inline[1]
            stream = (head[inline[2] :], body)
        else:
            whole = head + (b"" if body.finished else await body.read_all())
            default_format = params.get("default_format") or request.headers.get("x-clickhouse-format")
            sql, data, output_format = split_statement(query, whole, default_format)
    settings, parameters = settings_and_parameters(params)
    if request.method == "GET":
        # As on ClickHouse: GET requests are read-only whatever the user may do.
        settings["readonly"] = "1"
    statement = Statement(
        sql=sql,
        data=data,
        output_format=output_format,
        parameters=parameters,
        settings=settings,
        database=params.get("database") or request.headers.get("x-clickhouse-database"),
        session_id=params.get("session_id"),
        session_timeout=float(params.get("session_timeout") or 60),
        **({"query_id": params["query_id"]} if params.get("query_id") else {}),
    )
    return statement, stream


class ChunkQueue:
    """Hands body chunks from the event loop to the worker thread running the INSERT, with back-pressure.
    Chunks are coalesced to about STREAM_CHUNK bytes: chDB parses a few large appends faster than many small."""

    _END = object()

    def __init__(self):
        self._queue: queue.Queue = queue.Queue(maxsize=4)
        self._ended = False

    def put(self, item) -> None:
        self._queue.put(item)

    def __iter__(self):
        while (item := self._queue.get()) is not self._END:
            if isinstance(item, BaseException):
                # The body broke off: the INSERT must be cancelled, never committed with part of its data.
                raise item
            yield item
        self._ended = True

    def drain(self) -> None:
        """Called after the INSERT ended (maybe early, on bad data): consume the rest so the producer never blocks."""
        while not self._ended:
            self._ended = self._queue.get() is self._END

    def end(self) -> None:
        self._queue.put(self._END)


async def stream_insert(engine: ChdbEngine, user: User, statement: Statement, stream: tuple) -> Result:
    leading, body = stream
    chunks = ChunkQueue()
    statement.data = iter(chunks)
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = engine.execute(user, statement)
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            chunks.drain()

    async def pump() -> None:
        pending = bytearray(leading)
        try:
            async for decoded in body:
                pending += decoded
                if len(pending) >= STREAM_CHUNK:
                    await anyio.to_thread.run_sync(chunks.put, bytes(pending))
                    pending.clear()
            if pending:
                await anyio.to_thread.run_sync(chunks.put, bytes(pending))
        except BaseException as exc:
            await anyio.to_thread.run_sync(chunks.put, exc)
            raise
        finally:
            await anyio.to_thread.run_sync(chunks.end)

    async with anyio.create_task_group() as group:
        group.start_soon(anyio.to_thread.run_sync, run)
        await pump()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]  # type: ignore[return-value]


def build_app(engine: ChdbEngine) -> Starlette:
    async def ping(_: Request) -> Response:
        return PlainTextResponse("Ok.\n")

    async def query(request: Request) -> Response:
        params = dict(request.query_params)
        statement = None
        try:
            user = engine.authenticate(*credentials(request))
            if request.method == "GET" and not params.get("query"):
                return PlainTextResponse("Ok.\n")
            statement, body_stream = await read_statement(request, params)
            if body_stream is None:
                result = await anyio.to_thread.run_sync(engine.execute, user, statement)
            else:
                result = await stream_insert(engine, user, statement, body_stream)
        except WarehouseError as error:
            return error_response(error, statement.query_id if statement else params.get("query_id"))
        enabled = params.get("enable_http_compression") in ("1", "true")
        payload, encoding = encode_body(result.body, request.headers.get("accept-encoding", ""), enabled)
        headers = {
            "X-ClickHouse-Query-Id": statement.query_id,
            "X-ClickHouse-Format": result.output_format,
            "X-ClickHouse-Timezone": "UTC",
            "X-ClickHouse-Server-Display-Name": SERVER_VERSION,
            "X-ClickHouse-Summary": json.dumps(result.summary()),
        }
        if encoding:
            headers["Content-Encoding"] = encoding
        media_type = CONTENT_TYPES.get(result.output_format, "application/octet-stream")
        return Response(payload, 200, headers=headers, media_type=media_type)

    return Starlette(
        routes=[
            Route("/ping", ping, methods=["GET", "HEAD"]),
            Route("/", query, methods=["GET", "POST"]),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Trackflow embedded warehouse (chDB behind the ClickHouse HTTP interface)")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--pool-size", type=int, default=4)
    args = parser.parse_args(argv)

    # Users and passwords come from the settings (environment / trackflow.toml), never the command line.
    settings = Settings()
    users = [
        User(settings.clickhouse_user, settings.clickhouse_password.get_secret_value(), readonly=False),
        User(settings.analyst_user, settings.analyst_password.get_secret_value(), readonly=True),
    ]
    engine = ChdbEngine(args.data_dir, users, analyst_database=settings.clickhouse_database, pool_size=args.pool_size)
    try:
        uvicorn.run(
            build_app(engine),
            host=args.host,
            port=args.port,
            log_level="warning",
            access_log=False,
            timeout_keep_alive=30,
        )
    finally:
        engine.close()


if __name__ == "__main__":
    main()
