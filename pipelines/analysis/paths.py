"""Path analysis (路径分析): the sequences of events, or of page URLs / titles, that persons follow from a start
event or that lead to an end event, as source -> target edges per step with persons, counts and time between.

Semantics (the pandas reference in tests/analysis/test_paths.py implements the same rules independently):
- The path's events: every event (item `event`, or only those in `events`), or the `page_event` events (item
  `url` / `title`), in the range and matching the global filters. Each has a label: its event name, URL or title,
  rewritten by the `cleaning` rules in order (cleaning.py: RE2 `pattern` -> `replacement`, every match).
- A person's events in (time, label, matches the anchor) order are cut into sessions wherever two consecutive
  ones are `session_gap_seconds` or more apart (as PostHog's paths and the page model split them).
  A path that starts from a funnel step takes the funnel's window instead (`funnel_window_seconds`, with `start`
  only): a window opens at the person's first `start` match that is not inside an earlier window and holds the
  events up to `funnel_window_seconds` after it, inclusive as the funnel's window is; each window is a session,
  and events in no window are in no path.
- `start`: in each session, from the first event matching `start` on; `end`: up to and including the first event
  matching `end`. Sessions without a match have no path. Then consecutive events with the same label collapse into
  one (at the time of the first), and the path keeps its first `steps` elements (`start`) or its last (`end`).
- Edge `step` k joins the path's k-th and (k+1)-th elements; with `end` the paths are aligned on their last element,
  which is element `steps` (so a shorter path's first edge has a higher step). `count`: paths taking the edge;
  `persons`: distinct persons among them; `avg_seconds`: mean time from the source's first event to the target's.
  Step 0 is where paths begin: no source, the first element as target (one per path).
- Per step, the `edges_per_step` edges with the most paths (then by source, target) are listed; the others are
  folded into one edge of the step with `other: true` (its persons: those of any folded edge).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from pipelines.analysis.cleaning import MAX_RULES, CleaningRule, cleaned_sql
from pipelines.analysis.contract import AnalysisModel
from pipelines.analysis.expr import all_of
from pipelines.analysis.filters import property_expr, scope_conditions, selector_condition
from pipelines.analysis.funnel.request import MAX_WINDOW_DAYS
from pipelines.analysis.persons import TOUCHPOINT, Page, latest_persons_sql, page_clause, persons_view
from pipelines.analysis.request import ANY_EVENT, EventName, EventSelector, PropertyFilter, QueryScope, Text
from pipelines.analysis.schema import PERSON_KEY, TABLE
from pipelines.analysis.shaping import Rows, table
from pipelines.analysis.sqlparams import BuiltQuery, SqlParams
from pipelines.analysis.timerange import TimeRange

MAX_STEPS = 10
MAX_EDGES_PER_STEP = 100
MAX_RANGE_DAYS = 92  # a path query sorts every event of every person in the range
MAX_GAP_SECONDS = 7 * 86_400
# Bits of a path element's sort key: milliseconds since the range start (33 bits hold MAX_RANGE_DAYS), the label's
# rank, the anchor flag. An edge's key: its step (4 bits hold MAX_STEPS - 1), the source's rank, the target's rank.
RANK_BITS = 30
RANK_MASK = (1 << RANK_BITS) - 1
EDGE_STEP_SHIFT = 2 * RANK_BITS
DEFAULT_PAGE_EVENT = "page_view"


def _ms(element: str) -> str:
    """An element's milliseconds since the range start, from its sort key."""
    return f"toInt64(bitShiftRight({element}, {RANK_BITS + 1}))"


def _rank(element: str) -> str:
    """An element's label rank, from its sort key."""
    return f"bitAnd(bitShiftRight({element}, 1), {RANK_MASK})"


def _anchor(element: str) -> str:
    """Whether an element matches the anchor (start or end), from its sort key."""
    return f"toUInt8(bitAnd({element}, 1))"


