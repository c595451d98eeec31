"""Compiled validators: each declared event becomes a list of small check functions built once per plan
version, so validating an event on the collector's hot path is a dict lookup plus a few closure calls.

Outcomes, strongest first: `reject` (the client is told, nothing is stored), `quarantine` (kept aside in
`events.quarantine` with machine-readable reasons, replayable), `accept` (to `events.raw`, with flags for
undeclared things the policy lets through).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from pipelines.plan.model import AppPlan, EventSpec, PropertySpec

ACCEPT, QUARANTINE, REJECT = "accept", "quarantine", "reject"
_STRENGTH = {ACCEPT: 0, QUARANTINE: 1, REJECT: 2}

Reason = dict[str, Any]  # {"field": "props.amount", "rule": "type", "detail": "expected number, got string"}
PropertyCheck = Callable[[Any], Reason | None]


class Verdict:
    """The outcome for one event, with the reasons for quarantine/reject and the flags of what `accept` let by."""

    __slots__ = ("outcome", "reasons", "flags", "plan_version")

    def __init__(self, outcome: str = ACCEPT, reasons: list[Reason] | None = None, flags: list[str] | None = None, plan_version: int = 0):
        self.outcome = outcome
        self.reasons = reasons if reasons is not None else []
        self.flags = flags if flags is not None else []
        self.plan_version = plan_version

    def __repr__(self) -> str:
        return f"Verdict({self.outcome!r}, reasons={self.reasons}, flags={self.flags}, plan_version={self.plan_version})"

    def escalate(self, outcome: str, reason: Reason) -> None:
        if outcome == ACCEPT:
            self.flags.append(f"{reason['rule']}:{reason['field']}")
            return
        self.reasons.append(reason)
        if _STRENGTH[outcome] > _STRENGTH[self.outcome]:
            self.outcome = outcome


_JSON_TYPE_NAMES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object", type(None): "null"}


def json_type_name(value: Any) -> str:
    """The JSON/plan name of a decoded value's type, for messages like 'expected number, got string'."""
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


# Exact Python types per plan type, as a JSON decoder produces them: `type(v) in ...` is one set lookup, and
# it keeps booleans out of integer/number (bool is a subclass of int, so isinstance would let them in).
_JSON_TYPES: dict[str, frozenset[type]] = {
    "string": frozenset({str}),
    "integer": frozenset({int}),
    "number": frozenset({int, float}),
    "boolean": frozenset({bool}),
    "array": frozenset({list}),
    "object": frozenset({dict}),
}


def _compile_property(spec: PropertySpec) -> list[PropertyCheck]:
    """The checks for one property, in the order a person would fix them: type first, then value rules."""
    where = f"props.{spec.name}"
    allowed_types = _JSON_TYPES[spec.type]
    checks: list[PropertyCheck] = [
        lambda v: None if type(v) in allowed_types else {"field": where, "rule": "type", "detail": f"expected {spec.type}, got {json_type_name(v)}"}
    ]
    if spec.enum is not None:
        allowed = set(spec.enum)
        checks.append(lambda v: None if v in allowed else {"field": where, "rule": "enum", "detail": f"{v!r} is not one of {list(spec.enum)}"})
    numeric = spec.type in ("integer", "number")  # ranges apply to numbers; the type check ran first
    if spec.min is not None and numeric:
        checks.append(lambda v: None if v >= spec.min else {"field": where, "rule": "min", "detail": f"{v} < {spec.min}"})
    if spec.max is not None and numeric:
        checks.append(lambda v: None if v <= spec.max else {"field": where, "rule": "max", "detail": f"{v} > {spec.max}"})
    if spec.max_length is not None:
        checks.append(
            lambda v: None if not isinstance(v, (str, list)) or len(v) <= spec.max_length
            else {"field": where, "rule": "max_length", "detail": f"length {len(v)} > {spec.max_length}"}
        )
    if spec.pattern is not None:
        regex = re.compile(spec.pattern)
        checks.append(
            lambda v: None if not isinstance(v, str) or regex.fullmatch(v)
            else {"field": where, "rule": "pattern", "detail": f"does not match {spec.pattern}"}
        )
    return checks


@dataclass(frozen=True)
class CompiledEvent:
    spec: EventSpec
    checks: dict[str, list[PropertyCheck]]
    required: tuple[str, ...]


class PlanValidator:
    """Validates envelopes of one app against its plan (already parsed; compile once, call many times)."""

    def __init__(self, plan: AppPlan):
        self.plan = plan
        self.events = {
            name: CompiledEvent(
                spec=spec,
                checks={prop.name: _compile_property(prop) for prop in spec.properties},
                required=tuple(prop.name for prop in spec.properties if prop.required),
            )
            for name, spec in plan.events.items()
        }

    def validate(self, event_name: str, props: dict[str, Any]) -> Verdict:
        verdict = Verdict(plan_version=self.plan.version)
        compiled = self.events.get(event_name)
        if compiled is None:
            verdict.escalate(
                self.plan.policy.undeclared_events,
                {"field": "event", "rule": "undeclared_event", "detail": f"{event_name!r} is not in plan v{self.plan.version}"},
            )
            return verdict
        for name in compiled.required:
            if props.get(name) is None:
                verdict.escalate(QUARANTINE, {"field": f"props.{name}", "rule": "required", "detail": "missing"})
        for name, value in props.items():
            checks = compiled.checks.get(name)
            if checks is None:
                verdict.escalate(
                    self.plan.policy.undeclared_properties,
                    {"field": f"props.{name}", "rule": "undeclared_property", "detail": f"{event_name} does not declare it"},
                )
                continue
            if value is None:
                continue
            for check in checks:
                reason = check(value)
                if reason is not None:
                    verdict.escalate(QUARANTINE, reason)
                    break  # later rules assume the type was right
        return verdict


class PlanBook:
    """Validators for every app with a plan. An app without a plan has nothing to validate against: its events
    are accepted and flagged `no_plan` so the health report can show them."""

    def __init__(self, plans: dict[str, AppPlan]):
        self.validators = {app_id: PlanValidator(plan) for app_id, plan in plans.items()}

    def validate(self, app_id: str, event_name: str, props: dict[str, Any]) -> Verdict:
        validator = self.validators.get(app_id)
        if validator is None:
            return Verdict(flags=["no_plan"])
        return validator.validate(event_name, props)
