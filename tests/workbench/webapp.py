"""The built workbench (web/dist) for the browser and build tests: npm ci from the lock file when node_modules is
missing, then `npm run build` (vue-tsc, then vite) once per test session."""

from __future__ import annotations

import functools
import gzip
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def npm(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["npm", *args], cwd=WEB, capture_output=True, text=True, timeout=timeout)


@functools.cache
def built_dist() -> Path:
    if not (WEB / "node_modules").exists():
        installed = npm("ci", "--no-audit", "--no-fund")
        assert installed.returncode == 0, installed.stdout + installed.stderr
    build = npm("run", "build")
    assert build.returncode == 0, build.stdout + build.stderr
    return WEB / "dist"


def first_load(dist: Path) -> dict[str, int]:
    """Gzip bytes (level 9) of what index.html makes the browser fetch before any route runs: its module scripts,
    their modulepreloads and stylesheets, and index.html itself."""
    index = (dist / "index.html").read_text()
    refs = re.findall(r'<(?:script[^>]*\bsrc|link[^>]*\bhref)="(/assets/[^"]+)"', index)
    sizes = {"index.html": len(gzip.compress(index.encode(), 9))}
    for ref in dict.fromkeys(refs):
        sizes[ref] = len(gzip.compress((dist / ref.lstrip("/")).read_bytes(), 9))
    return sizes
