"""Local stack: starts, watches and stops the embedded engines (Kafka-protocol broker, warehouse, and the
services later capabilities add) as background processes under one data dir, with pid files, logs and ports.

At scale none of this runs: settings point at real clusters and `trackflow up` skips the embedded parts.
"""

from pipelines.stack.manager import ComponentStatus, Stack

__all__ = ["ComponentStatus", "Stack"]
