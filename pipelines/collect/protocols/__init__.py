"""Other vendors' SDK protocols mapped onto native envelopes (docs/collector.md, "Other vendors' SDKs").

A protocol module is pure: request parts (body, query parameters, content type) in, a `Mapped` out. The envelopes
it makes are the native event shape, so the collector runs them through the same path as /v1/batch (envelope
checks, tracking plan, quarantine, enrichment, Kafka/spool); identity links travel in each envelope's `ids` as
they do for native events, so OneID links them the same way. Person-property updates (profile / identify calls)
go to `persons.properties` through the same sink (pipelines/person_properties.py). A record the protocol cannot
map is listed in `rejected` with its index and reason instead of being dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipelines.collect.intake import BadRequest
from pipelines.person_properties import MAX_PROPERTY_NAME, OPS
from pipelines.plan.validate import json_type_name


@dataclass
class Mapped:
    events: list[dict[str, Any]] = field(default_factory=list)
    # events[i] came from record record_indexes[i] of the request (rejections name the request's record index).
    record_indexes: list[int] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    single: bool = False
    # {"update_id", "op", "ids", "ts", "properties", "source"}: pipelines/person_properties.py says what each op does.
    person_updates: list[dict[str, Any]] = field(default_factory=list)

    def add(self, index: int, event: dict[str, Any]) -> None:
        self.events.append(event)
        self.record_indexes.append(index)

    def reject(self, index: int, exc: BadRequest) -> None:
        self.rejected.append({"index": index, "status": exc.status, "error": exc.reason, **exc.details})

    @property
    def empty(self) -> bool:
        return not self.events and not self.person_updates


def person_update(op: str, ids: dict[str, str], ts: int, properties: Any, update_id: str, source: str) -> dict[str, Any]:
    """A checked person-property update; a 400 naming what is wrong. `append` takes lists of items; `unset` takes
    the names (values ignored)."""
    if op not in OPS:
        raise BadRequest(400, f"person update {op!r} is not one of {', '.join(OPS)}")
    if not ids:
        raise BadRequest(400, "a person update needs the person's id", field="ids")
    if not isinstance(properties, dict):
        raise BadRequest(400, f"{op} properties must be an object, got {json_type_name(properties)}", field="properties")
    for name, value in properties.items():
        if not name or len(name) > MAX_PROPERTY_NAME:
            raise BadRequest(400, f"a person property name is 1 to {MAX_PROPERTY_NAME} characters", field="properties")
        if op == "append" and not isinstance(value, list):
            raise BadRequest(400, f"append needs a list of items for {name[:40]!r}, got {json_type_name(value)}", field=f"properties.{name[:40]}")
    if op == "unset":
        properties = dict.fromkeys(properties, None)
    return {"update_id": update_id, "op": op, "ids": ids, "ts": ts, "properties": properties, "source": source}
