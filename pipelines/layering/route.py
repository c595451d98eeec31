"""The per-event step of the layering job: pick the layer, drop and trim large fields. Pure: no I/O, no Flink."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipelines.layering.rules import TRIMMABLE_SECTIONS, Rule, RuleSet

TRIM_MARK = "…"


@dataclass(frozen=True)
class Routed:
    layer: str
    rule: str  # the matching rule's name, "" for the default layer
    event: dict[str, Any]  # the event to publish: a trimmed copy, with `layer` and `trimmed` set


def choose_rule(event: dict[str, Any], rules: RuleSet) -> Rule | None:
    """First matching rule in document order, None for the default layer."""
    for rule in rules.rules:
        if rule.matches(event):
            return rule
    return None


def route(event: dict[str, Any], rules: RuleSet) -> Routed:
    rule = choose_rule(event, rules)
    layer = rule.layer if rule else rules.default_layer
    drops = rules.drop_fields + (rule.drop_fields if rule else ())
    trimmed_event, trimmed = trim(event, drops, rules.max_field_chars)
    trimmed_event["layer"] = layer
    if trimmed:
        trimmed_event["trimmed"] = trimmed
    return Routed(layer, rule.name if rule else "", trimmed_event)


def trim(event: dict[str, Any], drop_fields: tuple[str, ...], max_chars: int) -> tuple[dict[str, Any], list[str]]:
    """A copy of `event` without `drop_fields` and with long strings of props/context cut to `max_chars`.

    Returns the copy and the paths it changed (so the warehouse row says what was cut). The input is never
    modified: the same raw event may be routed again after a rule change or a replay.
    """
    result = dict(event)
    changed: list[str] = []
    for section in TRIMMABLE_SECTIONS:
        values = event.get(section)
        if not isinstance(values, dict):
            continue
        kept = {}
        for name, value in values.items():
            path = f"{section}.{name}"
            if path in drop_fields:
                changed.append(path)
                continue
            if isinstance(value, str) and len(value) > max_chars:
                value = value[: max_chars - len(TRIM_MARK)] + TRIM_MARK
                changed.append(path)
            kept[name] = value
        result[section] = kept
    return result, changed
