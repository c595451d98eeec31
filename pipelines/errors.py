"""Errors shared across capabilities. A `ServiceUnavailable` reaching the command line is one line naming the
service and how to reach it (pipelines/cli.py `main`), never a traceback."""

from __future__ import annotations


class ServiceUnavailable(RuntimeError):
    """A service the work needs (the warehouse, Kafka, a push target) cannot be reached; the message says which
    and what to check."""
