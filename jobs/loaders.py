"""One shape for the jobs that load a low-volume topic into its warehouse table (jobs/quarantine,
jobs/person_properties): every message of one tick in a single insert, by a loader function that makes a message
loaded again (a replay after a restore) collapse with the rows it made the first time."""

from __future__ import annotations

import importlib

from pyflink.common import Types

from pipelines.config import Settings
from pipelines.flinkrun.environment import kafka_stream
from pipelines.flinkrun.writers import TimedWarehouseWriter


class TopicLoader(TimedWarehouseWriter):
    """`load` is "module:function", function(warehouse, messages: list[bytes]); imported in the task, not when the
    job graph is built."""

    def __init__(self, settings: Settings, flush_ms: int, load: str):
        super().__init__(settings, flush_ms=flush_ms)
        self.load_path = load

    def open(self, runtime_context):
        super().open(runtime_context)
        module, _, function = self.load_path.partition(":")
        self.load = getattr(importlib.import_module(module), function)

    def write(self, items: list) -> None:
        self.load(self.warehouse, [item.encode() for item in items])


def build_loader(env, settings: Settings, name: str, group: str, topic: str, table: str, load: str, flush_ms: int) -> None:
    """topic -> table through `load`, keyed to one writer; operator names and uids are `<name>:load` / `<name>:write`."""
    (
        kafka_stream(env, settings, f"{name}:load", group, [topic])
        .key_by(lambda message: name, key_type=Types.STRING())
        .process(TopicLoader(settings, flush_ms, load))
        .name(f"insert {table}")
        .uid(f"{name}:write")
    )
