"""Tracking plan files: one YAML file per app in `plans/`, parsed into frozen dataclasses.

A plan file looks like (full reference in docs/collector.md):

    app_id: demo-shop
    version: 3
    policy: {undeclared_events: quarantine, undeclared_properties: accept}
    events:
      pay:
        description: An order was paid
        properties:
          amount: {type: number, required: true, min: 0}
          currency: {type: string, enum: [CNY, USD]}

Loading never raises a bare exception: every problem becomes a `PlanError` naming the file and the field.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROPERTY_TYPES = ("string", "integer", "number", "boolean", "array", "object")
POLICIES = ("accept", "quarantine", "reject")
_PROPERTY_KEYS = {"type", "required", "enum", "min", "max", "max_length", "pattern", "description"}
_NAME = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$.\-]{0,99}$")


class PlanError(ValueError):
    """A plan file that cannot be used, with the place of the problem in its message."""


@dataclass(frozen=True)
class PropertySpec:
    name: str
    type: str
    required: bool = False
    enum: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    max_length: int | None = None
    pattern: str | None = None
    description: str = ""


@dataclass(frozen=True)
class EventSpec:
    name: str
    description: str = ""
    properties: tuple[PropertySpec, ...] = ()


@dataclass(frozen=True)
class Policy:
    """What happens to events the plan does not declare, and to properties an event does not declare.
    Events that break a declared rule (type, enum, range, required) are always quarantined."""

    undeclared_events: str = "quarantine"
    undeclared_properties: str = "accept"


@dataclass(frozen=True)
class AppPlan:
    app_id: str
    version: int
    policy: Policy
    events: dict[str, EventSpec] = field(default_factory=dict)
    source: str = ""

    @property
    def fingerprint(self) -> str:
        """Content hash: two plans with the same version but different content are told apart."""
        return hashlib.sha256(json.dumps(plan_to_dict(self), sort_keys=True).encode()).hexdigest()[:16]


def plan_to_dict(plan: AppPlan) -> dict[str, Any]:
    return {
        "app_id": plan.app_id,
        "version": plan.version,
        "policy": {"undeclared_events": plan.policy.undeclared_events, "undeclared_properties": plan.policy.undeclared_properties},
        "events": {
            name: {
                "description": spec.description,
                "properties": {
                    prop.name: {
                        key: value
                        for key, value in (
                            ("type", prop.type), ("required", prop.required),
                            ("enum", list(prop.enum) if prop.enum is not None else None), ("min", prop.min),
                            ("max", prop.max), ("max_length", prop.max_length), ("pattern", prop.pattern),
                            ("description", prop.description),
                        )
                        if value not in (None, "", False)
                    }
                    for prop in spec.properties
                },
            }
            for name, spec in sorted(plan.events.items())
        },
    }  # fmt: skip


def parse_plan(document: Any, source: str = "<plan>") -> AppPlan:
    if not isinstance(document, dict):
        raise PlanError(f"{source}: a plan is a mapping with app_id, version, policy and events")
    unknown = set(document) - {"app_id", "version", "policy", "events", "description"}
    if unknown:
        raise PlanError(f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))}")
    app_id = document.get("app_id")
    if not isinstance(app_id, str) or not app_id:
        raise PlanError(f"{source}: app_id must be a non-empty string")
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise PlanError(f"{source}: version must be a positive integer (raise it on every change)")
    policy = _parse_policy(document.get("policy") or {}, source)
    events_doc = document.get("events") or {}
    if not isinstance(events_doc, dict):
        raise PlanError(f"{source}: events must be a mapping of event name -> definition")
    events = {name: _parse_event(name, body or {}, f"{source}: events.{name}") for name, body in events_doc.items()}
    return AppPlan(app_id=app_id, version=version, policy=policy, events=events, source=source)


def _parse_policy(doc: Any, source: str) -> Policy:
    if not isinstance(doc, dict):
        raise PlanError(f"{source}: policy must be a mapping")
    unknown = set(doc) - {"undeclared_events", "undeclared_properties"}
    if unknown:
        raise PlanError(f"{source}: unknown policy key(s) {', '.join(sorted(unknown))}")
    values = {}
    for key in ("undeclared_events", "undeclared_properties"):
        value = doc.get(key, getattr(Policy, key))
        if value not in POLICIES:
            raise PlanError(f"{source}: policy.{key} must be one of {', '.join(POLICIES)}, not {value!r}")
        values[key] = value
    return Policy(**values)


def _parse_event(name: Any, doc: Any, where: str) -> EventSpec:
    if not isinstance(name, str) or not _NAME.match(name):
        raise PlanError(f"{where}: event names are 1-100 letters, digits, _ $ . -")
    if not isinstance(doc, dict) or set(doc) - {"description", "properties"}:
        raise PlanError(f"{where}: an event has only description and properties")
    props_doc = doc.get("properties") or {}
    if not isinstance(props_doc, dict):
        raise PlanError(f"{where}.properties must be a mapping of property name -> schema")
    properties = tuple(_parse_property(prop, body, f"{where}.properties.{prop}") for prop, body in props_doc.items())
    return EventSpec(name=name, description=str(doc.get("description") or ""), properties=properties)


def _parse_property(name: Any, doc: Any, where: str) -> PropertySpec:
    if isinstance(doc, str):  # shorthand `price: number`
        doc = {"type": doc}
    if not isinstance(name, str) or not _NAME.match(name):
        raise PlanError(f"{where}: property names are 1-100 letters, digits, _ $ . -")
    if not isinstance(doc, dict):
        raise PlanError(f"{where}: a property is a type name or a mapping with a type")
    unknown = set(doc) - _PROPERTY_KEYS
    if unknown:
        raise PlanError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_PROPERTY_KEYS))}")
    kind = doc.get("type")
    if kind not in PROPERTY_TYPES:
        raise PlanError(f"{where}.type must be one of {', '.join(PROPERTY_TYPES)}, not {kind!r}")
    enum = doc.get("enum")
    if enum is not None and (not isinstance(enum, list) or not enum):
        raise PlanError(f"{where}.enum must be a non-empty list")
    for bound in ("min", "max"):
        value = doc.get(bound)
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            raise PlanError(f"{where}.{bound} must be a number")
        if value is not None and kind not in ("integer", "number"):
            raise PlanError(f"{where}.{bound} applies to integer and number properties; use max_length for {kind}")
    if doc.get("min") is not None and doc.get("max") is not None and doc["min"] > doc["max"]:
        raise PlanError(f"{where}.min ({doc['min']}) is above max ({doc['max']}): no value could pass")
    pattern = doc.get("pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise PlanError(f"{where}.pattern is not a valid regular expression: {exc}") from None
    max_length = doc.get("max_length")
    if max_length is not None and (not isinstance(max_length, int) or max_length < 0):
        raise PlanError(f"{where}.max_length must be a non-negative integer")
    return PropertySpec(
        name=name,
        type=kind,
        required=bool(doc.get("required", False)),
        enum=tuple(enum) if enum is not None else None,
        min=doc.get("min"),
        max=doc.get("max"),
        max_length=max_length,
        pattern=pattern,
        description=str(doc.get("description") or ""),
    )


def load_plan_file(path: Path) -> AppPlan:
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise PlanError(f"{path}: not valid YAML ({exc.__class__.__name__}: {str(exc).splitlines()[0]})") from None
    except OSError as exc:
        raise PlanError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_plan(document, str(path))


def load_plans(folder: Path) -> dict[str, AppPlan]:
    """Every `*.yaml`/`*.yml` plan in a folder, by app_id. Two files for one app is an error."""
    if not folder.is_dir():
        raise PlanError(f"{folder}: plan folder does not exist")
    plans: dict[str, AppPlan] = {}
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        plan = load_plan_file(path)
        if plan.app_id in plans:
            raise PlanError(f"{path}: app {plan.app_id!r} already has a plan in {plans[plan.app_id].source}")
        plans[plan.app_id] = plan
    return plans


def resolve_plan_dir(configured: Path) -> Path:
    """A relative plan dir is looked up from the working directory, then from the repository root, so the
    collector finds the demo plans whichever directory the stack was started from."""
    if configured.is_absolute() or configured.exists():
        return configured
    in_repo = Path(__file__).resolve().parents[2] / configured
    return in_repo if in_repo.exists() else configured
