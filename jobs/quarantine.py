"""jobs/quarantine: events.quarantine (the collector's plan verdicts and the jobs' dead letters) -> the warehouse
`quarantine` table, the table's only loader. The metrics job builds it into its own topology (no JVM of its own:
docs/collector.md says why it lives there); rows are made by pipelines/plan/quarantine.py."""

from __future__ import annotations

from pyflink.common import Types

from pipelines import messaging
from pipelines.config import Settings
from pipelines.flinkrun.environment import kafka_stream
from pipelines.flinkrun.writers import TimedWarehouseWriter

GROUP = "trackflow-quarantine"
WRITER_KEY = "quarantine"
FLUSH_MS = 2_000  # low volume: one insert per tick at most, a quarantined event is in the table within seconds


class QuarantineWriter(TimedWarehouseWriter):
    """Collects the messages of one tick into a single insert; loading a message again (a replay after a restore)
    collapses with the row it made the first time."""

    def __init__(self, settings: Settings):
        super().__init__(settings, flush_ms=FLUSH_MS)

    def write(self, items: list) -> None:
        from pipelines.plan.quarantine import load_messages

        load_messages(self.warehouse, [item.encode() for item in items])


def build(env, settings: Settings) -> None:
    (
        kafka_stream(env, settings, "quarantine:load", GROUP, [messaging.QUARANTINE])
        .key_by(lambda message: WRITER_KEY, key_type=Types.STRING())
        .process(QuarantineWriter(settings))
        .name("insert quarantine")
        .uid("quarantine:write")
    )