class EdgePersonsPage(Page):
    """The persons who took one edge: `step` with `source` and `target` as listed (step 0: no source, the path's
    first element as target), or the step's folded edge with `other: true`."""

    step: int = Field(ge=0, le=MAX_STEPS - 1)
    source: Text | None = None
    target: Text | None = None
    other: bool = False

    @model_validator(mode="after")
    def _one_edge(self) -> "EdgePersonsPage":
        if self.other and (self.source is not None or self.target is not None):
            raise ValueError("the folded edge (other) takes no source or target")
        if not self.other and (self.target is None or (self.source is None) != (self.step == 0)):
            raise ValueError("give the edge's target, and its source unless step is 0 (where paths begin)")
        return self


class PathsQuery(QueryScope):
    model: Literal["paths"] = "paths"
    start: EventSelector | None = Field(None, description="paths from the first matching event of each session")
    end: EventSelector | None = Field(None, description="paths up to the first matching event of each session")
    item: Literal["event", "url", "title"] = Field("event", description="what a path element is: the event name, or the page view's URL or title")
    page_event: EventName | None = Field(None, description=f"the page views (item url/title; default {DEFAULT_PAGE_EVENT})")
    events: list[EventName] = Field(default_factory=list, max_length=50, description="item event: only these events (default: all)")
    cleaning: list[CleaningRule] = Field(default_factory=list, max_length=MAX_RULES)
    steps: int = Field(5, ge=2, le=MAX_STEPS, description="elements per path, the start or end included")
    edges_per_step: int = Field(10, ge=1, le=MAX_EDGES_PER_STEP, description="edges listed per step; the rest fold into one")
    session_gap_seconds: int = Field(1800, ge=1, le=MAX_GAP_SECONDS, description="inactivity that ends a session")
    funnel_window_seconds: int | None = Field(
        None, ge=1, le=MAX_WINDOW_DAYS * 86_400,
        description="a path from a funnel step: the funnel's window_seconds; each path holds the events up to this long after its start (instead of sessions cut at the inactivity gap)",
    )  # fmt: skip
    persons: EdgePersonsPage | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_page_event(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("item") in ("url", "title") and data.get("page_event") is None:
            return {**data, "page_event": DEFAULT_PAGE_EVENT}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> "PathsQuery":
        if (self.start is None) == (self.end is None):
            raise ValueError(f'start: give a start event or an end event, one of them (either may be "{ANY_EVENT}")')
        anchor_field = "start" if self.start is not None else "end"
        anchor = self.anchor.event
        if self.item == "event":
            if self.page_event is not None:
                raise ValueError("page_event: only for item url or title")
            if self.events and anchor != ANY_EVENT and anchor not in self.events:
                raise ValueError(f"{anchor_field}.event: not one of `events`, the events the paths are made of")
        else:
            if self.events:
                raise ValueError("events: only for item event (with url or title the paths are made of page_event)")
            if anchor not in (ANY_EVENT, self.page_event):
                raise ValueError(f"{anchor_field}.event: with item {self.item} the path is made of {self.page_event} events: use it or {ANY_EVENT}")
        if self.funnel_window_seconds is not None:
            if self.start is None:
                raise ValueError("funnel_window_seconds: only with a start event (a funnel's window runs from its step)")
            if "session_gap_seconds" in self.model_fields_set:
                raise ValueError("session_gap_seconds: not with funnel_window_seconds (the funnel's window ends the path, not a gap)")
        if self.persons is not None and self.persons.step > self.steps - 1:
            raise ValueError(f"persons.step: a path of {self.steps} steps has edges at steps 0 to {self.steps - 1}")
        return self

    @field_validator("date_to")
    @classmethod
    def _short_range(cls, date_to, info):
        if "date_from" in info.data and "timezone" in info.data:
            time_range = TimeRange.between(info.data["date_from"], date_to, info.data["timezone"])
            if time_range.end_ms - time_range.start_ms > MAX_RANGE_DAYS * 86_400_000:
                raise ValueError(f"a path analysis spans at most {MAX_RANGE_DAYS} days")
        return date_to

    @property
    def anchor(self) -> EventSelector:
        return self.start if self.start is not None else self.end


def _raw_sql(request: PathsQuery, params: SqlParams) -> str:
    """An element's text as stored: the event column (LowCardinality) or the page property."""
    return "event" if request.item == "event" else property_expr(request.item, params)


def _label_sql(request: PathsQuery, params: SqlParams, raw: str | None = None) -> str:
    """An element's label: its text (`raw`, default the stored one) as a String, cleaned."""
    return cleaned_sql(f"toString({raw or _raw_sql(request, params)})", request.cleaning, params)


def _paths_columns(request: PathsQuery, params: SqlParams) -> str:
    """A person's `paths` (from `split`, the person's sessions): each session with an anchor cut (from its first start
    match on, or up to its first end match), consecutive equal labels kept once (at the first one's time), and its
    first or last `steps` elements kept: arrays of sort keys (ms since the range start, label rank, anchor); and
    `offsets`, each path's step of its first edge, less one."""
    steps = params.add("steps", request.steps, "Int64")
    first = f"arrayFirstIndex(x -> {_anchor('x')}, s)"
    cut = f"arraySlice(s, {first})" if request.start is not None else f"arraySlice(s, 1, {first})"
    # an element is dropped when its label is the previous one's
    ranks = f"arrayMap(x -> {_rank('x')}, c)"
    collapse = f"arrayFilter((x, same) -> NOT same, c, arrayMap((a, b, k) -> k > 1 AND a = b, {ranks}, arrayShiftRight({ranks}, 1), arrayEnumerate(c)))"
    if request.start is not None:
        keep, offsets = f"arraySlice(c, 1, {steps})", "arrayMap(p -> 0, paths)"
    else:  # aligned on the end: the last element is element `steps`
        keep, offsets = f"arraySlice(c, greatest(1, length(c) - {steps} + 1))", f"arrayMap(p -> {steps} - length(p), paths)"
    return f"""arrayMap(c -> {keep}, arrayMap(c -> {collapse}, arrayMap(s -> {cut}, arrayFilter(s -> arrayExists(x -> {_anchor('x')}, s), split)))) AS paths,
           {offsets} AS offsets"""


def _split_columns(request: PathsQuery, params: SqlParams) -> str:
    """A person's `sorted` elements (sort keys: ms, label rank, anchor) cut into sessions, `split`: at the inactivity gaps, or
    into the funnel's windows. A window opens at a start match past the open window's end (one arrayFold carrying
    that end and the opening positions: windows are few, so its pushes are cheap); `window_start` is each element's
    window's first ms (-1 before the first), and the elements past their window's end are dropped before the cut."""
    if request.funnel_window_seconds is None:
        gap = params.add("session_gap_ms", request.session_gap_seconds * 1000, "Int64")
        return f"arraySplit((x, gap) -> gap, sorted, arrayMap(d -> d >= {gap}, arrayDifference(arrayMap(x -> {_ms('x')}, sorted)))) AS split"
    window = params.add("funnel_window_ms", request.funnel_window_seconds * 1000, "Int64")
    return f"""arrayFold((acc, x, i) -> if({_anchor('x')} AND {_ms('x')} > acc.1, ({_ms('x')} + {window}, arrayPushBack(acc.2, i)), acc),
                    sorted, arrayEnumerate(sorted), (toInt64(-1), emptyArrayUInt32())).2 AS opened,
           arrayMap(i -> has(opened, i), arrayEnumerate(sorted)) AS opens,
           arrayFill(w -> w >= 0, arrayMap((x, o) -> if(o, {_ms('x')}, -1), sorted, opens)) AS window_start,
           arrayMap((x, w) -> w >= 0 AND {_ms('x')} - w <= {window}, sorted, window_start) AS inside,
           arraySplit((x, o) -> o, arrayFilter((x, keep) -> keep, sorted, inside), arrayFilter((o, keep) -> keep, opens, inside)) AS split"""


def _path_events(request: PathsQuery) -> list[str]:
    """The events the paths are made of (ANY_EVENT: all)."""
    if request.item == "event":
        return request.events or [ANY_EVENT]
    return [request.page_event]


def _labels_table(table: str) -> str:
    """Where `per_person_tables` keeps the label list next to the per-person rows in `table`."""
    return f"{table}_labels"


def _labels_sql(request: PathsQuery, params: SqlParams, where: str) -> str:
    """The sorted distinct labels of the path's events (a label's rank is its position here), over the paths' scan
    `where` without its person-level filters (audience, tag, person property): a list with more labels ranks the
    paths' labels in the same order, and testing each event's person cost the scan ~0.5 s on 4.9M events with a
    chain's carried audience (the paths' own scan keeps the test)."""
    by_events = [f for f in request.filters if isinstance(f, PropertyFilter)]
    if len(by_events) < len(request.filters):
        where = all_of(scope_conditions(request.model_copy(update={"filters": by_events}), params, _path_events(request)))
    return f"SELECT arraySort(groupUniqArray({_label_sql(request, params, 'raw')})) FROM (SELECT {_raw_sql(request, params)} AS raw FROM {TABLE} WHERE {where} GROUP BY raw)"


def _edge_columns(edge: str) -> str:
    """`step`, `source` and `target` of an edge's key."""
    return f"bitShiftRight({edge}, {EDGE_STEP_SHIFT}) AS step, bitAnd(bitShiftRight({edge}, {RANK_BITS}), {RANK_MASK}) AS source, bitAnd({edge}, {RANK_MASK}) AS target"


def _transitions_sql(source: str) -> str:
    """`transitions` from the rows of `source` (`person_edges` or its materialised table): an edge's key packs its
    step, source and target (EDGE_STEP_SHIFT), so marking first occurrences and grouping take one UInt64."""
    return f"""transitions AS (
    SELECT person_key, edge, {_edge_columns("edge")}, ms, first_edge, first_step
    FROM {source}
    ARRAY JOIN edges AS edge, edge_ms AS ms,
               arrayMap(n -> n = 1, arrayEnumerateUniq(edges)) AS first_edge,
               arrayMap(n -> n = 1, arrayEnumerateUniq(arrayMap(e -> bitShiftRight(e, {EDGE_STEP_SHIFT}), edges))) AS first_step
)"""


def _transitions_cte(request: PathsQuery, params: SqlParams, over: str | None = None, touchpoint_into: str | None = None) -> str:
    """CTEs down to `transitions`: one row per edge a path takes (step k >= 1) and one per path (step 0, where it
    begins), each with its person, source, target (label ranks: `labels[rank]` is the label, 0 none) and the
    milliseconds between them.

    Labels are sorted once (`labels`, a scalar subquery over the same rows, grouped by the stored text first — on
    the event column that groups dictionary positions, and the rules run once per distinct text) and the events
    carry their rank: each person's events are then one array of UInt64 keys (ms since the range start, label
    rank, anchor), sorted as integers, which is the (time, label, anchor) order, and read from the keys where
    needed; arrays of (time, label string) tuples cost 2-3x as much to gather and sort.

    `over`: read `transitions` from the per-person rows materialised by `per_person_tables` in table `over`;
    `touchpoint_into`: the CTEs of those rows (with persons.TOUCHPOINT), reading the labels from that table's label list."""
    if over is not None:
        return f"\nWITH\n(SELECT labels FROM {_labels_table(over)}) AS labels,\n{_transitions_sql(over)}"
    where = all_of(scope_conditions(request, params, _path_events(request)))
    label = _label_sql(request, params)
    anchor = selector_condition(request.anchor, params, "anchor_event")
    start = params.add("range_start_ms", TimeRange.of(request).start_ms, "Int64")
    rank = f"transform({label}, labels, arrayEnumerate(labels), toUInt32(0))"
    labels = _labels_sql(request, params, where) if touchpoint_into is None else f"SELECT labels FROM {_labels_table(touchpoint_into)}"
    hashes, any_touchpoint, touchpoints = (" person_hash,", f", {TOUCHPOINT} AS touchpoint", "touchpoint, ") if touchpoint_into else ("", "", "")
    return f"""
WITH
({labels}) AS labels,
path_events AS (
    SELECT {PERSON_KEY} AS person_key, {anchor} AS anchor,{hashes}
           bitShiftLeft(toUInt64(toUnixTimestamp64Milli(ts) - {start}), {RANK_BITS + 1}) + bitShiftLeft(toUInt64({rank}), 1) + anchor AS key
    FROM {TABLE}
    WHERE {where}
),
sessions AS (
    SELECT person_key{any_touchpoint},
           arraySort(groupArray(key)) AS sorted,
           {_split_columns(request, params)}
    FROM path_events
    GROUP BY person_key
    HAVING max(anchor) AND throwIf(length(labels) >= {1 << RANK_BITS}, 'more than {RANK_MASK:,} distinct path elements: clean them') = 0
),
person_edges AS (
    -- all of a person's edges (keys of step, source, target) in one array and their ms in another, so that one pass
    -- marks each edge's and each step's first occurrence for the person: summed, those flags are the distinct
    -- persons (no hash set per edge)
    SELECT person_key, {touchpoints}{_paths_columns(request, params)},
           arrayFlatten(arrayMap((path, offset) -> arrayMap(k -> bitShiftLeft(toUInt64(if(k = 0, 0, offset + k)), {EDGE_STEP_SHIFT})
                                                                  + bitShiftLeft(toUInt64(if(k = 0, 0, {_rank('path[k]')})), {RANK_BITS}) + {_rank('path[k + 1]')},
                                                    range(length(path))), paths, offsets)) AS edges,
           arrayFlatten(arrayMap(path -> arrayMap(k -> if(k = 0, 0, {_ms('path[k + 1]')} - {_ms('path[k]')}), range(length(path))), paths)) AS edge_ms
    FROM sessions
),
{_transitions_sql("person_edges")}"""


def build(request: PathsQuery, over: str | None = None) -> dict[str, BuiltQuery]:
    params = SqlParams()
    cte = _transitions_cte(request, params, over)
    kept = params.add("edges_per_step", request.edges_per_step, "UInt64")
    return {
        "edges": params.query(
            f"""{cte},
edges AS (
    SELECT {_edge_columns("edge")}, count() AS paths, countIf(first_edge) AS edge_persons, countIf(first_step) AS step_persons,
           groupArrayIf(person_key, first_edge) AS edge_person_keys, sum(ms) AS total_ms
    FROM transitions
    GROUP BY edge
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY step ORDER BY paths DESC, source, target) <= {kept} AS kept
    FROM edges
),
listed AS (
    -- a listed edge is one row and the step total sums each person's first edge of the step: only the folded
    -- edge needs a distinct count, over its edges' persons
    SELECT step, kept AS is_kept, if(kept, labels[source], '') AS listed_source, if(kept, labels[target], '') AS listed_target,
           sum(paths) AS n_paths, sum(total_ms) AS n_ms, sum(step_persons) AS n_step_persons,
           if(kept, sum(edge_persons), uniqExactArrayIf(edge_person_keys, NOT kept)) AS n_persons
    FROM ranked
    GROUP BY step, kept, listed_source, listed_target
),
totalled AS (
    SELECT *, sum(n_paths) OVER per_step AS s_paths, sum(n_ms) OVER per_step AS s_ms, sum(n_step_persons) OVER per_step AS s_persons,
           row_number() OVER per_step AS nth
    FROM listed
    WINDOW per_step AS (PARTITION BY step)
)
-- each step's total is one more row, summed over its few listed rows (not a GROUPING SETS (step) set over `ranked`)
SELECT step, if(step_total, false, is_kept) AS kept, if(step_total, '', listed_source) AS edge_source, if(step_total, '', listed_target) AS edge_target,
       step_total, if(step_total, s_paths, n_paths) AS edge_count, if(step_total, s_ms, n_ms) / edge_count AS avg_ms,
       if(step_total, s_persons, n_persons) AS persons
FROM totalled
ARRAY JOIN if(nth = 1, [false, true], [false]) AS step_total
ORDER BY step, step_total DESC, kept DESC, edge_count DESC, edge_source, edge_target"""
        )
    }


def persons_query(request: PathsQuery, over: str | None = None) -> BuiltQuery:
    """The page of persons behind one edge (or the step's folded edge), with their latest properties (over the
    per-person rows in table `over`, `per_person_tables`, when given)."""
    page = request.persons
    params = SqlParams()
    cte = _transitions_cte(request, params, over)
    step = params.add("step", page.step, "Int64")
    if page.other:
        kept = params.add("edges_per_step", request.edges_per_step, "UInt64")
        edge = f"""(source, target) NOT IN (
        SELECT source, target FROM transitions WHERE step = {step}
        GROUP BY source, target ORDER BY count() DESC, source, target LIMIT {kept}
    )"""
    else:
        source = "0" if page.step == 0 else f"indexOf(labels, {params.add('source', page.source, 'String')})"
        edge = f"source = {source} AND target = indexOf(labels, {params.add('target', page.target, 'String')})"
    keys = f"""    SELECT person_key FROM transitions
    WHERE step = {step} AND {edge}
    GROUP BY person_key {page_clause(page, params, "person_key")}"""
    events = None if _path_events(request) == [ANY_EVENT] else _path_events(request)
    return params.query(cte + latest_persons_sql(request, params, events, keys, over=over))


def per_person_tables(request: PathsQuery, table: str) -> list[tuple[str, BuiltQuery]]:
    """The label list, then each person's edges with their key and persons.TOUCHPOINT, as tables (what `build` and
    `persons_query` read `over` `table`): the per-person rows are the sessions' and paths' work, the label list
    the ranks they hold."""
    params = SqlParams()
    where = all_of(scope_conditions(request, params, _path_events(request)))
    labels = params.query(f"SELECT ({_labels_sql(request, params, where)}) AS labels")
    params = SqlParams()
    rows = params.query(f"{_transitions_cte(request, params, touchpoint_into=table)}\nSELECT person_key, touchpoint, edges, edge_ms FROM person_edges")
    return [(_labels_table(table), labels), (table, rows)]


def _edge(record: dict[str, Any]) -> dict[str, Any]:
    other = not record["kept"]
    return {
        "step": int(record["step"]),
        "source": None if other or record["step"] == 0 else record["edge_source"],
        "target": None if other else record["edge_target"],
        "other": other,
        "count": int(record["edge_count"]),
        "persons": int(record["persons"]),
        "avg_seconds": None if record["step"] == 0 else round(record["avg_ms"] / 1000, 3),
    }


def shape(request: PathsQuery, results: dict[str, Rows]) -> dict:
    records = results["edges"].dicts()
    totals = {int(r["step"]): r for r in records if r["step_total"]}
    edges = [_edge(r) for r in records if not r["step_total"]]
    begins = totals.get(0)
    response = {
        "paths": int(begins["edge_count"]) if begins else 0,
        "persons": int(begins["persons"]) if begins else 0,
        "steps": [{"step": step, "count": int(r["edge_count"]), "persons": int(r["persons"])} for step, r in sorted(totals.items())],
        "edges": edges,
    }
    rows = [[e["step"], "(other)" if e["other"] else e["source"], "(other)" if e["other"] else e["target"], e["count"], e["persons"], e["avg_seconds"]] for e in edges]
    response |= table(["step", "source", "target", "count", "persons", "avg_seconds"], rows)
    if "persons" in results:
        page = request.persons
        response["persons"] = persons_view(
            results["persons"], step=page.step, source=page.source, target=page.target, other=page.other, offset=page.offset
        )
    return response


MODEL = AnalysisModel(
    request_type=PathsQuery,
    build=build,
    shape=shape,
    persons=persons_query,
    per_person=per_person_tables,
    summary="The paths of events or pages persons take from a start event or to an end event, as edges per step",
)
