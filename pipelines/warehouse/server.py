"""Embedded warehouse server: the ClickHouse HTTP interface in front of a chDB data directory.

This is the single-machine default only; production points `TRACKFLOW_CLICKHOUSE_URL` at a real
ClickHouse and this module is not used. It speaks enough of the interface for unmodified
clickhouse-connect: query/body splitting, `param_*` binding, settings and `session_id` passthrough,
request bodies in chunked transfer encoding and compressed with gzip/deflate/lz4/zstd, compressed
responses, `X-ClickHouse-*` headers and ClickHouse error codes. Queries run in worker threads so a slow
query never blocks `/ping`.

Run: `python -m pipelines.warehouse.server --data-dir DIR --port N` (`trackflow up` does it).
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import zlib

import anyio
import lz4.frame
import uvicorn
import zstandard
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from pipelines.config import Settings
from pipelines.warehouse.engine import (
    ChdbEngine,
    Statement,
    User,
    WarehouseError,
    settings_and_parameters,
    split_statement,
)

log = logging.getLogger("trackflow.warehouse")

SERVER_VERSION = "trackflow-embedded"
CONTENT_TYPES = {
    "TabSeparated": "text/tab-separated-values; charset=UTF-8",
    "TSV": "text/tab-separated-values; charset=UTF-8",
    "CSV": "text/csv; charset=UTF-8",
    "JSON": "application/json; charset=UTF-8",
    "JSONEachRow": "application/x-ndjson; charset=UTF-8",
}
RESPONSE_ENCODINGS = ("lz4", "zstd", "gzip", "deflate")


def _lz4_frames(body: bytes) -> bytes:
    # clickhouse-connect compresses each Native block as its own LZ4 frame; a body is a run of frames.
    parts, rest = [], body
    while rest:
        decompressor = lz4.frame.LZ4FrameDecompressor()
        parts.append(decompressor.decompress(rest))
        if not decompressor.eof:
            raise ValueError("truncated LZ4 frame")
        rest = decompressor.unused_data
    return b"".join(parts)


def decode_body(body: bytes, encoding: str | None) -> bytes:
    if not body or not encoding or encoding == "identity":
        return body
    try:
        if encoding == "gzip":
            return zlib.decompress(body, wbits=31)
        if encoding == "deflate":
            return zlib.decompress(body)
        if encoding == "lz4":
            return _lz4_frames(body)
        if encoding == "zstd":
            return zstandard.ZstdDecompressor().decompressobj(read_across_frames=True).decompress(body)
    except Exception as exc:
        raise WarehouseError(
            354, f"Code: 354. DB::Exception: Cannot decompress request body ({encoding}): {exc}. (CANNOT_DECOMPRESS)", 400
        ) from None
    raise WarehouseError(
        48, f"Code: 48. DB::Exception: Unknown Content-Encoding of HTTP request: {encoding}. (NOT_IMPLEMENTED)", 400
    )


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


def build_app(engine: ChdbEngine) -> Starlette:
    async def ping(_: Request) -> Response:
        return PlainTextResponse("Ok.\n")

    async def query(request: Request) -> Response:
        params = dict(request.query_params)
        statement = None
        try:
            user = engine.authenticate(*credentials(request))
            body = decode_body(await request.body(), request.headers.get("content-encoding"))
            if request.method == "GET" and not params.get("query"):
                return PlainTextResponse("Ok.\n")
            default_format = params.get("default_format") or request.headers.get("x-clickhouse-format")
            sql, data, output_format = split_statement(params.get("query"), body, default_format)
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
            result = await anyio.to_thread.run_sync(engine.execute, user, statement)
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
    engine = ChdbEngine(args.data_dir, users, pool_size=args.pool_size)
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
