"""Offline recomputation of the whole graph from all links: deterministic, order-independent, OneIDs kept stable.

Why it is both fast and exactly the real-time algorithm:
  1. Connected components of all links ignoring the rules (scipy, vectorised).
  2. A component that breaks no rule as a whole (at most one value per unique type, no type above its limit) would
     have every link accepted by the sequential algorithm in any order: the rules are monotone (a subset of a
     conflict-free set is conflict-free). Its person is decided in bulk: the anchor is the strong id of its first
     link in canonical order (event time, strong, weak), which is the founding link a sequential run keeps.
  3. Only conflicted components (shared devices, junk that slipped through, limit breakers) replay their links in
     canonical order through `IdentityGraph`, the same code the real-time job runs, so refusals are the same.
  4. Names: a component keeps the oldest OneID it already had (a previous mapping, e.g. the real-time one) whose
     anchor it still holds; the other OneIDs it absorbed redirect to it; a component with no earlier OneID gets
     `mint_oneid(anchor)`. So untouched persons keep their id, merged ones keep the oldest, split-off parts get
     their own (old) name back.
Input order never matters: edges are sorted canonically before anything depends on order.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipelines.identity.graph import Decision, IdentityGraph, mint_oneid
from pipelines.identity.links import Link
from pipelines.identity.rules import Rules


@dataclass
class Blocks:
    """Manual unmerges (`trackflow oneid split`): ids that must not be identities, links that must not count."""

    nodes: set[str] = field(default_factory=set)
    links: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class OfflineResult:
    membership: pd.DataFrame  # node, oneid, first_seen, last_seen (one row per id in the graph)
    persons: pd.DataFrame  # oneid, anchor, created_at
    redirects: dict[str, str]  # retired OneID -> live OneID (chains resolved)
    deleted: list[str]  # previous OneIDs with no id left (expired or blocked)
    decisions: list[Decision]  # refusals (and merges) made while replaying conflicted components
    rejected: Counter  # dropped ids by reason (blocklist, ttl, split)
    dropped: dict[str, str]  # dropped id -> reason
    stats: dict[str, int]

    def mapping(self) -> dict[str, str]:
        return dict(zip(self.membership["node"], self.membership["oneid"]))


def edges_frame(links: list[Link] | pd.DataFrame) -> pd.DataFrame:
    """Observations (one per event link) -> one row per distinct (strong, weak). A DataFrame (strong, weak,
    first_seen, last_seen) is taken as it is: the warehouse already grouped it, and a repeated pair would only
    be a second touch of the same link, which changes nothing."""
    if isinstance(links, pd.DataFrame):
        return links
    frame = pd.DataFrame(links, columns=["ts", "strong", "weak"])
    return (
        frame.groupby(["strong", "weak"], sort=False, as_index=False)
        .agg(first_seen=("ts", "min"), last_seen=("ts", "max"))
    )


def type_blocks(nodes: np.ndarray) -> list[tuple[str, int, int]]:
    """(type, start, end) ranges of a sorted node array: keys are "type:value", so each type is one contiguous run
    (found by binary search, not by splitting millions of strings)."""
    blocks, start = [], 0
    while start < len(nodes):
        id_type = nodes[start].partition(":")[0]
        end = int(np.searchsorted(nodes, id_type + ";"))  # ';' sorts right after ':'
        blocks.append((id_type, start, end))
        start = end
    return blocks


def _dead_nodes(
    rules: Rules, nodes: np.ndarray, node_last: np.ndarray, blocks: Blocks, now_ms: int | None
) -> np.ndarray:
    """Reason per node ('' = alive): the rules as they are now (the file may have changed since the links were
    written), TTLs and manual blocks."""
    reasons = np.full(len(nodes), "", dtype=object)
    for id_type, start, end in type_blocks(nodes):
        rule = rules.rule(id_type)
        if rule is None:
            reasons[start:end] = "unknown_type"
            continue
        here = reasons[start:end]
        verdicts = np.fromiter(map(rule.block_reason, (node[len(id_type) + 1:] for node in nodes[start:end])), object, end - start)
        flagged = verdicts != None  # noqa: E711  (elementwise comparison on an object array)
        here[flagged] = verdicts[flagged]
        if now_ms is not None and rule.ttl_ms:
            here[(node_last[start:end] < now_ms - rule.ttl_ms) & (here == "")] = "ttl_expired"
    if blocks.nodes:
        found = pd.Index(nodes).get_indexer(sorted(blocks.nodes))
        reasons[found[found >= 0]] = "blocked_by_split"
    return reasons


def recompute(
    rules: Rules,
    links: list[Link] | pd.DataFrame,
    previous: pd.DataFrame | None = None,
    previous_redirects: dict[str, str] | None = None,
    blocks: Blocks | None = None,
    now_ms: int | None = None,
) -> OfflineResult:
    """The whole graph from `links`. `previous` (node, oneid, created_at, anchor) is the mapping to keep names
    stable against; `now_ms` enables TTL expiry (None: nothing expires, as in tests replaying old data)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    blocks = blocks or Blocks()
    edges = edges_frame(links)
    # Codes in sorted node order, so comparing codes compares node keys (canonical order without strings).
    codes, nodes = pd.factorize(np.concatenate([edges["strong"].to_numpy(), edges["weak"].to_numpy()]), sort=True)
    nodes = np.asarray(nodes, dtype=object)
    count = len(nodes)
    strong_code, weak_code = codes[: len(edges)].copy(), codes[len(edges):].copy()
    first_seen, last_seen = edges["first_seen"].to_numpy(np.int64), edges["last_seen"].to_numpy(np.int64)
    node_first = np.full(count, np.iinfo(np.int64).max)
    node_last = np.full(count, np.iinfo(np.int64).min)
    for endpoint in (strong_code, weak_code):
        np.minimum.at(node_first, endpoint, first_seen)
        np.maximum.at(node_last, endpoint, last_seen)

    # Junk, expired and blocked ids leave; a link that loses one end (or was cut by a split) becomes a lone id
    # of the other end, which still exists.
    reasons = _dead_nodes(rules, nodes, node_last, blocks, now_ms)
    dead = reasons != ""
    dropped = dict(zip(nodes[dead], reasons[dead]))
    rejected = Counter(dropped.values())
    cut = np.zeros(len(edges), bool)
    if blocks.links:
        index = pd.Index(nodes)
        pairs = np.array(sorted(blocks.links), dtype=object).reshape(-1, 2)
        known = (index.get_indexer(pairs[:, 0]), index.get_indexer(pairs[:, 1]))
        keys = known[0].astype(np.int64) * count + known[1]
        cut = np.isin(strong_code.astype(np.int64) * count + weak_code, keys[(known[0] >= 0) & (known[1] >= 0)])
        rejected["link_removed_by_split"] += int(cut.sum())
    strong_dead, weak_dead = dead[strong_code], dead[weak_code]
    loose = (weak_dead | cut) & ~strong_dead
    weak_code[loose] = strong_code[loose]
    strong_code[strong_dead & ~weak_dead] = weak_code[strong_dead & ~weak_dead]
    keep = ~(strong_dead & weak_dead)
    strong_code, weak_code, first_seen = strong_code[keep], weak_code[keep], first_seen[keep]
    alive = np.zeros(count, bool)
    alive[strong_code] = True
    alive[weak_code] = True

    graph = coo_matrix((np.ones(len(strong_code), np.int8), (strong_code, weak_code)), shape=(count, count))
    components, label = connected_components(graph, directed=False)

    # Which components break a rule as a whole (these replay; the rest are decided in bulk).
    conflicted = np.zeros(components, bool)
    for id_type, start, end in type_blocks(nodes):
        rule = rules.rule(id_type)
        limit = 0 if rule is None else 1 if rule.unique else rule.max_per_person
        if limit:
            per_component = np.bincount(label[start:end][alive[start:end]], minlength=components)
            conflicted |= per_component > limit

    # Bulk: the founding link of a component is its first in canonical order (first_seen, strong, weak).
    order = np.lexsort((weak_code, strong_code, first_seen))
    edge_label = label[strong_code[order]]
    present, first_index = np.unique(edge_label, return_index=True)
    anchor_code = np.zeros(components, np.int64)  # components of dead ids only have no founding link
    created_at = np.zeros(components, np.int64)
    anchor_code[present] = strong_code[order[first_index]]
    created_at[present] = first_seen[order[first_index]]
    node_oneid = np.empty(count, dtype=object)
    has_link = np.zeros(components, bool)
    has_link[present] = True
    clean = np.flatnonzero(~conflicted & has_link)
    minted = np.array([mint_oneid(nodes[a]) for a in anchor_code[clean]], dtype=object)
    person_oneid = np.empty(components, dtype=object)
    person_oneid[clean] = minted
    clean_nodes = ~conflicted[label] & alive
    node_oneid[clean_nodes] = person_oneid[label[clean_nodes]]
    person_rows = {"oneid": list(minted), "anchor": list(nodes[anchor_code[clean]]), "created_at": list(created_at[clean])}

    # Replay: conflicted components through the real-time rules, in canonical order.
    decisions: list[Decision] = []
    replay_edges = order[conflicted[edge_label]]
    replay = IdentityGraph(rules)
    for index in replay_edges:
        outcome = replay.observe(Link(int(first_seen[index]), nodes[strong_code[index]], nodes[weak_code[index]]))
        decisions.extend(d for d in outcome.decisions if d.action in ("refuse", "merge"))
    for person in replay.persons.values():
        person_rows["oneid"].append(person.oneid)
        person_rows["anchor"].append(person.anchor)
        person_rows["created_at"].append(person.created_at)
    if replay.nodes:
        replay_codes = pd.Index(nodes).get_indexer(list(replay.nodes.keys()))
        node_oneid[replay_codes] = list(replay.nodes.values())

    membership = pd.DataFrame({"node": nodes[alive], "oneid": node_oneid[alive], "first_seen": node_first[alive], "last_seen": node_last[alive]})
    persons = pd.DataFrame(person_rows)
    redirects, deleted = {}, []
    if previous is not None and len(previous):
        membership, persons, redirects, deleted = _keep_names(membership, persons, previous, previous_redirects or {})
    elif previous_redirects:
        redirects = _resolve_redirects(previous_redirects, set(persons["oneid"]), {})
    stats = {
        "links": len(edges), "ids": int(alive.sum()), "persons": len(persons), "components": int(components),
        "conflicted_components": int(conflicted.sum()), "replayed_links": len(replay_edges), "refused": sum(d.action == "refuse" for d in decisions),
    }  # fmt: skip
    return OfflineResult(membership, persons, redirects, deleted, decisions, rejected, dropped, stats)


