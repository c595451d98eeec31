"""The funnel request: steps, window, order, exclusions, breakdown, hold-constant, gap bounds and persons page."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipelines.analysis.persons import Page
from pipelines.analysis.request import Breakdown, EventSelector, Name, QueryScope, Text

MAX_STEPS = 30
MAX_WINDOW_DAYS = 366


class Exclusion(EventSelector):
    """Discard a conversion attempt if this event happens after step `from_step` and before step `to_step`."""

    from_step: int = Field(ge=1, le=MAX_STEPS)
    to_step: int = Field(ge=2, le=MAX_STEPS)


class PersonsPage(Page):
    """List the persons who converted at / dropped off at a step, paged."""

    step: int = Field(ge=1, le=MAX_STEPS)
    status: Literal["converted", "dropped"] = "converted"
    breakdown_value: Text | None = None


class FunnelQuery(QueryScope):
    model: Literal["funnel"] = "funnel"
    steps: list[EventSelector] = Field(min_length=2, max_length=MAX_STEPS)
    window_seconds: int = Field(86_400, ge=1, le=MAX_WINDOW_DAYS * 86_400)
    order: Literal["ordered", "strict", "any"] = "ordered"
    exclusions: list[Exclusion] = Field(default_factory=list, max_length=10)
    breakdown: Breakdown | None = Field(None, description="property of the first step's event, or the person's tag or audience")
    hold_constant: Name | None = Field(None, description="property that must have the same value at every step")
    min_step_gap_seconds: float | None = Field(None, ge=0, le=MAX_WINDOW_DAYS * 86_400)
    max_step_gap_seconds: float | None = Field(None, gt=0, le=MAX_WINDOW_DAYS * 86_400)
    histogram_bins: int = Field(10, ge=1, le=100)
    persons: PersonsPage | None = None

    @model_validator(mode="after")
    def _steps_refer_to_funnel(self) -> "FunnelQuery":
        for i, exclusion in enumerate(self.exclusions):
            if not exclusion.from_step < exclusion.to_step <= len(self.steps):
                raise ValueError(f"exclusions.{i}: need from_step < to_step <= {len(self.steps)} (the step count)")
        if self.persons and self.persons.step > len(self.steps):
            raise ValueError(f"persons.step: the funnel has {len(self.steps)} steps")
        if self.persons and self.persons.status == "dropped" and self.persons.step < 2:
            raise ValueError("persons.step: nobody drops off at step 1; use 2 or more")
        if (self.min_step_gap_seconds or 0) > (self.max_step_gap_seconds or float("inf")):
            raise ValueError("min_step_gap_seconds: above max_step_gap_seconds")
        return self
