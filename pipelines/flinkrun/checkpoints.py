"""Finding the newest complete retained checkpoint of a job (`<dir>/<flink job id>/chk-<n>/_metadata`)."""

from __future__ import annotations

from pathlib import Path


def latest_checkpoint(directory: Path) -> Path | None:
    """The newest checkpoint with its `_metadata` written (an incomplete one has none), by modification time
    across job ids (each run gets a new Flink job id) then checkpoint number."""
    if not directory.exists():
        return None
    complete = [meta.parent for meta in directory.glob("*/chk-*/_metadata")]
    if not complete:
        return None
    return max(complete, key=lambda path: (path.joinpath("_metadata").stat().st_mtime, int(path.name.split("-")[1])))
