"""The `identity.changes` messages and the warehouse rows they become.

Every message is a full statement of the new state, never a delta, so applying one twice (a replay, an
at-least-once sink) changes nothing, and a reader that only wants the newest state keeps the highest `version`:
  person    {"kind": "person", "oneid", "anchor", "created_at", "ids": {node: [first, last]}, "version", "source"}
  redirect  {"kind": "redirect", "oneid": retired, "to": survivor, "version", "source"}
  delete    {"kind": "delete", "oneid", "nodes": [...], "version", "source"}   (ids that left the graph)
  decision  {"kind": "decision", ...Decision.to_dict(), "source"}                (for oneid_merge_log only)
  block     {"kind": "block", "block": "link"|"value", "strong", "weak", "reason", "version"} (splits)
"""

from __future__ import annotations

import datetime as dt
import json
import time

from pipelines.identity.graph import Decision, Person
from pipelines.identity.rules import node_type, node_value

MAP_COLUMNS = ("id_type", "id_value", "oneid", "anchor", "oneid_created_at", "first_seen", "last_seen", "source", "rules", "version", "deleted")
LOG_COLUMNS = ("ts", "action", "rule", "oneid", "other", "strong", "weak", "source", "rules")
EDGE_COLUMNS = ("strong", "weak", "first_seen", "last_seen", "seen")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class VersionClock:
    """Microseconds since the epoch, strictly increasing within a process (two changes in one microsecond still
    order). Offline publishes and the real-time job share the wall clock, so the later write wins."""

    def __init__(self):
        self.last = 0

    def next(self) -> int:
        self.last = max(self.last + 1, time.time_ns() // 1000)
        return self.last


def person_message(person: Person, version: int, source: str) -> str:
    return json.dumps({"kind": "person", **person.to_dict(), "version": version, "source": source}, separators=(",", ":"))


def redirect_message(retired: str, survivor: str, version: int, source: str) -> str:
    return json.dumps({"kind": "redirect", "oneid": retired, "to": survivor, "version": version, "source": source})


def delete_message(oneid: str, nodes: list[str], version: int, source: str) -> str:
    return json.dumps({"kind": "delete", "oneid": oneid, "nodes": nodes, "version": version, "source": source})


def decision_message(decision: Decision, source: str) -> str:
    return json.dumps({"kind": "decision", **decision.to_dict(), "source": source}, separators=(",", ":"))


def block_message(block: str, strong: str, weak: str, reason: str, version: int) -> str:
    return json.dumps({"kind": "block", "block": block, "strong": strong, "weak": weak, "reason": reason, "version": version})


def millis(value: int) -> dt.datetime:
    return EPOCH + dt.timedelta(milliseconds=int(value))


def map_rows(message: dict, rules_label: str) -> list[list]:
    """oneid_map rows of a person, redirect or delete message."""
    kind, version, source = message["kind"], message["version"], message.get("source", "")
    if kind == "person":
        created = millis(message["created_at"])
        rows = [
            [node_type(node), node_value(node), message["oneid"], message["anchor"], created, millis(seen[0]), millis(seen[1]),
             source, rules_label, version, 0]
            for node, seen in message["ids"].items()
        ]  # fmt: skip
        # A person's OneID is live: this cancels a redirect row of it left by a merge that was undone since (a split,
        # a re-decision, a part split off getting its old name back), as the lookup index drops such a redirect.
        rows.append(["oneid", message["oneid"], message["oneid"], "", EPOCH, EPOCH, EPOCH, source, rules_label, version, 1])
        return rows
    if kind == "redirect":
        return [["oneid", message["oneid"], message["to"], "", EPOCH, EPOCH, EPOCH, source, rules_label, version, 0]]
    if kind == "delete":
        return [[node_type(node), node_value(node), message["oneid"], "", EPOCH, EPOCH, EPOCH, source, rules_label, version, 1]
                for node in message["nodes"]]  # fmt: skip
    return []


def log_row(message: dict, rules_label: str) -> list:
    return [millis(message["ts"]), message["action"], message["rule"], message["oneid"], message["other"],
            message["strong"], message["weak"], message.get("source", ""), rules_label]  # fmt: skip
