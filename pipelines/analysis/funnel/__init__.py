"""Funnel analysis.

Semantics (the pandas reference in tests/analysis implements the same rules independently):
- Events of one person (and, with `hold_constant`, one value of that property) are taken in (time, step mask)
  order. Every event that can be a first step starts an *attempt*; the attempt walks forward greedily:
  `ordered`: the next event matching the next step advances it; other events are ignored.
  `strict`: like ordered, but any other funnel-step event in between ends the attempt where it is.
  `any`: an event matching any step not yet done advances it (the lowest such step).
- An attempt only uses events within `window_seconds` of its start (inclusive) and, if given, with
  `min_step_gap_seconds <= gap <= max_step_gap_seconds` from the previous step (others are skipped).
- An exclusion event seen while the attempt has done `from_step` but not `to_step` steps discards the attempt.
- A person's result is their best attempt: most steps, then shortest total time, then latest start (then the
  larger gaps, compared in order). Persons whose attempts were all discarded are not counted. With a breakdown,
  the attempt's group is the breakdown value of its first event.

The package: `request` (the request and its checks), `grouping` (step events grouped per person as sorted
arrays), `walks` (the chains and fold walks that find each group's best attempt, and their integer layouts),
`queries` (the summary and persons queries over each person's best) and `shaping` (the response).
"""

from __future__ import annotations

from pipelines.analysis.contract import AnalysisModel
from pipelines.analysis.funnel.queries import build, per_person_tables, persons_query
from pipelines.analysis.funnel.request import MAX_STEPS, FunnelQuery
from pipelines.analysis.funnel.shaping import shape

__all__ = ["MAX_STEPS", "MODEL", "FunnelQuery"]

MODEL = AnalysisModel(
    request_type=FunnelQuery,
    build=build,
    shape=shape,
    persons=persons_query,
    per_person=per_person_tables,
    summary="Conversion through ordered steps within a window, by breakdown value, with the persons at each step",
)