def _keep_names(
    membership: pd.DataFrame, persons: pd.DataFrame, previous: pd.DataFrame, previous_redirects: dict[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str], list[str]]:
    """Rename computed persons to the OneIDs they had before (see the module docstring, point 4)."""
    before = previous[["node", "oneid"]].rename(columns={"oneid": "old"})
    owners = previous.drop_duplicates("oneid").set_index("oneid")
    joined = membership[["node", "oneid"]].merge(before, on="node", how="inner")
    # Who claims each old OneID: the person holding its anchor, else the one holding most of its ids.
    anchors = owners["anchor"].to_dict()
    holders = joined.assign(is_anchor=[anchors.get(old) == node for node, old in zip(joined["node"], joined["old"])])
    tally = holders.groupby(["old", "oneid"], as_index=False).agg(anchor=("is_anchor", "max"), ids=("node", "size"))
    tally = tally.sort_values(["old", "anchor", "ids", "oneid"], ascending=[True, False, False, True])
    claims = tally.drop_duplicates("old")[["old", "oneid"]]
    claims = claims.assign(created_at=claims["old"].map(owners["created_at"]), old_anchor=claims["old"].map(owners["anchor"]))
    chosen = claims.sort_values(["oneid", "created_at", "old"]).drop_duplicates("oneid").set_index("oneid")
    rename = chosen["old"].to_dict()  # computed OneID -> kept OneID
    redirects = {old: rename.get(new, new) for old, new in zip(claims["old"], claims["oneid"]) if rename.get(new, new) != old}
    membership = membership.assign(oneid=membership["oneid"].map(lambda o: rename.get(o, o)))
    kept_anchor = persons["oneid"].map(chosen["old_anchor"])
    live_nodes = set(membership["node"])
    persons = persons.assign(
        anchor=[a if isinstance(a, str) and a in live_nodes else own for a, own in zip(kept_anchor, persons["anchor"])],
        oneid=persons["oneid"].map(lambda o: rename.get(o, o)),
    )
    live = set(persons["oneid"])
    deleted = sorted(set(owners.index) - live - set(redirects))
    return membership, persons, _resolve_redirects({**previous_redirects, **redirects}, live, redirects), deleted


def _resolve_redirects(redirects: dict[str, str], live: set[str], fresh: dict[str, str]) -> dict[str, str]:
    """Every retired OneID -> the live one it ends at (dropped when it is live again or leads nowhere)."""
    resolved = {}
    for old in redirects:
        if old in live:
            continue
        target, hops = redirects[old], 0
        while target not in live and target in redirects and hops < 64:
            target, hops = redirects[target], hops + 1
        if target in live:
            resolved[old] = target
    return resolved
