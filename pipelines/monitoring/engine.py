"""The alert state machine, pure: given the rules, the metrics sampled now and the silences in force, what changed.

Per rule and series (a label set after the rule's match/aggregate): inactive -> pending when the condition first
holds, pending -> firing once it has held for the rule's `for`, pending -> inactive or firing -> resolved when it no
longer holds. A notification goes out on a change only (firing, then resolved), never per evaluation; a firing alert
under a silence is recorded but not notified, and is notified if it still fires when the silence ends; a resolution
is notified only when its firing was. Rules whose metric could not be sampled this round keep their state: an
unreachable source is its own alert (`*_up` rules), not a false recovery.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

from pipelines.monitoring.rules import Rule

Labels = tuple[tuple[str, str], ...]
# One sampled value: the metric's labels and the value.
Sample = tuple[dict[str, str], float]


def fingerprint(rule: str, labels: Labels) -> str:
    text = rule + "|" + ",".join(f"{k}={v}" for k, v in labels)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Silence:
    silence_id: str
    rule: str  # "" matches every rule
    matchers: dict[str, str]
    starts_at: float
    ends_at: float
    reason: str = ""
    created_by: str = ""

    def covers(self, rule: str, labels: Labels, now: float) -> bool:
        if not self.starts_at <= now < self.ends_at or (self.rule and self.rule != rule):
            return False
        present = dict(labels)
        return all(present.get(key) == value for key, value in self.matchers.items())


@dataclass
class Alert:
    rule: str
    priority: str
    labels: Labels
    state: str  # pending | firing
    since: float  # when the condition started to hold (pending) or the alert fired
    value: float
    notified: bool = False  # its firing was sent (so its resolution will be)
    silenced: bool = False
    acknowledged: bool = False

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.rule, self.labels)


@dataclass(frozen=True)
class Transition:
    """A change worth a line in the history; `notify` says whether receivers hear of it."""

    alert: Alert
    state: str  # pending | firing | resolved | silenced
    at: float
    notify: bool


def series(rule: Rule, samples: list[Sample]) -> dict[Labels, float]:
    """The values the rule compares: the metric's samples narrowed by `match`, aggregated by `by` when asked."""
    chosen = [(labels, value) for labels, value in samples if all(labels.get(k) == v for k, v in rule.match.items())]
    if not rule.aggregate:
        return {tuple(sorted(labels.items())): value for labels, value in chosen}
    groups: dict[Labels, list[float]] = {}
    for labels, value in chosen:
        groups.setdefault(tuple((key, labels.get(key, "")) for key in rule.by), []).append(value)
    combine = {"sum": sum, "max": max, "min": min}[rule.aggregate]
    return {key: float(combine(values)) for key, values in groups.items()}


@dataclass
class Evaluator:
    rules: tuple[Rule, ...]
    alerts: dict[str, Alert] = field(default_factory=dict)  # by fingerprint

    def step(self, now: float, samples: dict[str, list[Sample]], silences: list[Silence], unavailable: set[str] = frozenset()) -> list[Transition]:
        """One evaluation round. `samples`: metric name -> its series now; `unavailable`: metrics whose source failed
        this round (their rules keep their state)."""
        changes: list[Transition] = []
        for rule in self.rules:
            if rule.metric in unavailable:
                continue
            values = series(rule, samples.get(rule.metric, []))
            holding = {labels: value for labels, value in values.items() if rule.holds(value)}
            for labels, value in holding.items():
                changes.extend(self._holds(rule, labels, value, now, silences))
            for key, alert in list(self.alerts.items()):
                if alert.rule == rule.name and alert.labels not in holding:
                    changes.extend(self._clears(key, alert, now))
        return changes

    def _holds(self, rule: Rule, labels: Labels, value: float, now: float, silences: list[Silence]) -> list[Transition]:
        key = fingerprint(rule.name, labels)
        alert = self.alerts.get(key)
        silenced = any(s.covers(rule.name, labels, now) for s in silences)
        if alert is None:
            alert = self.alerts[key] = Alert(rule.name, rule.priority, labels, "pending", now, value)
            if rule.for_s > 0:
                return [Transition(replace(alert), "pending", now, notify=False)]
        alert.value = value
        if alert.state == "pending" and now - alert.since >= rule.for_s:
            alert.state, alert.since, alert.silenced = "firing", now, silenced
            alert.notified = not silenced
            return [Transition(replace(alert), "silenced" if silenced else "firing", now, notify=not silenced)]
        if alert.state == "firing" and alert.silenced != silenced:
            alert.silenced = silenced
            if silenced:
                return [Transition(replace(alert), "silenced", now, notify=False)]
            first = not alert.notified  # fired under the silence: this is the first time receivers hear of it
            alert.notified = True
            return [Transition(replace(alert), "firing", now, notify=first)]
        return []

    def _clears(self, key: str, alert: Alert, now: float) -> list[Transition]:
        del self.alerts[key]
        if alert.state == "pending":
            return []
        return [Transition(replace(alert), "resolved", now, notify=alert.notified and not alert.silenced)]

    def acknowledge(self, acknowledged: dict[str, float]) -> None:
        """fingerprint -> when someone acknowledged it: an acknowledgement counts for the firing it came after."""
        for key, at in acknowledged.items():
            alert = self.alerts.get(key)
            if alert is not None and alert.state == "firing" and at >= alert.since:
                alert.acknowledged = True

    def restore(self, alert: Alert) -> None:
        """A firing alert from the history (the component restarted): it is not announced again."""
        self.alerts[alert.fingerprint] = alert
