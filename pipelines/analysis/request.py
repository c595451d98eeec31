"""Request pieces every model shares: names, property filters, event selectors and the query scope
(app, time range, timezone, global filters, sampling). Validation errors name the offending field."""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from typing import Annotated, Literal, Union
from zoneinfo import available_timezones

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    StringConstraints,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pipelines.analysis.schema import NAME_PATTERN

MAX_RANGE_DAYS = 3660  # ten years: analyses keep times as milliseconds since the range start in 39 bits
# The warehouse's DateTime64 range: dates outside it cannot match an event (and 9999-12-31 has no next midnight).
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2299, 12, 31)
MAX_TIMEZONE_CHARS = 64  # the longest IANA name is 32 characters
MAX_VALUE_CHARS = 1_000  # one filter value or breakdown value
MAX_VALUES = 1_000  # values of one `in` / `not_in` filter
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER = re.compile(r"[-+]?\d+(\.\d*)?")


class NameRole(str):
    """Marks what a request field names, so the unknown-name check (names.py) finds every event and property name
    of any model's request from its types alone."""


EVENT, PROPERTY = NameRole("event"), NameRole("property")
# Person-level names (person_filters.py checks them against the warehouse before a request runs: unknown ones 422).
AUDIENCE, TAG, PERSON_PROPERTY = NameRole("audience"), NameRole("tag"), NameRole("person_property")
ANY_EVENT = "$any"  # an event selector naming it matches every event, wherever a model takes an event

# `Name` fields name a property (an envelope column, a materialized column or a props key); `EventName` fields an
# event. A field naming something else is a plain string with NAME_PATTERN, or the check would report it.
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN), PROPERTY]
EventName = Annotated[str, StringConstraints(pattern=NAME_PATTERN), EVENT]
Text = Annotated[str, StringConstraints(max_length=MAX_VALUE_CHARS)]
# As pipelines/cdp/store.py AUDIENCE_NAME. Tags and person properties come from outside systems and SDKs, often
# named in Chinese: any letters (Unicode), digits and a few separators. All are bound as parameters.
AudienceName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$"), AUDIENCE]
TagName = Annotated[str, StringConstraints(pattern=r"^[\w$][\w$.:\-]{0,99}$"), TAG]
PersonPropertyName = Annotated[str, StringConstraints(pattern=r"^[\w$][\w$.:\-]{0,99}$"), PERSON_PROPERTY]
Scalar = Union[Text, float, int, bool]

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
    # No NaN or infinity in any float field, whether sent as a number or as a string like "inf".
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def scalar_text(value: Scalar) -> str:
    """A filter value as the warehouse keeps it: properties are stored as text (pipelines/envelope.py), booleans
    as true/false, numbers as Python prints them; tags and person properties alike."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _scalar_problem(value) -> str | None:
    if isinstance(value, str):
        return f"a value has at most {MAX_VALUE_CHARS:,} characters" if len(value) > MAX_VALUE_CHARS else None
    if isinstance(value, float) and not math.isfinite(value):
        return "a number must be finite"
    if isinstance(value, (bool, int, float)):
        return None
    return "a value is a string, a number or true/false"


@functools.cache
def _timezones() -> frozenset[str]:
    # The IANA names of the installed database: no file paths or "posix/..." variants, which ZoneInfo would also
    # open. Less "localtime" (the machine's zone under a file name), the one name the warehouse does not know.
    return frozenset(available_timezones() - {"localtime"})


class _ValueFitsOp(Strict):
    """The checks of a filter's `value` against its `op` (each filter declares both fields)."""

    @field_validator("value", mode="before", check_fields=False)
    @classmethod
    def _plain_value(cls, value):
        """One clear message for a value of the wrong kind or size, instead of one per member of the type union
        (the limits are in the type too, for the OpenAPI schema)."""
        if isinstance(value, list) and len(value) > MAX_VALUES:
            raise ValueError(f"at most {MAX_VALUES:,} values")
        values = value if isinstance(value, list) else [] if value is None else [value]
        if problem := next(filter(None, map(_scalar_problem, values)), None):
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _value_fits_op(self):
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


Value = Scalar | Annotated[list[Scalar], Field(max_length=MAX_VALUES)] | None


class PropertyFilter(_ValueFitsOp):
    """`property op value`, e.g. {"property": "price", "op": ">", "value": 100}."""

    property: Name
    op: Literal["=", "!=", "in", "not_in", "contains", "regex", ">", "<", "between", "is_set", "is_not_set"]
    value: Value = None


class AudienceFilter(Strict):
    """Persons in (or not in) an audience, e.g. {"audience": "vip", "op": "in"}: its current version when the
    request runs, or the `version` given."""

    audience: AudienceName
    op: Literal["in", "not_in"] = "in"
    version: int | None = Field(None, ge=1, lt=2**64, description="pin a version (default: the current one)")


