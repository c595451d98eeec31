"""The in-memory lookup index: id -> OneID, OneID -> person (ids with first/last seen), retired -> live OneID.

Cold start from the warehouse (`oneid_map`), then kept fresh by applying `identity.changes` messages. Messages are
full states with versions, so the follower may start from the beginning of the topic, see a message twice or see
an offline publish and an older real-time change in any order: the higher version always wins.
"""

from __future__ import annotations

import json
import logging
import threading

from pipelines.identity.graph import follow_redirects
from pipelines.identity.rules import node_type, node_value

log = logging.getLogger("trackflow.oneid.index")


class OneIdIndex:
    def __init__(self):
        self.nodes: dict[str, str] = {}
        self.persons: dict[str, dict] = {}  # oneid -> {"anchor", "created_at", "ids": {node: [first, last]}}
        self.redirects: dict[str, str] = {}
        self._person_version: dict[str, int] = {}
        self._node_version: dict[str, int] = {}
        self._lock = threading.Lock()
        self.applied = 0

    # -- reads (called from the event loop: dictionary lookups only) --------------------------------------------
    def lookup(self, node: str) -> str | None:
        return self.nodes.get(node)

    def resolve(self, oneid: str) -> str:
        return follow_redirects(self.redirects, oneid)

    def person(self, oneid: str) -> dict | None:
        live = self.resolve(oneid)
        with self._lock:
            person = self.persons.get(live)
            if person is None:
                return None
            ids = sorted(person["ids"].items())
        return {"oneid": live, "anchor": person["anchor"], "created_at": person["created_at"],
                "ids": [{"type": node_type(n), "value": node_value(n), "first_seen": s[0], "last_seen": s[1]} for n, s in ids]}  # fmt: skip

    # -- writes ---------------------------------------------------------------------------------------------------
    def load(self, frame, redirects: dict[str, str]) -> None:
        """Cold start from `store.read_current_map`."""
        with self._lock:
            for node, oneid, anchor, created, first, last, version in frame[
                ["node", "oneid", "anchor", "created_at", "first_seen", "last_seen", "version"]
            ].itertuples(index=False):
                self.nodes[node] = oneid
                self._node_version[node] = int(version)
                person = self.persons.setdefault(oneid, {"anchor": anchor, "created_at": int(created), "ids": {}})
                person["ids"][node] = [int(first), int(last)]
                self._person_version[oneid] = max(self._person_version.get(oneid, 0), int(version))
            self.redirects.update(redirects)

    def apply_json(self, value: str | bytes) -> None:
        try:
            message = json.loads(value)
        except ValueError:
            log.warning("identity.changes: not JSON, skipped: %.200r", value)
            return
        self.apply(message)

    def apply(self, message: dict) -> None:
        kind = message.get("kind")
        with self._lock:
            if kind == "person":
                self._apply_person(message)
            elif kind == "redirect":
                self._apply_redirect(message)
            elif kind == "delete":
                self._apply_delete(message)
            else:
                return  # decisions and blocks do not change lookups
            self.applied += 1

    def _apply_person(self, message: dict) -> None:
        oneid, version = message["oneid"], int(message["version"])
        if version < self._person_version.get(oneid, 0):
            return
        self._person_version[oneid] = version
        previous = self.persons.get(oneid)
        new_ids = {node: list(seen) for node, seen in message["ids"].items()}
        if previous is not None:
            for node in previous["ids"]:
                if node not in new_ids and self.nodes.get(node) == oneid and self._node_version.get(node, 0) <= version:
                    del self.nodes[node]
        for node in list(new_ids):
            if self._node_version.get(node, 0) > version:
                del new_ids[node]  # a newer change already moved this id elsewhere
                continue
            holder = self.nodes.get(node)
            if holder is not None and holder != oneid and holder in self.persons:
                self.persons[holder]["ids"].pop(node, None)
            self.nodes[node] = oneid
            self._node_version[node] = version
        self.persons[oneid] = {"anchor": message["anchor"], "created_at": message["created_at"], "ids": new_ids}
        self.redirects.pop(oneid, None)

    def _apply_redirect(self, message: dict) -> None:
        retired, version = message["oneid"], int(message["version"])
        if version < self._person_version.get(retired, 0):
            return
        self._person_version[retired] = version
        person = self.persons.pop(retired, None)
        if person is not None:
            for node in person["ids"]:
                if self.nodes.get(node) == retired:
                    self.nodes[node] = message["to"]  # until the survivor's own snapshot arrives
        self.redirects[retired] = message["to"]

    def _apply_delete(self, message: dict) -> None:
        oneid, version = message["oneid"], int(message["version"])
        person = self.persons.get(oneid)
        for node in message["nodes"]:
            if self.nodes.get(node) == oneid and self._node_version.get(node, 0) <= version:
                del self.nodes[node]
                self._node_version[node] = version
            if person is not None:
                person["ids"].pop(node, None)
        if person is not None and not person["ids"]:
            del self.persons[oneid]


def follow_changes(index: OneIdIndex, settings, stop: threading.Event, ready: threading.Event | None = None) -> None:
    """Apply identity.changes from the beginning of the topic until `stop` (a background thread of the service).
    Partitions are assigned directly: no consumer group join, so it starts in milliseconds (PLATFORM_NOTES)."""
    from kafka import TopicPartition

    from pipelines import messaging

    consumer = messaging.consumer(settings, group_id=None)
    try:
        partitions = consumer.partitions_for_topic(messaging.IDENTITY_CHANGES) or set()
        consumer.assign([TopicPartition(messaging.IDENTITY_CHANGES, p) for p in sorted(partitions)])
        consumer.seek_to_beginning()
        if ready is not None:
            ready.set()
        while not stop.is_set():
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    index.apply_json(record.value)
    finally:
        consumer.close()
