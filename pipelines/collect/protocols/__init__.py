"""Other vendors' SDK protocols mapped onto native envelopes (docs/collector.md, "Sensors Analytics SDKs").

A protocol module is pure: request parts (body, query parameters, content type) in, a `Mapped` out. The envelopes
it makes are the native event shape, so the collector runs them through the same path as /v1/batch (envelope
checks, tracking plan, quarantine, enrichment, Kafka/spool); identity links travel in each envelope's `ids` as
they do for native events, so OneID links them the same way. A record the protocol cannot map is listed in
`rejected` with its index and reason instead of being dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Mapped:
    events: list[dict[str, Any]] = field(default_factory=list)
    # events[i] came from record record_indexes[i] of the request (rejections name the request's record index).
    record_indexes: list[int] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    single: bool = False

    def add(self, index: int, event: dict[str, Any]) -> None:
        self.events.append(event)
        self.record_indexes.append(index)
