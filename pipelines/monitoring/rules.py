"""alerts.yaml: the versioned alert rules and where notifications go, validated when loaded.

Each rule watches one catalogued metric (pipelines/monitoring/catalogue.py), optionally narrowed by label matchers
and aggregated by labels (`sum`/`max`/`min` by ...), compares it with a threshold, and fires once the comparison
has held for its `for` duration. Problems are reported together, each with the rule and field it concerns:
an unknown metric, a bad duration or priority, a label the metric does not have, an unknown receiver format.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipelines.monitoring.catalogue import METRICS

PRIORITIES = ("P1", "P2", "P3")
FORMATS = ("generic", "wecom", "dingtalk", "feishu", "slack")
OPERATORS = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__, "==": float.__eq__, "!=": float.__ne__}
DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
RULE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class AlertsConfigError(ValueError):
    """alerts.yaml does not load; the message lists every problem, one per line."""


def parse_duration(text: str | int | float) -> float:
    """`30s`, `5m`, `1h30m`, or a number of seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if text < 0:
            raise ValueError(f"duration {text} is negative")
        return float(text)
    match = DURATION.match(str(text).strip())
    if not match or not any(match.groups()):
        raise ValueError(f"duration {text!r} is not like 30s, 5m, 1h or 1h30m")
    hours, minutes, seconds = (int(group or 0) for group in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def format_duration(seconds: float) -> str:
    """The Prometheus spelling of a duration (`1h30m`, `45s`, `0s`)."""
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
    return text or "0s"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Strict):
    name: str
    priority: Literal["P1", "P2", "P3"]
    metric: str
    op: Literal[">", ">=", "<", "<=", "==", "!="]
    threshold: float
    for_s: float = Field(0.0, alias="for")
    match: dict[str, str] = {}  # label -> exact value the series must have
    aggregate: Literal["sum", "max", "min"] | None = None
    by: tuple[str, ...] = ()
    summary: str
    runbook: str  # anchor of the rule's section in docs/operations.md
    labels: dict[str, str] = {}

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not RULE_NAME.match(value):
            raise ValueError(f"rule name {value!r} must be lower_snake_case")
        return value

    @field_validator("priority", mode="before")
    @classmethod
    def _priority(cls, value):
        if value not in PRIORITIES:
            raise ValueError(f"priority {value!r} is not one of {', '.join(PRIORITIES)}")
        return value

    @field_validator("for_s", mode="before")
    @classmethod
    def _for(cls, value):
        return parse_duration(value)

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        if value not in METRICS:
            close = [name for name in METRICS if value.split("_")[1:2] == name.split("_")[1:2]]
            hint = f"; metrics of that stage: {', '.join(close)}" if close else ""
            raise ValueError(f"unknown metric {value!r} (pipelines/monitoring/catalogue.py lists them){hint}")
        return value

    @model_validator(mode="after")
    def _labels(self) -> "Rule":
        known = set(METRICS[self.metric].labels)
        for label in (*self.match, *self.by):
            if label not in known:
                raise ValueError(f"metric {self.metric} has no label {label!r} (it has: {', '.join(sorted(known)) or 'none'})")
        if self.by and not self.aggregate:
            raise ValueError("`by` needs an `aggregate` (sum, max or min)")
        return self

    def holds(self, value: float) -> bool:
        return OPERATORS[self.op](float(value), self.threshold)


class Receiver(_Strict):
    name: str
    format: str
    url: str = ""
    url_env: str = ""  # the URL (a bot's token is in it) from this environment variable instead
    secret_env: str = ""  # DingTalk / Feishu signing secret, from this environment variable
    priorities: tuple[Literal["P1", "P2", "P3"], ...] = PRIORITIES

    @field_validator("format")
    @classmethod
    def _format(cls, value: str) -> str:
        if value not in FORMATS:
            raise ValueError(f"format {value!r} is not one of {', '.join(FORMATS)}")
        return value

    @model_validator(mode="after")
    def _where(self) -> "Receiver":
        if bool(self.url) == bool(self.url_env):
            raise ValueError("give exactly one of `url` and `url_env`")
        return self

    def resolved_url(self) -> str:
        return self.url or os.environ.get(self.url_env, "")

    def secret(self) -> str:
        return os.environ.get(self.secret_env, "") if self.secret_env else ""


class AlertsConfig(_Strict):
    version: int
    board_url: str
    runbook_url: str  # base of the runbook links; a rule's `runbook` anchor is appended after '#'
    rules: tuple[Rule, ...]
    receivers: tuple[Receiver, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> "AlertsConfig":
        for kind, names in (("rule", [r.name for r in self.rules]), ("receiver", [r.name for r in self.receivers])):
            doubled = sorted({n for n in names if names.count(n) > 1})
            if doubled:
                raise ValueError(f"{kind} names used twice: {', '.join(doubled)}")
        return self

    def rule(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)

    def runbook_link(self, rule: Rule) -> str:
        return f"{self.runbook_url}#{rule.runbook}"


def configured_path(configured: Path) -> Path:
    """The alerts file setting; a relative one that is not there (a command run outside the checkout) falls back to
    the one shipped beside the package, so the stack's `alerts` component starts wherever `trackflow up` runs."""
    path = Path(configured)
    shipped = Path(__file__).resolve().parents[2] / path
    return shipped if not path.is_absolute() and not path.exists() and shipped.exists() else path


def load(path: Path) -> AlertsConfig:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise AlertsConfigError(f"{path}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise AlertsConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise AlertsConfigError(f"{path}: expected a mapping with version, board_url, runbook_url, rules")
    try:
        return AlertsConfig.model_validate(data)
    except ValidationError as exc:
        raise AlertsConfigError(f"{path}:\n" + "\n".join(_describe(error, data) for error in exc.errors())) from None


def _describe(error: dict, data: dict) -> str:
    """`rules[2] (spool_growing).for: duration '5 minutes' is not like 30s, ...`: the position, the rule's name."""
    location = error["loc"]
    parts = []
    node = data
    for index, key in enumerate(location):
        if isinstance(key, int):
            parts[-1] += f"[{key}]"
            item = node[key] if isinstance(node, list) and key < len(node) else None
            if isinstance(item, dict) and "name" in item and index == 1:
                parts[-1] += f" ({item['name']})"
            node = item
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
    message = error["msg"].removeprefix("Value error, ")
    return f"  {'.'.join(parts) or '(top)'}: {message}"
