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
from pipelines.identity.rules import Rules, node_type

EDGE_COLUMNS = ("strong", "weak", "first_seen", "last_seen")


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
    """Observations (one per event link) or already aggregated edges -> one row per distinct (strong, weak)."""
    if isinstance(links, pd.DataFrame):
        frame = links
    else:
        frame = pd.DataFrame(links, columns=["ts", "strong", "weak"])
        frame = frame.assign(first_seen=frame["ts"], last_seen=frame["ts"])
    return (
        frame.groupby(["strong", "weak"], sort=False, as_index=False)
        .agg(first_seen=("first_seen", "min"), last_seen=("last_seen", "max"))
    )


def _drop_junk(
    rules: Rules, edges: pd.DataFrame, blocks: Blocks, now_ms: int | None, rejected: Counter
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Apply the rules as they are now (the file may have changed since the links were written), TTLs and manual
    blocks. An edge that loses one end becomes a lone id of the other, which still exists."""
    nodes = pd.unique(np.concatenate([edges["strong"].to_numpy(), edges["weak"].to_numpy()]))
    last_seen = pd.concat(
        [edges[["strong", "last_seen"]].set_axis(["node", "seen"], axis=1), edges[["weak", "last_seen"]].set_axis(["node", "seen"], axis=1)]
    ).groupby("node")["seen"].max()
    dead: dict[str, str] = {}
    for node in nodes:
        id_type, _, value = node.partition(":")
        rule = rules.rule(id_type)
        if rule is None:
            reason = "unknown_type"
        elif node in blocks.nodes:
            reason = "blocked_by_split"
        else:
            reason = rule.block_reason(value)
            if reason is None and now_ms is not None and rule.ttl_ms and last_seen[node] < now_ms - rule.ttl_ms:
                reason = "ttl_expired"
        if reason:
            dead[node] = reason
            rejected[reason] += 1
    if not dead and not blocks.links:
        return edges, dead
    strong, weak = edges["strong"].to_numpy(dtype=object).copy(), edges["weak"].to_numpy(dtype=object).copy()
    strong_dead = np.fromiter((s in dead for s in strong), bool, len(strong))
    weak_dead = np.fromiter((w in dead for w in weak), bool, len(weak))
    cut = np.fromiter(((s, w) in blocks.links for s, w in zip(strong, weak)), bool, len(strong)) if blocks.links else np.zeros(len(strong), bool)
    rejected["link_removed_by_split"] += int(cut.sum())
    weak[(weak_dead | cut) & ~strong_dead] = strong[(weak_dead | cut) & ~strong_dead]
    strong[strong_dead & ~weak_dead] = weak[strong_dead & ~weak_dead]
    keep = ~(strong_dead & weak_dead)
    cleaned = pd.DataFrame({"strong": strong[keep], "weak": weak[keep], "first_seen": edges["first_seen"].to_numpy()[keep],
                            "last_seen": edges["last_seen"].to_numpy()[keep]})  # fmt: skip
    return edges_frame(cleaned), dead


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
    rejected: Counter = Counter()
    blocks = blocks or Blocks()
    edges, dropped = _drop_junk(rules, edges_frame(links), blocks, now_ms, rejected)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    # Codes in sorted node order, so comparing codes compares node keys (canonical order without strings).
    codes, nodes = pd.factorize(np.concatenate([edges["strong"].to_numpy(), edges["weak"].to_numpy()]), sort=True)
    count = len(nodes)
    strong_code, weak_code = codes[: len(edges)], codes[len(edges):]
    first_seen, last_seen = edges["first_seen"].to_numpy(np.int64), edges["last_seen"].to_numpy(np.int64)
    graph = coo_matrix((np.ones(len(edges), np.int8), (strong_code, weak_code)), shape=(count, count))
    components, label = connected_components(graph, directed=False)

    node_first = np.full(count, np.iinfo(np.int64).max)
    node_last = np.full(count, np.iinfo(np.int64).min)
    for endpoint in (strong_code, weak_code):
        np.minimum.at(node_first, endpoint, first_seen)
        np.maximum.at(node_last, endpoint, last_seen)

    # Which components break a rule as a whole (these replay; the rest are decided in bulk).
    types, type_of_node = np.unique(np.array([n.partition(":")[0] for n in nodes], dtype=object), return_inverse=True)
    conflicted = np.zeros(components, bool)
    for position, id_type in enumerate(types):
        rule = rules.rule(id_type)
        limit = 1 if rule.unique else rule.max_per_person
        if limit:
            per_component = np.bincount(label[type_of_node == position], minlength=components)
            conflicted |= per_component > limit

    # Bulk: the founding link of a component is its first in canonical order (first_seen, strong, weak).
    order = np.lexsort((weak_code, strong_code, first_seen))
    edge_label = label[strong_code[order]]
    _, first_index = np.unique(edge_label, return_index=True)
    founding = order[first_index]  # founding edge per component label 0..components-1
    node_oneid = np.empty(count, dtype=object)
    anchor_code = strong_code[founding]
    created_at = first_seen[founding]
    clean = np.flatnonzero(~conflicted)
    minted = np.array([mint_oneid(nodes[a]) for a in anchor_code[clean]], dtype=object)
    person_oneid = np.empty(components, dtype=object)
    person_oneid[clean] = minted
    clean_nodes = ~conflicted[label]
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

    membership = pd.DataFrame({"node": np.asarray(nodes, dtype=object), "oneid": node_oneid, "first_seen": node_first, "last_seen": node_last})
    persons = pd.DataFrame(person_rows)
    redirects, deleted = {}, []
    if previous is not None and len(previous):
        membership, persons, redirects, deleted = _keep_names(membership, persons, previous, previous_redirects or {})
    elif previous_redirects:
        redirects = _resolve_redirects(previous_redirects, set(persons["oneid"]), {})
    stats = {
        "links": len(edges), "ids": count, "persons": len(persons), "components": int(components),
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


def person_types(membership: pd.DataFrame) -> pd.Series:
    return membership["node"].map(node_type)
