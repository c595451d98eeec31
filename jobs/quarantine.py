"""jobs/quarantine: events.quarantine (the collector's plan verdicts and the jobs' dead letters) -> the warehouse
`quarantine` table, the table's only loader. The metrics job builds it into its own topology (no JVM of its own:
docs/collector.md says why it lives there); rows are made by pipelines/plan/quarantine.py, and a message loaded
again (a replay after a restore) collapses with the row it made the first time."""

from __future__ import annotations

from jobs.loaders import build_loader
from pipelines import messaging
from pipelines.config import Settings

GROUP = "trackflow-quarantine"
FLUSH_MS = 2_000  # low volume: one insert per tick at most, a quarantined event is in the table within seconds


def build(env, settings: Settings) -> None:
    build_loader(env, settings, "quarantine", GROUP, messaging.QUARANTINE, "quarantine", "pipelines.plan.quarantine:load_messages", FLUSH_MS)
