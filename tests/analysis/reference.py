"""Independent pandas/Python reference implementations of the analysis models, written from the documented
semantics (module docstrings in pipelines/analysis), not from the SQL. Times are epoch milliseconds."""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np
import pandas as pd

DAY_MS = 86_400_000


def matches(frame: pd.DataFrame, selector: dict) -> pd.Series:
    """The selector's events: its event name ("$any": every event) and filters."""
    mask = frame["event"] == selector["event"] if selector["event"] != "$any" else pd.Series(True, index=frame.index)
    for item in selector.get("filters", []):
        mask &= filter_mask(frame, item)
    return mask


def filter_mask(frame: pd.DataFrame, item: dict) -> pd.Series:
    prop, op, value = item["property"], item["op"], item.get("value")
    column = frame[prop] if prop in frame else pd.Series([None] * len(frame), index=frame.index)
    text = column.fillna("")
    number = pd.to_numeric(column, errors="coerce")
    if op == "=":
        return text == str(value)
    if op == "!=":
        return text != str(value)
    if op == "in":
        return text.isin([str(v) for v in value])
    if op == "not_in":
        return ~text.isin([str(v) for v in value])
    if op == "contains":
        return text.str.contains(str(value), regex=False)
    if op == "regex":
        return text.map(lambda s: re.search(value, s) is not None)
    if op == ">":
        return number > value
    if op == "<":
        return number < value
    if op == "between":
        return (number >= value[0]) & (number <= value[1])
    if op == "is_set":
        return column.notna()
    if op == "is_not_set":
        return column.isna()
    raise ValueError(op)


def in_range(frame: pd.DataFrame, start_ms: int, end_ms: int, filters=()) -> pd.DataFrame:
    mask = (frame["t"] >= start_ms) & (frame["t"] < end_ms)
    for item in filters:
        mask &= filter_mask(frame, item)
    return frame[mask]


# -- funnel ----------------------------------------------------------------------------------------------------
def _walk(events: list[tuple], start: int, n: int, req: dict) -> tuple:
    """One attempt from events[start]; returns (steps, gaps, discarded)."""
    window = req.get("window_seconds", 86_400) * 1000
    min_gap = (req.get("min_step_gap_seconds") or 0) * 1000
    max_gap = (req.get("max_step_gap_seconds") or 1e18 / 1000) * 1000
    order = req.get("order", "ordered")
    t0 = events[start][0]
    steps, last, gaps, done = 0, t0, [], set()
    for t, step_set, excl_set, _ in events[start:]:
        if steps == n or t - t0 > window:
            break
        gap_ok = steps == 0 or (min_gap <= t - last <= max_gap)
        if order == "any":
            open_steps = sorted(step_set - done)
            if open_steps and gap_ok:
                done.add(open_steps[0])
                if steps:
                    gaps.append(t - last)
                steps, last = steps + 1, t
                continue
        elif steps in step_set and gap_ok:
            if steps:
                gaps.append(t - last)
            steps, last = steps + 1, t
            continue
        if any(f <= steps < to for f, to, j in req["_exclusions"] if j in excl_set) and steps >= 1:
            return steps, gaps, True
        if order == "strict" and steps >= 1 and step_set:
            return steps, gaps, False
    return steps, gaps, False


def funnel(frame: pd.DataFrame, req: dict, start_ms: int, end_ms: int) -> dict:
    """{breakdown value: {person: (steps, total_ms, start_ms, gaps)}} for each person's best attempt."""
    n = len(req["steps"])
    rows = in_range(frame, start_ms, end_ms, req.get("filters", []))
    step_masks = [matches(rows, s).to_numpy() for s in req["steps"]]
    excl = req.get("exclusions", [])
    excl_masks = [matches(rows, e).to_numpy() for e in excl]
    req = {**req, "_exclusions": [(e["from_step"], e["to_step"], j) for j, e in enumerate(excl)]}
    hold = req.get("hold_constant")
    breakdown = req.get("breakdown")
    per_group = defaultdict(list)
    for idx, row in enumerate(rows.itertuples(index=False)):
        step_set = {i for i in range(n) if step_masks[i][idx]}
        excl_set = {j for j in range(len(excl)) if excl_masks[j][idx]}
        if not step_set and not excl_set:
            continue
        rowd = row._asdict()
        key = (rowd["person"], _text(rowd.get(hold)) if hold else "")
        mask_value = sum(1 << i for i in step_set) + sum(1 << (32 + j) for j in excl_set)
        per_group[key].append((rowd["t"], step_set, excl_set, _text(rowd.get(breakdown)) if breakdown else "", mask_value))
    best: dict = defaultdict(dict)
    for (person, _), events in per_group.items():
        events.sort(key=lambda e: (e[0], e[4], e[3]))
        events = [(t, s, x, b) for t, s, x, b, _ in events]
        for i, (t, step_set, _, bvalue) in enumerate(events):
            can_start = bool(step_set) if req.get("order") == "any" else 0 in step_set
            if not can_start:
                continue
            steps, gaps, discarded = _walk(events, i, n, req)
            candidate = (0 if discarded else steps, -sum(gaps), t, gaps)
            if person not in best[bvalue] or candidate > best[bvalue][person]:
                best[bvalue][person] = candidate
    return {b: {p: c for p, c in persons.items() if c[0] > 0} for b, persons in best.items()}


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