PersonOp = Literal["=", "!=", "in", "not_in", "is_set", "is_not_set", ">", "<"]


class TagFilter(_ValueFitsOp):
    """A CDP tag's current value, e.g. {"tag": "level", "op": "=", "value": "gold"}; `!=`, `not_in` and
    `is_not_set` also match persons without the tag."""

    tag: TagName
    op: PersonOp
    value: Value = None


class PersonPropertyFilter(_ValueFitsOp):
    """A person property's latest value (set by SDK profile/identify calls), e.g. {"person_property": "city",
    "op": "=", "value": "Shanghai"}; `!=`, `not_in` and `is_not_set` also match persons without it."""

    person_property: PersonPropertyName
    op: PersonOp
    value: Value = None
    # The request's app, set when the request is resolved (person_properties are kept per app); never sent.
    _app_id: str | None = PrivateAttr(None)


# Which filter an item is, by the key naming its subject; the tags below are dropped from error paths (api.py).
FILTER_TAGS = {"audience": "audience_filter", "tag": "tag_filter", "person_property": "person_property_filter"}


def _kind_by_key(tags: dict[str, str], default: str):
    """A union's discriminator: the tag of the first key of `tags` an item has (a dict, or a model of that kind)."""

    def kind(item) -> str:
        keys = item if isinstance(item, dict) else getattr(type(item), "model_fields", {})
        return next((tag for key, tag in tags.items() if key in keys), default)

    return kind


Filter = Annotated[
    Union[
        Annotated[PropertyFilter, Tag("property_filter")],
        Annotated[AudienceFilter, Tag("audience_filter")],
        Annotated[TagFilter, Tag("tag_filter")],
        Annotated[PersonPropertyFilter, Tag("person_property_filter")],
    ],
    Discriminator(_kind_by_key(FILTER_TAGS, "property_filter")),
]


class TagBreakdown(Strict):
    """Break down by a CDP tag's current value ('' for persons without it)."""

    tag: TagName


class AudienceBreakdown(Strict):
    """Break down by audience: each person under the first listed audience that holds them ('' in none)."""

    audience: list[AudienceName] = Field(min_length=1, max_length=10)
    versions: list[Annotated[int, Field(ge=1, lt=2**64)]] | None = Field(None, description="pin versions, one per audience")

    @model_validator(mode="after")
    def _one_version_each(self) -> "AudienceBreakdown":
        if self.versions is not None and len(self.versions) != len(self.audience):
            raise ValueError("versions: one per audience")
        return self


# Which breakdown an item is, by its key; like the filters', these tags are dropped from error paths (api.py), and
# an item is checked as its own kind only (not as every kind, which named three branches for one wrong value).
BREAKDOWN_TAGS = {"tag": "tag_breakdown", "audience": "audience_breakdown"}


# A breakdown (group-by) names an event property, or a tag or audiences of the person.
Breakdown = Annotated[
    Union[
        Annotated[Name, Tag("property_breakdown")],
        Annotated[TagBreakdown, Tag("tag_breakdown")],
        Annotated[AudienceBreakdown, Tag("audience_breakdown")],
    ],
    Discriminator(_kind_by_key(BREAKDOWN_TAGS, "property_breakdown")),
]


def breakdown_label(item: "Breakdown") -> str:
    """How a breakdown is named in a response's column headers."""
    if isinstance(item, TagBreakdown):
        return f"tag:{item.tag}"
    if isinstance(item, AudienceBreakdown):
        return "audience"
    return item


class EventSelector(Strict):
    """An event name with filters on that event's properties."""

    event: EventName = Field(description=f'an event name, or "{ANY_EVENT}" for any event', examples=["page_view", ANY_EVENT])
    filters: list[Filter] = Field(default_factory=list, max_length=20)


class QueryScope(Strict):
    """Fields common to every model. `date_from`/`date_to` are dates (whole days, `date_to` inclusive) or
    datetimes (`date_to` exclusive), read in `timezone`."""

    app_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    timezone: Annotated[str, StringConstraints(max_length=MAX_TIMEZONE_CHARS)] = "UTC"  # before the dates: their validator reads it
    date_from: dt.datetime | dt.date
    date_to: dt.datetime | dt.date
    filters: list[Filter] = Field(default_factory=list, max_length=20, description="applied to every event; audience, tag and person-property filters select persons")
    sample: float | None = Field(None, gt=0, le=1, description="fraction of persons to read (consistent per person)")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if value not in _timezones():
            raise ValueError(f"unknown timezone {value!r} (an IANA name such as Asia/Shanghai)")
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

    @field_validator("date_from", "date_to")
    @classmethod
    def _within_warehouse_dates(cls, value: dt.date | dt.datetime) -> dt.date | dt.datetime:
        day = value.date() if isinstance(value, dt.datetime) else value
        if not FIRST_DAY <= day <= LAST_DAY:
            raise ValueError(f"must be between {FIRST_DAY} and {LAST_DAY}")
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
