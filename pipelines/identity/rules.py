"""identity.yaml -> validated, versioned rules: how each touchpoint id type is normalised, blocked and limited.

A value goes through one function, `Rules.normalise`, everywhere (real-time job, offline recompute, lookup
service, CLI), so "ABC " looked up by an analyst is the same id the job linked.
"""

from __future__ import annotations

import hashlib
import re
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DAY_MS = 86_400_000
# Node keys are "type:value" (the same shape as the detail table's person_id): a type never contains the separator.
NODE_SEPARATOR = ":"
TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class RulesError(ValueError):
    """identity.yaml is missing or invalid; the message names the file and the field."""


class Blocklist(BaseModel):
    model_config = ConfigDict(extra="forbid")
    values: list[str] = Field(default_factory=list, description="junk values, compared case-insensitively")
    regexes: list[str] = Field(default_factory=list, description="junk patterns, full match on the normalised value")

    @field_validator("regexes")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"regex {pattern!r} does not compile: {exc}") from None
        return patterns


class IdTypeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    priority: int = Field(..., ge=0, description="lower = stronger; anchors new persons")
    unique: bool = Field(False, description="a person holds at most one value of this type")
    max_per_person: int = Field(0, ge=0, description="most values per person within window_days (0: no limit)")
    window_days: int | None = Field(None, ge=1)
    ttl_days: int | None = Field(None, ge=0)
    case: Literal["lower", "upper", "preserve"] = "preserve"
    blocklist: Blocklist = Field(default_factory=Blocklist)


class UnknownTypes(IdTypeSpec):
    accept: bool = True
    priority: int = 100


class Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")
    blocklist: Blocklist = Field(default_factory=Blocklist)
    window_days: int = Field(30, ge=1)
    ttl_days: int = Field(0, ge=0)


class RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(..., ge=1)
    defaults: Defaults = Field(default_factory=Defaults)
    id_types: dict[str, IdTypeSpec]
    unknown_types: UnknownTypes = Field(default_factory=UnknownTypes)

    @field_validator("id_types")
    @classmethod
    def _names(cls, types: dict[str, IdTypeSpec]) -> dict[str, IdTypeSpec]:
        if not types:
            raise ValueError("at least one id type is needed")
        for name in types:
            if not TYPE_NAME.match(name):
                raise ValueError(f"id type {name!r}: lower-case letters, digits and _ only")
        return types


class TypeRule:
    """The effective rule of one id type: its own settings over the file's defaults, regexes compiled once."""

    __slots__ = ("name", "priority", "unique", "max_per_person", "window_ms", "ttl_ms", "case", "blocked_values", "blocked_pattern")

    def __init__(self, name: str, spec: IdTypeSpec, defaults: Defaults):
        self.name = name
        self.priority = spec.priority
        self.unique = spec.unique
        self.max_per_person = spec.max_per_person
        self.window_ms = (spec.window_days or defaults.window_days) * DAY_MS
        ttl_days = defaults.ttl_days if spec.ttl_days is None else spec.ttl_days
        self.ttl_ms = ttl_days * DAY_MS
        self.case = spec.case
        self.blocked_values = frozenset(v.casefold() for v in defaults.blocklist.values + spec.blocklist.values)
        patterns = defaults.blocklist.regexes + spec.blocklist.regexes
        self.blocked_pattern = re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None

    def normalise(self, value: object) -> str:
        text = str(value).strip()
        if self.case == "lower":
            return text.lower()
        if self.case == "upper":
            return text.upper()
        return text

    def block_reason(self, value: str) -> str | None:
        """Why a normalised value is junk, or None."""
        if value.casefold() in self.blocked_values:
            return "blocked_value"
        if self.blocked_pattern is not None and self.blocked_pattern.fullmatch(value):
            return "blocked_regex"
        return None


class Rules:
    """Validated rules plus their identity: `version` from the file and a content `digest`."""

    def __init__(self, parsed: RulesFile, digest: str, source: str = "<memory>"):
        self.parsed = parsed
        self.version = parsed.version
        self.digest = digest
        self.source = source
        self.types = {name: TypeRule(name, spec, parsed.defaults) for name, spec in parsed.id_types.items()}
        self._unknown_spec = parsed.unknown_types
        self._unknown: dict[str, TypeRule] = {}

    @property
    def label(self) -> str:
        """What decisions are stamped with: `v3@1a2b3c4d`."""
        return f"v{self.version}@{self.digest[:8]}"

    def rule(self, id_type: str) -> TypeRule | None:
        found = self.types.get(id_type)
        if found is not None:
            return found
        if not self._unknown_spec.accept or not TYPE_NAME.match(id_type):
            return None
        found = self._unknown.get(id_type)
        if found is None:
            found = self._unknown[id_type] = TypeRule(id_type, self._unknown_spec, self.parsed.defaults)
        return found

    def normalise(self, id_type: str, value: object) -> tuple[str | None, str | None]:
        """(node key, None) for a usable id, or (None, reason) for one that must not enter the graph."""
        if value is None:
            return None, "empty"
        rule = self.rule(id_type)
        if rule is None:
            return None, "unknown_type"
        text = rule.normalise(value)
        if not text:
            return None, "empty"
        reason = rule.block_reason(text)
        if reason:
            return None, reason
        return f"{id_type}{NODE_SEPARATOR}{text}", None

    def priority(self, node: str) -> int:
        rule = self.rule(node_type(node))
        return rule.priority if rule else 1_000_000

    @cached_property
    def unique_types(self) -> tuple[str, ...]:
        return tuple(name for name, rule in self.types.items() if rule.unique)

    @cached_property
    def limited_types(self) -> tuple[TypeRule, ...]:
        return tuple(rule for rule in self.types.values() if rule.max_per_person)

    @cached_property
    def expires(self) -> bool:
        """Whether any id type (a listed one, or an unknown one when those are accepted) has a TTL."""
        unknown = self._unknown_spec.accept and TypeRule("unknown", self._unknown_spec, self.parsed.defaults).ttl_ms
        return any(rule.ttl_ms for rule in self.types.values()) or bool(unknown)


def node_type(node: str) -> str:
    return node.partition(NODE_SEPARATOR)[0]


def node_value(node: str) -> str:
    return node.partition(NODE_SEPARATOR)[2]


def parse_rules(text: str, source: str = "<memory>") -> Rules:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise RulesError(f"{source}: expected a mapping with version and id_types")
    try:
        parsed = RulesFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise RulesError(f"{source}: {problems}") from None
    return Rules(parsed, hashlib.sha256(text.encode()).hexdigest(), source)


def load_rules(path: Path) -> Rules:
    if not path.exists():
        raise RulesError(f"identity rules file {path} not found (set TRACKFLOW_IDENTITY_RULES)")
    return parse_rules(path.read_text(), str(path))
