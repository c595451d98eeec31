"""The built web app (`web/dist`, `make web`) from the API's own server: no CDN.

- `/assets/*`: Vite's content-hashed files, cached for a year as immutable.
- Any other path outside the API (`/v1/*`, `/openapi.json`, `/healthz`): a file of the build's root if there is
  one (e.g. the favicon), else `index.html` (the app routes in the browser); both `no-cache`, so a new build shows.
- No build: 503 saying how to make one. Unknown API paths, whatever the method: a JSON 404.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

IMMUTABLE = "public, max-age=31536000, immutable"
NOT_BUILT = "the workbench is not built: run `make web`"
API_PREFIXES = ("v1/", "openapi.json", "healthz")


def default_dist() -> Path:
    return Path(__file__).resolve().parents[2] / "web" / "dist"


def _inside(root: Path, relative: str) -> Path | None:
    """The file `relative` names under `root`, or None (missing, a folder, or outside root: `..`, symlinks out)."""
    try:
        path = (root / relative).resolve()
    except (OSError, ValueError):  # NUL bytes, loops
        return None
    return path if path.is_relative_to(root.resolve()) and path.is_file() else None


def static_routes(dist: Path) -> list[Route]:
    async def asset(request: Request) -> Response:
        if not (dist / "index.html").is_file():
            return PlainTextResponse(NOT_BUILT, status_code=503)
        path = _inside(dist / "assets", request.path_params["path"])
        if path is None:
            return PlainTextResponse("no such asset", status_code=404)
        return FileResponse(path, headers={"Cache-Control": IMMUTABLE})

    async def page(request: Request) -> Response:
        relative = request.path_params["path"]
        if relative.startswith(API_PREFIXES) or relative == "v1":
            return JSONResponse({"error": f"no endpoint {request.method} /{relative}"}, status_code=404)
        if request.method not in ("GET", "HEAD"):
            return JSONResponse({"error": f"{request.method} /{relative}: the app's pages are read with GET"}, status_code=405)
        index = dist / "index.html"
        if not index.is_file():
            return PlainTextResponse(NOT_BUILT, status_code=503)
        path = (_inside(dist, relative) if relative else None) or index
        return FileResponse(path, headers={"Cache-Control": "no-cache"})

    return [
        Route("/assets/{path:path}", asset, methods=["GET", "HEAD"]),
        # Every method: an unknown API path is a JSON 404, not a 405 (a function route defaults to GET only).
        Route("/{path:path}", page, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
    ]
