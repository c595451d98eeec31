"""Person properties: the updates other vendors' SDKs send (Sensors profile_*, PostHog $set/$set_once, Segment
identify traits), their messages on `persons.properties`, their rows in the warehouse and the latest values.

An update is one operation on some properties of one person at one client time:
  set       the property takes the value;
  set_once  the property takes the value only if it has none (set_once never overwrites);
  append    list items are added to the property's list;
  unset     the property loses its value.
The warehouse keeps every update (`person_property_log`, one row per update and property: the history) and
derives the latest value per (app, person, property) by folding that property's updates in client-time order
(`person_properties`, sql/migrations/0022_person_properties.sql; updates of one millisecond in the order of their
request). The fold's result depends only on the set of
updates, not on the order they arrived in, and a replayed update (same update_id) collapses with its first copy,
so a redelivery after a restore or an SDK's re-send changes nothing, set_once included.

The collector makes the messages (pipelines/collect/protocols map requests to updates; the collector delivers them
through the same sink as events: spool and journal alike); the only loader is jobs/person_properties, inside the
metrics job, as for the quarantine table.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import TYPE_CHECKING, Any, Iterable

from pipelines.envelope import primary_id

if TYPE_CHECKING:  # the collector imports this module for OPS: it needs no warehouse client
    from pipelines.warehouse.client import Warehouse

OPS = ("set", "set_once", "append", "unset")
COLUMNS = ("app_id", "person_id", "property", "update_id", "op", "value", "items", "ts", "seq", "received_at", "ids", "source")
MAX_PROPERTY_NAME = 200


def person_id(ids: dict[str, str]) -> str:
    """The person an update is about, named as the detail tables name a person ('user_id:u-1'), so OneID's mapping
    (oneid_current, oneid_dict) resolves it the same way."""
    id_type, value = primary_id(ids)
    return f"{id_type}:{value}" if value else ""


def update_message(update: dict[str, Any], app_id: str, received_at: int, collector_id: str) -> dict[str, Any]:
    """The `persons.properties` message of a mapped update (see Mapped.person_updates)."""
    return {**update, "app_id": app_id, "person_id": person_id(update["ids"]), "received_at": received_at, "collector_id": collector_id}


def value_text(value: Any) -> str:
    """A property value as text, the way detail rows keep event properties; lists and objects as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return "" if value is None else str(value)


def _millis(value: Any) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(value) / 1000, tz=dt.timezone.utc)


def rows_of_message(value: bytes) -> list[list[Any]]:
    message = json.loads(value)
    update_id = uuid.UUID(str(message["update_id"]))
    ids = {str(k): str(v) for k, v in message["ids"].items()}
    head = [str(message["app_id"]), str(message["person_id"])]
    tail = [_millis(message["ts"]), int(message.get("seq") or 0), _millis(message.get("received_at") or message["ts"]), ids, str(message.get("source") or "")]
    rows = []
    for name, item in message["properties"].items():
        items = [value_text(v) for v in item] if isinstance(item, list) else []
        rows.append([*head, name, update_id, message["op"], "" if message["op"] == "unset" else value_text(item), items, *tail])
    return rows


def load_messages(warehouse: Warehouse, messages: Iterable[bytes]) -> int:
    """Insert the rows of `persons.properties` messages; returns how many rows. Idempotent per message: the table's
    key ends in update_id, so a message loaded again collapses with the rows it made the first time."""
    rows = [row for message in messages for row in rows_of_message(message)]
    if rows:
        warehouse.insert("person_property_log", rows, COLUMNS, settings={"async_insert": 0})
    return len(rows)


def latest(warehouse: Warehouse, app_id: str, person: str) -> dict[str, str]:
    """The person's current properties (name -> value text; lists as JSON arrays)."""
    rows = warehouse.rows(
        "SELECT property, value FROM person_properties WHERE app_id = {app:String} AND person_id = {person:String}",
        {"app": app_id, "person": person},
    )
    return dict(rows)
