"""A Flink function shared by the jobs that write to the warehouse on a timer (metrics, oneid)."""

from __future__ import annotations

from pyflink.common import Types
from pyflink.datastream.functions import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ListStateDescriptor, ValueStateDescriptor

from pipelines.config import Settings


class TimedWarehouseWriter(KeyedProcessFunction):
    """Buffers elements in keyed list state (a buffer survives a failure with the checkpoint) and hands them to
    `write(items)` `flush_ms` after the first element of each buffer, then empties the buffer. Python functions
    have no checkpoint hooks in PyFlink, so keyed state flushed by timers is how a buffer stays durable."""

    state_type = Types.STRING()

    def __init__(self, settings: Settings, flush_ms: int):
        self.settings = settings
        self.flush_ms = flush_ms

    def open(self, runtime_context: RuntimeContext):
        from pipelines.warehouse.client import Warehouse

        self.buffer = runtime_context.get_list_state(ListStateDescriptor("buffer", self.state_type))
        self.pending = runtime_context.get_state(ValueStateDescriptor("pending", Types.BOOLEAN()))
        self.warehouse = Warehouse(self.settings)

    def close(self):
        self.warehouse.close()

    def process_element(self, value, ctx):
        self.buffer.add(value)
        if not self.pending.value():
            self.pending.update(True)
            timers = ctx.timer_service()
            timers.register_processing_time_timer(timers.current_processing_time() + self.flush_ms)

    def on_timer(self, timestamp, ctx):
        self.write(list(self.buffer.get() or []))
        self.buffer.clear()
        self.pending.clear()
        return iter(())

    def write(self, items: list) -> None:
        raise NotImplementedError