# -- retention -------------------------------------------------------------------------------------------------
def period_start(ts_ms: pd.Series, tz: str, period: str) -> pd.Series:
    local = pd.to_datetime(ts_ms, unit="ms", utc=True).dt.tz_convert(tz).dt.tz_localize(None).dt.normalize()
    if period == "week":
        local = local - pd.to_timedelta(local.dt.weekday, unit="D")
    if period == "month":
        local = local.dt.to_period("M").dt.to_timestamp()
    return local.dt.date


def add_periods(day, k: int, period: str):
    stamp = pd.Timestamp(day)
    if period == "day":
        return (stamp + pd.Timedelta(days=k)).date()
    if period == "week":
        return (stamp + pd.Timedelta(weeks=k)).date()
    return (stamp + pd.DateOffset(months=k)).date()


def retention(frame: pd.DataFrame, req: dict, start_ms: int, end_ms: int) -> dict:
    """{cohort date: (persons, [returned in period 1..N])}."""
    return {cohort: (len(cell[0]), [len(p) for p in cell[1:]]) for cohort, cell in retention_cells(frame, req, start_ms, end_ms).items()}


def retention_cells(frame: pd.DataFrame, req: dict, start_ms: int, end_ms: int) -> dict:
    """{cohort date: [the cohort's persons, those returned in period 1, ..., in period N]}."""
    tz, period, n = req.get("timezone", "UTC"), req.get("period", "day"), req.get("periods", 7)
    rows = frame
    for item in req.get("filters", []):
        rows = rows[filter_mask(rows, item)]
    rows = rows.assign(period=period_start(rows["t"], tz, period))
    initial = rows[matches(rows, req["initial"])]
    returns = rows[matches(rows, req["returning"])]
    in_range_initial = initial[(initial["t"] >= start_ms) & (initial["t"] < end_ms)]
    cohorts = defaultdict(set)
    if req.get("mode", "recurring") == "recurring":
        for person, p in zip(in_range_initial["person"], in_range_initial["period"]):
            cohorts[p].add(person)
    else:
        first = initial[initial["t"] < end_ms].sort_values("t").groupby("person").first()
        for person, row in first.iterrows():
            if row["t"] >= start_ms:
                cohorts[row["period"]].add(person)
    returned_periods = returns[returns["t"] >= start_ms].groupby("person")["period"].agg(set).to_dict()
    out = {}
    for cohort, persons in cohorts.items():
        returned = [{p for p in persons if add_periods(cohort, k, period) in returned_periods.get(p, ())} for k in range(1, n + 1)]
        out[cohort] = [persons, *returned]
    return out


# -- interval --------------------------------------------------------------------------------------------------
def intervals(frame: pd.DataFrame, req: dict, start_ms: int, end_ms: int) -> dict:
    """{group: ([interval seconds], unmatched count)}."""
    rows = in_range(frame, start_ms, end_ms, req.get("filters", []))
    is_start, is_end = matches(rows, req["start"]), matches(rows, req["end"])
    link, group = req.get("same_property"), req.get("group_by")
    out: dict = defaultdict(lambda: ([], 0))
    keys = [rows["person"]] + ([rows[link].fillna("")] if link else [])
    for _, part in rows.assign(_s=is_start, _e=is_end).groupby(keys):
        ends = part[part["_e"]].sort_values("t")
        for _, start in part[part["_s"]].iterrows():
            after = ends[(ends["t"] >= start["t"]) & (ends["event_id"] != start["event_id"])]
            g = _text(start.get(group)) if group else ""
            values, unmatched = out[g]
            if len(after):
                values.append((after["t"].iloc[0] - start["t"]) / 1000)
                out[g] = (values, unmatched)
            else:
                out[g] = (values, unmatched + 1)
    return dict(out)


# -- distribution ----------------------------------------------------------------------------------------------
def distribution(frame: pd.DataFrame, req: dict, start_ms: int, end_ms: int) -> pd.Series:
    rows = in_range(frame, start_ms, end_ms, req.get("filters", []))
    rows = rows[matches(rows, req["event"])]
    if req.get("measure", "count") == "count":
        return rows.groupby("person").size().astype(float)
    return pd.to_numeric(rows[req["property"]], errors="coerce").groupby(rows["person"]).sum(min_count=0).astype(float)


def histogram(values, edges) -> list[int]:
    counts = []
    for i, low in enumerate(edges):
        high = edges[i + 1] if i + 1 < len(edges) else np.inf
        counts.append(int(sum(1 for v in values if low <= v < high)))
    return counts


def quantiles(values, levels=(0.1, 0.25, 0.5, 0.75, 0.9)) -> list[float]:
    return [float(np.quantile(np.asarray(values, dtype=float), q)) for q in levels]
