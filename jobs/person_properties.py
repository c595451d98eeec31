"""jobs/person_properties: persons.properties (the protocol intakes' person-property updates) -> the warehouse
`person_property_log` table, the table's only loader. Built into the metrics job's topology as jobs/quarantine is
(no JVM of its own); rows are made by pipelines/person_properties.py. Loading a message again (a replay after a
restore) adds nothing: its rows collapse with the first load's (same update_id), and the latest-value view reads
each update once either way."""

from __future__ import annotations

from pyflink.common import Types

from pipelines import messaging
from pipelines.config import Settings
from pipelines.flinkrun.environment import kafka_stream
from pipelines.flinkrun.writers import TimedWarehouseWriter

GROUP = "trackflow-person-properties"
WRITER_KEY = "person_properties"
FLUSH_MS = 1_000  # a profile update is visible within about a second; one insert per tick at most


class PersonPropertiesWriter(TimedWarehouseWriter):
    def __init__(self, settings: Settings):
        super().__init__(settings, flush_ms=FLUSH_MS)

    def write(self, items: list) -> None:
        from pipelines.person_properties import load_messages

        load_messages(self.warehouse, [item.encode() for item in items])


def build(env, settings: Settings) -> None:
    (
        kafka_stream(env, settings, "person_properties:load", GROUP, [messaging.PERSON_PROPERTIES])
        .key_by(lambda message: WRITER_KEY, key_type=Types.STRING())
        .process(PersonPropertiesWriter(settings))
        .name("insert person_property_log")
        .uid("person_properties:write")
    )
