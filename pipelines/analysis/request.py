"""Request pieces every model shares: names, property filters, event selectors and the query scope
(app, time range, timezone, global filters, sampling). Validation errors name the offending field."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator, model_validator

from pipelines.analysis.schema import NAME_PATTERN

MAX_RANGE_DAYS = 3660  # ten years: analyses keep times as milliseconds since the range start in 39 bits
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER = re.compile(r"[-+]?\d+(\.\d*)?")

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Scalar = Union[str, float, int, bool]

FILTER_OPS = ("=", "!=", "in", "not_in", "contains", "regex", ">", "<", "between", "is_set", "is_not_set")
# How many values each operator takes: one, a list, a [low, high] pair, or none.
_VALUE_SHAPE = {
    "=": "one", "!=": "one", "contains": "one", "regex": "one", ">": "number", "<": "number",
    "in": "list", "not_in": "list", "between": "pair", "is_set": "none", "is_not_set": "none",
}  # fmt: skip


def ascending_edges(edges: list[float]) -> list[float]:
    """Validator for histogram bucket edges."""
    if any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError("bucket edges must be strictly increasing")
    return edges


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PropertyFilter(Strict):
    """`property op value`, e.g. {"property": "price", "op": ">", "value": 100}."""

    property: Name
    op: Literal["=", "!=", "in", "not_in", "contains", "regex", ">", "<", "between", "is_set", "is_not_set"]
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> "PropertyFilter":
        shape, value = _VALUE_SHAPE[self.op], self.value
        if shape == "none" and value is not None:
            raise ValueError(f"op {self.op!r} takes no value")
        if shape == "one" and (value is None or isinstance(value, list)):
            raise ValueError(f"op {self.op!r} takes one value")
        if shape == "number" and (isinstance(value, (bool, list)) or not isinstance(value, (int, float))):
            raise ValueError(f"op {self.op!r} takes a number")
        if shape == "list" and not (isinstance(value, list) and value):
            raise ValueError(f"op {self.op!r} takes a non-empty list")
        if shape == "pair" and not (
            isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        ):
            raise ValueError(f"op {self.op!r} takes [low, high] numbers")
        return self


class EventSelector(Strict):
    """An event name with filters on that event's properties."""

    event: Name
    filters: list[PropertyFilter] = Field(default_factory=list, max_length=20)


class QueryScope(Strict):
    """Fields common to every model. `date_from`/`date_to` are dates (whole days, `date_to` inclusive) or
    datetimes (`date_to` exclusive), read in `timezone`."""

    app_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    timezone: str = "UTC"  # before the dates: their validator reads it
    date_from: dt.datetime | dt.date
    date_to: dt.datetime | dt.date
    filters: list[PropertyFilter] = Field(default_factory=list, max_length=20, description="applied to every event")
    sample: float | None = Field(None, gt=0, le=1, description="fraction of persons to read (consistent per person)")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value

    @field_validator("date_from", "date_to", mode="before")
    @classmethod
    def _day_or_instant(cls, value):
        """"YYYY-MM-DD" is a day: pydantic would read it as that day's midnight, a datetime, which makes date_to
        exclusive. A number (or "20261101") pydantic would read as seconds since 1970: refused."""
        if isinstance(value, str) and _DAY.fullmatch(value.strip()):
            return dt.date.fromisoformat(value.strip())
        if isinstance(value, (int, float)) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
            raise ValueError("a date is YYYY-MM-DD, a datetime ISO 8601 (2026-11-01T10:00:00+08:00), not a number")
        return value

    @field_validator("date_to")
    @classmethod
    def _ordered_range(cls, date_to, info: ValidationInfo):
        from pipelines.analysis.timerange import TimeRange

        if "date_from" not in info.data or "timezone" not in info.data:
            return date_to  # already reported
        time_range = TimeRange.between(info.data["date_from"], date_to, info.data["timezone"])
        if time_range.end_ms <= time_range.start_ms:
            raise ValueError("must be after date_from (a date includes its whole day, a datetime is exclusive)")
        if time_range.end_ms - time_range.start_ms > MAX_RANGE_DAYS * 86_400_000:
            raise ValueError(f"the range from date_from spans more than {MAX_RANGE_DAYS} days")
        return date_to
