"""Real-time vs offline: every id whose OneID differs, with a reason code, and the corrections that make the
real-time side equal to the offline result.

Reason codes (one per differing id):
  missing_realtime     the offline graph has the id, the real-time one never saw it (job down, link lost)
  dropped:<why>        the real-time graph has it, the offline one dropped it: blocked_value | blocked_regex |
                       ttl_expired | blocked_by_split | unknown_type (rules changed, TTL passed, a split)
  renamed              same ids together on both sides, different name (e.g. real-time saw events out of order)
  merged_offline       offline joins ids real-time kept apart (a link real-time refused by arrival order or missed)
  split_offline        offline separates ids real-time had together (a split, or real-time order let a merge in)
  regrouped            both: the person's ids were partly moved elsewhere
"""

from __future__ import annotations

import pandas as pd

from pipelines.identity import changes
from pipelines.identity.graph import Person
from pipelines.identity.offline import OfflineResult

DIFFERENCE_COLUMNS = ["node", "reason", "realtime_oneid", "offline_oneid"]


def differences(realtime: dict[str, str], offline: OfflineResult, dropped: dict[str, str] | None = None) -> pd.DataFrame:
    offline_map = offline.mapping()
    rows = []
    rt_groups: dict[str, set[str]] = {}
    for node, oneid in realtime.items():
        rt_groups.setdefault(oneid, set()).add(node)
    off_groups: dict[str, set[str]] = {}
    for node, oneid in offline_map.items():
        off_groups.setdefault(oneid, set()).add(node)
    for node, off_oneid in offline_map.items():
        rt_oneid = realtime.get(node)
        if rt_oneid is None:
            rows.append((node, "missing_realtime", "", off_oneid))
            continue
        if rt_oneid == off_oneid and rt_groups[rt_oneid] == off_groups[off_oneid]:
            continue
        mine, theirs = rt_groups[rt_oneid] & offline_map.keys(), off_groups[off_oneid]
        if mine == theirs:
            reason = "renamed"
        elif mine < theirs:
            reason = "merged_offline"
        elif theirs < mine:
            reason = "split_offline"
        else:
            reason = "regrouped"
        rows.append((node, reason, rt_oneid, off_oneid))
    for node, rt_oneid in realtime.items():
        if node not in offline_map:
            rows.append((node, f"dropped:{(dropped or {}).get(node, 'no_link')}", rt_oneid, ""))
    return pd.DataFrame(rows, columns=DIFFERENCE_COLUMNS)


def offline_persons(offline: OfflineResult, oneids: set[str] | None = None) -> dict[str, Person]:
    """Person records of the offline result (all, or only `oneids`)."""
    members = offline.membership if oneids is None else offline.membership[offline.membership["oneid"].isin(oneids)]
    persons = {}
    heads = offline.persons if oneids is None else offline.persons[offline.persons["oneid"].isin(oneids)]
    for oneid, anchor, created_at in heads[["oneid", "anchor", "created_at"]].itertuples(index=False):
        persons[oneid] = Person(oneid, anchor, int(created_at), {})
    for node, oneid, first, last in members[["node", "oneid", "first_seen", "last_seen"]].itertuples(index=False):
        persons[oneid].ids[node] = [int(first), int(last)]
    return persons


def corrections(realtime: dict[str, str], realtime_redirects: dict[str, str], offline: OfflineResult, diff: pd.DataFrame):
    """What to publish so the real-time side becomes the offline result: the persons touched by a difference (full
    snapshots), redirects that are new or changed, and ids to delete (grouped by their real-time OneID)."""
    touched = set(diff.loc[diff["offline_oneid"] != "", "offline_oneid"])
    persons = offline_persons(offline, touched)
    redirects = {old: new for old, new in offline.redirects.items() if realtime_redirects.get(old) != new}
    # A real-time OneID that no longer names a live person but has no redirect yet must not dangle.
    live = set(offline.persons["oneid"])
    for old in set(diff["realtime_oneid"]) - {""} - live - set(offline.redirects):
        members = diff.loc[(diff["realtime_oneid"] == old) & (diff["offline_oneid"] != ""), "offline_oneid"]
        if len(members):
            redirects[old] = members.mode().iloc[0]
    deletes: dict[str, list[str]] = {}
    for node, rt_oneid in diff.loc[diff["offline_oneid"] == "", ["node", "realtime_oneid"]].itertuples(index=False):
        deletes.setdefault(rt_oneid, []).append(node)
    return persons, redirects, deletes


def publish_messages(
    result: OfflineResult, realtime: dict[str, str], realtime_redirects, diff: pd.DataFrame, source: str,
    clock: changes.VersionClock | None = None,
) -> list[str]:
    """identity.changes messages (JSON) that turn the real-time state into `result`: the daily run publishes its
    corrections with it (source offline), the real-time job its own re-decisions (source realtime)."""
    clock = clock or changes.VersionClock()
    persons, redirects, deletes = corrections(realtime, realtime_redirects, result, diff)
    messages = [changes.person_message(person, clock.next(), source) for person in persons.values()]
    messages += [changes.redirect_message(old, new, clock.next(), source) for old, new in sorted(redirects.items())]
    messages += [changes.delete_message(oneid, nodes, clock.next(), source) for oneid, nodes in sorted(deletes.items())]
    # Refusals are logged again only where the offline run decided differently (the real-time log has the rest).
    differing = set(diff["node"])
    messages += [
        changes.decision_message(decision, source)
        for decision in result.decisions
        if decision.action == "refuse" and (decision.strong in differing or decision.weak in differing)
    ]
    return messages
