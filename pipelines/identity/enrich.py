"""Stamping events with their OneID (for the dwd job): the OneID of the event's strongest id the index knows.

The dwd job would keep a `OneIdIndex` fresh from identity.changes (`index.follow_changes` in a thread, or a
broadcast stream of the same messages) and call `event_oneid` per event. An id the graph has not seen yet (the
OneID job runs beside dwd, not before it) gives '' and the detail row keeps person_id; analyses attribute it
through `oneid_current` either way, so a late stamp costs nothing in correctness.
"""

from __future__ import annotations

from typing import Any

from pipelines.identity.index import OneIdIndex
from pipelines.identity.rules import Rules


def event_oneid(rules: Rules, index: OneIdIndex, ids: dict[str, Any] | None) -> str:
    nodes = []
    for id_type, value in (ids or {}).items():
        node, _ = rules.normalise(str(id_type), value)
        if node is not None:
            nodes.append((rules.priority(node), node))
    for _, node in sorted(nodes):
        oneid = index.lookup(node)
        if oneid is not None:
            return index.resolve(oneid)
    return ""
