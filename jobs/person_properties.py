"""jobs/person_properties: persons.properties (the protocol intakes' person-property updates) -> the warehouse
`person_property_log` table, the table's only loader. Built into the metrics job's topology as jobs/quarantine is
(no JVM of its own); rows are made by pipelines/person_properties.py. Loading a message again (a replay after a
restore) adds nothing: its rows collapse with the first load's (same update_id), and the latest-value view reads
each update once either way."""

from __future__ import annotations

from jobs.loaders import build_loader
from pipelines import messaging
from pipelines.config import Settings

GROUP = "trackflow-person-properties"
FLUSH_MS = 1_000  # a profile update is visible within about a second; one insert per tick at most


def build(env, settings: Settings) -> None:
    build_loader(
        env, settings, "person_properties", GROUP, messaging.PERSON_PROPERTIES, "person_property_log",
        "pipelines.person_properties:load_messages", FLUSH_MS,
    )  # fmt: skip
