"""Reading a JSON object from an HTTP request body, one way for every JSON API (analysis queries, the tracking
plan, the workbench): a size cap read no further than needed (413), application/json or a +json type (415), strict
JSON (400) and an object at the top (400). Each refusal is a JSON error response naming the problem."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse


def json_media_type(content_type: str | None) -> bool:
    """No Content-Type, application/json or a +json type (parameters such as charset aside)."""
    media = (content_type or "application/json").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def read_body(request: Request, max_bytes: int) -> bytes | None:
    """The body, or None past max_bytes (read no further)."""
    if int(request.headers.get("content-length") or 0) > max_bytes:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            return None
    return bytes(body)


async def json_object(
    request: Request, max_bytes: int, limit_name: str, expected: str = "body must be a JSON object"
) -> dict | JSONResponse:
    """The body as a dict, or the error response to send. `limit_name` names the setting of the cap."""
    if (raw := await read_body(request, max_bytes)) is None:
        return JSONResponse({"error": f"request body over {max_bytes:,} bytes ({limit_name})"}, status_code=413)
    if not json_media_type(request.headers.get("content-type")):
        return JSONResponse(
            {"error": f"Content-Type {request.headers['content-type']!r}: send the request as application/json"},
            status_code=415,
        )
    try:
        # orjson, as the collector and the OneID service: strict RFC 8259 in UTF-8 (no NaN or Infinity), numbers
        # that fit a double, nesting to 1,024 levels - each refused with a position, never a RecursionError or
        # the ValueError of Python's 4,300-digit int limit that json.loads raises.
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return JSONResponse({"error": f"body is not JSON: {exc}"}, status_code=400)
    if not isinstance(body, dict):
        return JSONResponse({"error": expected}, status_code=400)
    return body
