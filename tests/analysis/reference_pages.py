"""Independent pandas/Python references for page and terminal analysis and for the persons behind interval and
distribution buckets, written from the documented semantics (pipelines/analysis/pages.py, terminals.py,
interval.py, distribution.py docstrings), not from the SQL. Times are epoch milliseconds."""

from __future__ import annotations

import re
from collections import defaultdict
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from .reference import in_range, matches


def page_text(url: str, title: str, by: str, rules: list[dict]) -> str:
    if by == "url_path":
        text = urlsplit(url).path if url else ""
    elif by == "url":
        text = url.split("#")[0].split("?")[0]
    else:
        text = title
    for rule in rules:
        text = re.sub(rule["pattern"], rule.get("replacement", ""), text)
    return text


def page_views(frame: pd.DataFrame, req: dict, start_ms: int, end_ms: int) -> list[dict]:
    """One dict per page view in the range: person, page, t, entry, exit, bounce, seconds (None), depth (None)."""
    rows = in_range(frame, start_ms, end_ms, req.get("filters", []))
    gap = req.get("session_gap_seconds", 1800) * 1000
    kinds = [(req.get("page_view", {"event": "page_view"}), 0), (req.get("leave_event"), 1), (req.get("scroll_event"), 2)]
    tagged = []
    for selector, kind in kinds:
        if selector:
            part = rows[matches(rows, selector)]
            tagged += [(r["person"], r["t"], kind, r) for _, r in part.iterrows()]
    by_person = defaultdict(list)
    for person, t, kind, r in tagged:
        page = page_text(r.get("url") or "", r.get("title") or "", req.get("by", "url_path"), req.get("cleaning", [])) if kind == 0 else ""
        depth = pd.to_numeric(r.get(req.get("scroll_property", "depth")), errors="coerce") if kind == 2 else np.nan
        by_person[person].append((t, kind, page, depth))
    out = []
    for person, events in by_person.items():
        events.sort(key=lambda e: (e[0], e[1], e[2]))
        at = [i for i, e in enumerate(events) if e[1] == 0]
        for n, i in enumerate(at):
            t = events[i][0]
            entry = n == 0 or t - events[at[n - 1]][0] >= gap
            exit_ = n == len(at) - 1 or events[at[n + 1]][0] - t >= gap
            span = events[i : at[n + 1] if n + 1 < len(at) else len(events)]
            leaves = [e[0] for e in span if e[1] == 1]
            depths = [e[3] for e in span if e[1] == 2 and not np.isnan(e[3])]
            if not exit_:
                seconds = (events[at[n + 1]][0] - t) / 1000
            elif leaves and min(leaves) - t < gap:
                seconds = (min(leaves) - t) / 1000
            else:
                seconds = None
            out.append({"person": person, "page": events[i][2], "t": t, "entry": entry, "exit": exit_, "bounce": entry and exit_,
                        "seconds": seconds, "depth": max(depths) if depths else None})  # fmt: skip
    return out


def _median(values):
    values = [v for v in values if v is not None]
    return float(np.quantile(values, 0.5)) if values else None


def pages(frame: pd.DataFrame, req: dict, start_ms: int, end_ms: int) -> dict:
    """{page: figures} as the response names them."""
    views = page_views(frame, req, start_ms, end_ms)
    out = {}
    for page in {v["page"] for v in views}:
        mine = [v for v in views if v["page"] == page]
        seconds = [v["seconds"] for v in mine if v["seconds"] is not None]
        entries = sum(v["entry"] for v in mine)
        out[page] = {
            "views": len(mine),
            "persons": len({v["person"] for v in mine}),
            "entries": entries,
            "exits": sum(v["exit"] for v in mine),
            "bounces": sum(v["bounce"] for v in mine),
            "bounce_rate": round(sum(v["bounce"] for v in mine) / entries, 6) if entries else None,
            "avg_seconds": sum(seconds) / len(seconds) if seconds else None,
            "median_seconds": _median(seconds),
            "median_scroll_depth": _median([v["depth"] for v in mine]),
            "person_set": {v["person"] for v in mine},
        }
    return out


def terminals(frame: pd.DataFrame, req: dict, start_ms: int, end_ms: int, dims: list[str]) -> dict:
    """{tuple of dimension values: (persons, sessions, events, person set)} and the totals under None."""
    rows = in_range(frame, start_ms, end_ms, req.get("filters", []))
    if req.get("events"):
        mask = pd.Series(False, index=rows.index)
        for selector in req["events"]:
            mask |= matches(rows, selector)
        rows = rows[mask]

    def figures(part):
        sessions = part["session_id"][part["session_id"] != ""]
        return (part["person"].nunique(), sessions.nunique(), len(part), set(part["person"]))

    out = {tuple(key if isinstance(key, tuple) else (key,)): figures(part) for key, part in rows.groupby([rows[d] for d in dims])}
    out[None] = figures(rows)
    return out


def interval_cells(frame: pd.DataFrame, req: dict, start_ms: int, end_ms: int, edges: list[float]) -> dict:
    """{(group, bucket index | "unmatched"): persons with at least one such start event}."""
    rows = in_range(frame, start_ms, end_ms, req.get("filters", []))
    is_start, is_end = matches(rows, req["start"]), matches(rows, req["end"])
    group = req.get("group_by")
    cells = defaultdict(set)
    for person, part in rows.assign(_s=is_start, _e=is_end).groupby("person"):
        ends = part[part["_e"]]
        for _, start in part[part["_s"]].iterrows():
            after = ends[(ends["t"] >= start["t"]) & (ends["event_id"] != start["event_id"])]
            g = str(start.get(group, "")) if group else ""
            if not len(after):
                cells[(g, "unmatched")].add(person)
                continue
            seconds = (after["t"].min() - start["t"]) / 1000
            for i, low in enumerate(edges):
                high = edges[i + 1] if i + 1 < len(edges) else np.inf
                if low <= seconds < high:
                    cells[(g, i)].add(person)
    return dict(cells)


def bucket_persons(values: pd.Series, edges: list[float]) -> list[set]:
    """Per bucket [edge_i, edge_i+1) (last open), the persons (index of `values`) whose value is in it."""
    out = []
    for i, low in enumerate(edges):
        high = edges[i + 1] if i + 1 < len(edges) else np.inf
        out.append(set(values[(values >= low) & (values < high)].index))
    return out
