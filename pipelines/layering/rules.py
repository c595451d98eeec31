"""Layering rule documents: the model, its validation and compilation.

A document (YAML or JSON) looks like::

    default_layer: default
    rules:                      # first match wins, in order
      - name: payments
        layer: trade
        match:
          app_id: [demo-shop]    # each key is optional; a list means "any of"
          event: [pay, refund]
          platform: [ios, android]
          props:                 # all predicates must hold
            - {key: amount, op: gt, value: 100}
        drop_fields: [context.ua]
    trim:
      max_field_chars: 2048      # longer strings in props/context are cut to this length
      drop_fields: [props.raw_html]

Validation collects every problem with its location (`rules[2].match.props[0].op: unknown operator 'gtt'`) so
`trackflow layering apply` can reject a bad document with one clear message, and the running job can keep its last
good set when handed an invalid one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

LAYER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
MATCH_KEYS = ("app_id", "event", "platform", "props")
# Fields a rule may drop or the trim step may shorten: top-level sections of the envelope that carry free text.
TRIMMABLE_SECTIONS = ("props", "context")
DEFAULT_MAX_FIELD_CHARS = 4096

COMPARISONS = {
    "eq": lambda actual, expected: actual == expected,
    "ne": lambda actual, expected: actual != expected,
    "in": lambda actual, expected: actual in expected,
    "not_in": lambda actual, expected: actual not in expected,
    "gt": lambda actual, expected: _number(actual) > expected,
    "gte": lambda actual, expected: _number(actual) >= expected,
    "lt": lambda actual, expected: _number(actual) < expected,
    "lte": lambda actual, expected: _number(actual) <= expected,
    "contains": lambda actual, expected: expected in str(actual),
    "prefix": lambda actual, expected: str(actual).startswith(expected),
    "exists": lambda actual, expected: (actual is not None) == bool(expected),
}
NUMERIC_OPS = {"gt", "gte", "lt", "lte"}
LIST_OPS = {"in", "not_in"}


def _number(value: Any) -> float:
    """Property values may arrive as numbers or numeric strings; anything else never satisfies a comparison."""
    if isinstance(value, bool) or value is None:
        return float("nan")
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


class RuleSetError(ValueError):
    """An invalid rule document; `problems` lists each one with where it is."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid layering rules:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class PropPredicate:
    key: str
    op: str
    value: Any = None

    def holds(self, props: dict[str, Any]) -> bool:
        actual = props.get(self.key, None)
        if self.op == "exists":
            return COMPARISONS["exists"](actual, True if self.value is None else self.value)
        if actual is None:
            return self.op in ("ne", "not_in")
        return COMPARISONS[self.op](actual, self.value)


@dataclass(frozen=True)
class Rule:
    name: str
    layer: str
    app_ids: frozenset[str] = frozenset()
    events: frozenset[str] = frozenset()
    platforms: frozenset[str] = frozenset()
    props: tuple[PropPredicate, ...] = ()
    drop_fields: tuple[str, ...] = ()

    def matches(self, event: dict[str, Any]) -> bool:
        # Cheapest tests first: set lookups on top-level fields, then property predicates.
        if self.events and event.get("event") not in self.events:
            return False
        if self.app_ids and event.get("app_id") not in self.app_ids:
            return False
        if self.platforms and (event.get("context") or {}).get("platform") not in self.platforms:
            return False
        props = event.get("props") or {}
        return all(predicate.holds(props) for predicate in self.props)


@dataclass(frozen=True)
class RuleSet:
    """A compiled, validated document. `version` orders documents: the job ignores one older than it holds."""

    version: int = 0
    default_layer: str = "default"
    rules: tuple[Rule, ...] = ()
    max_field_chars: int = DEFAULT_MAX_FIELD_CHARS
    drop_fields: tuple[str, ...] = ()
    document: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def layers(self) -> list[str]:
        """Every layer this set can route to, default first (the topics and tables that must exist)."""
        seen = [self.default_layer]
        for rule in self.rules:
            if rule.layer not in seen:
                seen.append(rule.layer)
        return seen


