"""Audience rules: conditions on persons' tags and audiences (as of now) and on their behaviour (did event X at least N
times in the last D days, with property conditions), combined with all / any / not, compiled to ONE parameterised
warehouse SELECT of `oneid, oneid_hash` that store.write_members_from_sql writes as a version.

A rule as JSON:
    {"tag": "vip_level", "op": "in", "value": ["gold", "platinum"]}      (the analysis models' tag filter)
    {"audience": "newsletter", "op": "in"}                              (their audience filter)
    {"event": "order", "filters": [{"property": "price", "op": ">", "value": 100}], "at_least": 2, "days": 30}
    {"all": [rule, ...]}   {"any": [rule, ...]}   {"not": rule}

Each leaf is a set of persons (`oneid_hash IN (subquery)`), and/or/not are AND/OR/NOT over them. Person leaves are
built by the analysis filters' own code (person_filters.py), so `!=`, `not_in`, `is_not_set` mean there what they
mean in every model: they also hold for persons without the tag. Event leaves reuse the models' filter builder
(filters.py). What `not` (and a complement leaf) ranges over, the universe, is the persons the rule talks about:
persons with a current tag (if it has a tag leaf), the members of its audiences, and persons with any event of the
app in its longest event window (if it has an event leaf). A rule without negation is monotone, so its universe
narrows to the persons of its named tags and events (same members, less read).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Union

from pydantic import Discriminator, Field, StringConstraints, Tag, model_validator

from pipelines.analysis.expr import all_of, any_of
from pipelines.analysis.filters import selector_condition
from pipelines.analysis.person_filters import person_condition
from pipelines.analysis.request import ANY_EVENT, MAX_RANGE_DAYS, AudienceFilter, EventSelector, Strict, TagFilter
from pipelines.analysis.schema import PERSON, PERSON_KEY, TABLE
from pipelines.analysis.sqlparams import BuiltQuery, SqlParams
from pipelines.analysis.timerange import TimeRange
from pipelines.cdp.names import is_temporary, reserved_message

MAX_LEAVES = 50  # leaves of one rule: each is a subquery
DAY_MS = 86_400_000

# The person-level filters of the analysis models are the rule's person leaves: same JSON, same meaning
# (`!=`, `not_in`, `is_not_set` and audience `not_in` also hold for persons without the tag / outside the audience).
PersonLeaf = TagFilter | AudienceFilter


class EventRule(EventSelector):
    """Did `event` (matching `filters`) at least `at_least` times in the last `days` days."""

    at_least: int = Field(1, ge=1, le=1_000_000)
    days: int = Field(30, ge=1, le=MAX_RANGE_DAYS)


class AllOf(Strict):
    all: list["Rule"] = Field(min_length=1, max_length=20)


class AnyOf(Strict):
    any: list["Rule"] = Field(min_length=1, max_length=20)


class NotRule(Strict):
    not_: "Rule" = Field(alias="not")


# Which rule an item is, by its key; the tags (KIND_TAGS) are dropped from error paths (audiences.py).
_KEYS = {"tag": TagFilter, "audience": AudienceFilter, "event": EventRule, "all": AllOf, "any": AnyOf, "not": NotRule}
KIND_TAGS = {f"{key}_rule" for key in _KEYS}


def _kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return next((f"{key}_rule" for key in _KEYS if key in value), None)
    return next((f"{key}_rule" for key, kind in _KEYS.items() if type(value) is kind), None)


Rule = Annotated[
    Union[
        Annotated[TagFilter, Tag("tag_rule")],
        Annotated[AudienceFilter, Tag("audience_rule")],
        Annotated[EventRule, Tag("event_rule")],
        Annotated[AllOf, Tag("all_rule")],
        Annotated[AnyOf, Tag("any_rule")],
        Annotated[NotRule, Tag("not_rule")],
    ],
    Discriminator(
        _kind,
        custom_error_type="rule",
        custom_error_message='a rule is {"tag": ...}, {"audience": ...}, {"event": ...}, {"all": [...]}, {"any": [...]} or {"not": ...}',
    ),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()
NotRule.model_rebuild()


class RuleDefinition(Strict):
    """A rule audience's definition: the app whose events behaviour leaves read, and the rule."""

    app_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    rule: Rule

    @model_validator(mode="after")
    def _not_too_big(self) -> "RuleDefinition":
        if (count := len(leaves(self.rule))) > MAX_LEAVES:
            raise ValueError(f"rule: {count} conditions, at most {MAX_LEAVES}")
        # A chain's temporary audience holds person keys without OneIDs and is gone a day later.
        if temporary := next((leaf.audience for leaf in leaves(self.rule) if isinstance(leaf, AudienceFilter) and is_temporary(leaf.audience)), None):
            raise ValueError(f"rule: {reserved_message(temporary)}")
        return self


def leaves(rule) -> list[TagFilter | AudienceFilter | EventRule]:
    if isinstance(rule, (TagFilter, AudienceFilter, EventRule)):
        return [rule]
    children = rule.all if isinstance(rule, AllOf) else rule.any if isinstance(rule, AnyOf) else [rule.not_]
    return [leaf for child in children for leaf in leaves(child)]


def _negated(leaf) -> bool:
    """A person leaf holding for persons outside a set (the complement ops)."""
    return isinstance(leaf, (TagFilter, AudienceFilter)) and leaf.op in ("!=", "not_in", "is_not_set")


def monotone(rule) -> bool:
    """No `not` and no complement leaf: a person the rule holds for is then in at least one leaf's positive set."""
    if isinstance(rule, NotRule):
        return False
    if isinstance(rule, (AllOf, AnyOf)):
        return all(monotone(child) for child in (rule.all if isinstance(rule, AllOf) else rule.any))
    return not _negated(rule)


def tags_of(rule) -> set[str]:
    return {leaf.tag for leaf in leaves(rule) if isinstance(leaf, TagFilter)}


def events_of(rule) -> set[str]:
    return {leaf.event for leaf in leaves(rule) if isinstance(leaf, EventRule)}


# -- SQL ----------------------------------------------------------------------------------------------------------
def _person_leaf(leaf: PersonLeaf, params: SqlParams) -> str:
    """The analysis filters' condition (person_filters.py) on a member's `oneid_hash` instead of an event's
    PERSON_KEY: the same set of persons, built in one place."""
    condition = person_condition(leaf, params)
    if not condition.startswith(PERSON_KEY):
        raise AssertionError("person_condition no longer starts with PERSON_KEY")  # pragma: no cover
    return "oneid_hash" + condition[len(PERSON_KEY):]


class _Compiler:
    def __init__(self, definition: RuleDefinition, now_ms: int):
        self.definition, self.now_ms, self.params = definition, now_ms, SqlParams()
        self.app = self.params.add("app_id", definition.app_id, "String")

    def window(self, days: int) -> str:
        return TimeRange(self.now_ms - days * DAY_MS, self.now_ms, "UTC").condition(self.params)

    def condition(self, rule) -> str:
        if isinstance(rule, (TagFilter, AudienceFilter)):
            return _person_leaf(rule, self.params)
        if isinstance(rule, EventRule):
            at_least = self.params.add("at_least", rule.at_least, "UInt64")
            where = all_of([f"app_id = {self.app}", self.window(rule.days), selector_condition(rule, self.params)])
            return f"oneid_hash IN (SELECT {PERSON_KEY} FROM {TABLE} WHERE {where} GROUP BY {PERSON_KEY} HAVING count() >= {at_least})"
        if isinstance(rule, NotRule):
            return f"NOT ({self.condition(rule.not_)})"
        if isinstance(rule, AllOf):
            return all_of([self.condition(child) for child in rule.all])
        return any_of([self.condition(child) for child in rule.any])

    def universe(self, rule) -> str:
        """The persons `not` ranges over (see the module docstring), with their OneID strings."""
        narrow, parts = monotone(rule), []
        tags, events = tags_of(rule), events_of(rule)
        if tags:
            only = f" WHERE tag IN {self.params.add('tags', sorted(tags), 'Array(String)')}" if narrow else ""
            parts.append(f"SELECT oneid_hash, oneid FROM cdp_tags_current{only}")
        for leaf in leaves(rule):
            if isinstance(leaf, AudienceFilter):
                audience = self.params.add("audience", leaf.audience, "String")
                version = self.params.add("audience_version", leaf.version, "UInt64")
                parts.append(f"SELECT oneid_hash, oneid FROM cdp_audiences WHERE audience = {audience} AND version = {version}")
        if events:
            days = max(leaf.days for leaf in leaves(rule) if isinstance(leaf, EventRule))
            named = "" if not narrow or ANY_EVENT in events else f"event IN {self.params.add('events', sorted(events), 'Array(String)')}"
            where = all_of([f"app_id = {self.app}", self.window(days), named])
            # `person`, not `oneid`: an alias named as the events' own oneid column would shadow it inside PERSON.
            parts.append(
                f"SELECT key AS oneid_hash, person AS oneid FROM (SELECT {PERSON_KEY} AS key, any({PERSON}) AS person "
                f"FROM {TABLE} WHERE {where} GROUP BY key)"
            )
        return "\n    UNION ALL\n    ".join(parts)


def compile_rule(definition: RuleDefinition, now: dt.datetime | None = None) -> BuiltQuery:
    """The rule's members as `SELECT oneid, oneid_hash`: tags and audiences as they are now (audiences at the
    versions `definition` pins: resolve it first, person_filters.resolve), events in the `days` before `now`
    (default: the current time)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    compiler = _Compiler(definition, int(now.timestamp() * 1000))
    condition = compiler.condition(definition.rule)
    return compiler.params.query(
        f"""SELECT any(oneid) AS oneid, oneid_hash
FROM (
    {compiler.universe(definition.rule)}
)
GROUP BY oneid_hash
HAVING {condition}"""
    )