def parse_document(text: str) -> dict[str, Any]:
    """YAML (a superset of JSON) text -> document dict; syntax errors become RuleSetError."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleSetError([f"not valid YAML/JSON: {exc}"]) from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise RuleSetError([f"the document must be a mapping, got {type(document).__name__}"])
    return document


def compile_rules(document: dict[str, Any]) -> RuleSet:
    """Validate a document and build its RuleSet; raises RuleSetError listing every problem found."""
    problems: list[str] = []
    known = {"version", "default_layer", "rules", "trim", "published_at", "description"}
    for key in sorted(set(document) - known):
        problems.append(f"{key}: unknown key (expected one of {', '.join(sorted(known))})")

    version = document.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        problems.append(f"version: must be a non-negative integer, got {version!r}")
        version = 0
    default_layer = document.get("default_layer", "default")
    _check_layer(default_layer, "default_layer", problems)

    raw_rules = document.get("rules") or []
    if not isinstance(raw_rules, list):
        problems.append("rules: must be a list")
        raw_rules = []
    rules = []
    names: set[str] = set()
    for index, raw in enumerate(raw_rules):
        rule = _compile_rule(raw, f"rules[{index}]", problems)
        if rule is None:
            continue
        if rule.name in names:
            problems.append(f"rules[{index}].name: duplicate rule name {rule.name!r}")
        names.add(rule.name)
        rules.append(rule)

    trim = document.get("trim") or {}
    max_chars, trim_drops = DEFAULT_MAX_FIELD_CHARS, ()
    if not isinstance(trim, dict):
        problems.append("trim: must be a mapping")
    else:
        for key in sorted(set(trim) - {"max_field_chars", "drop_fields"}):
            problems.append(f"trim.{key}: unknown key (expected max_field_chars, drop_fields)")
        max_chars = trim.get("max_field_chars", DEFAULT_MAX_FIELD_CHARS)
        if not isinstance(max_chars, int) or isinstance(max_chars, bool) or max_chars < 16:
            problems.append(f"trim.max_field_chars: must be an integer >= 16, got {max_chars!r}")
            max_chars = DEFAULT_MAX_FIELD_CHARS
        trim_drops = _field_paths(trim.get("drop_fields"), "trim.drop_fields", problems)

    if problems:
        raise RuleSetError(problems)
    return RuleSet(version, default_layer, tuple(rules), max_chars, trim_drops, dict(document))


def _check_layer(value: Any, where: str, problems: list[str]) -> None:
    if not isinstance(value, str) or not LAYER_NAME.match(value):
        problems.append(
            f"{where}: layer names are lowercase letters, digits and '_', starting with a letter (they name the "
            f"topic ods.<layer> and the table dwd_<layer>), got {value!r}"
        )


def _compile_rule(raw: Any, where: str, problems: list[str]) -> Rule | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping with name, layer and match")
        return None
    for key in sorted(set(raw) - {"name", "layer", "match", "drop_fields"}):
        problems.append(f"{where}.{key}: unknown key (expected name, layer, match, drop_fields)")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{where}.name: required, a non-empty string")
        name = f"<{where}>"
    layer = raw.get("layer")
    _check_layer(layer, f"{where}.layer", problems)
    match = raw.get("match") or {}
    if not isinstance(match, dict):
        problems.append(f"{where}.match: must be a mapping")
        match = {}
    for key in sorted(set(match) - set(MATCH_KEYS)):
        problems.append(f"{where}.match.{key}: unknown key (expected one of {', '.join(MATCH_KEYS)})")
    predicates = _compile_predicates(match.get("props") or [], f"{where}.match.props", problems)
    return Rule(
        name=name,
        layer=layer if isinstance(layer, str) else "",
        app_ids=_string_set(match.get("app_id"), f"{where}.match.app_id", problems),
        events=_string_set(match.get("event"), f"{where}.match.event", problems),
        platforms=_string_set(match.get("platform"), f"{where}.match.platform", problems),
        props=predicates,
        drop_fields=_field_paths(raw.get("drop_fields"), f"{where}.drop_fields", problems),
    )


def _string_set(value: Any, where: str, problems: list[str]) -> frozenset[str]:
    if value is None:
        return frozenset()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
        problems.append(f"{where}: a non-empty string or list of non-empty strings")
        return frozenset()
    return frozenset(values)


def _compile_predicates(raw: Any, where: str, problems: list[str]) -> tuple[PropPredicate, ...]:
    if not isinstance(raw, list):
        problems.append(f"{where}: must be a list of {{key, op, value}}")
        return ()
    predicates = []
    for index, item in enumerate(raw):
        at = f"{where}[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("key"), str) or not item.get("key"):
            problems.append(f"{at}: needs a non-empty 'key'")
            continue
        op = item.get("op", "eq")
        value = item.get("value")
        if op not in COMPARISONS:
            problems.append(f"{at}.op: unknown operator {op!r} (expected one of {', '.join(COMPARISONS)})")
            continue
        if op in NUMERIC_OPS and (isinstance(value, bool) or not isinstance(value, (int, float))):
            problems.append(f"{at}.value: operator {op!r} needs a number, got {value!r}")
            continue
        if op in LIST_OPS:
            if not isinstance(value, list):
                problems.append(f"{at}.value: operator {op!r} needs a list, got {value!r}")
                continue
            value = frozenset(value)
        elif op in ("contains", "prefix") and not isinstance(value, str):
            problems.append(f"{at}.value: operator {op!r} needs a string, got {value!r}")
            continue
        elif op not in ("exists",) and op not in NUMERIC_OPS and value is None:
            problems.append(f"{at}.value: required for operator {op!r}")
            continue
        predicates.append(PropPredicate(item["key"], op, value))
    return tuple(predicates)


def _field_paths(raw: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    """`props.x` / `context.y` paths: only free-form sections can be dropped, never the contract's own fields."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(f"{where}: must be a list of field paths such as props.raw_html")
        return ()
    paths = []
    for item in raw:
        section, _, name = str(item).partition(".")
        if section not in TRIMMABLE_SECTIONS or not name:
            problems.append(f"{where}: {item!r} is not droppable (use props.<name> or context.<name>)")
            continue
        paths.append(str(item))
    return tuple(paths)
