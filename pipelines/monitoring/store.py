"""The monitoring tables (sql/migrations/0042_monitoring.sql): reads and writes of alert history, silences and the
per-minute samples. The alerts component writes samples and state changes; the CLI writes silences and acks."""

from __future__ import annotations

import datetime as dt
import uuid

from pipelines.monitoring.engine import Alert, Silence, Transition

HISTORY_COLUMNS = ("at", "rule", "priority", "fingerprint", "labels", "state", "value", "notified", "actor", "note")
SILENCE_COLUMNS = ("silence_id", "rule", "matchers", "starts_at", "ends_at", "reason", "created_by")
SAMPLE_COLUMNS = ("minute", "metric", "labels", "value")
SYNC = {"async_insert": 0}  # read back at once by the next round (or the CLI that just wrote)


def _utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc)


def record_transitions(warehouse, changes: list[Transition], actor: str = "alerts") -> None:
    rows = [
        [_utc(c.at), c.alert.rule, c.alert.priority, c.alert.fingerprint, dict(c.alert.labels), c.state, c.alert.value, int(c.notify), actor, ""]
        for c in changes
    ]
    if rows:
        warehouse.insert("alert_history", rows, HISTORY_COLUMNS, settings=SYNC)


def record_samples(warehouse, minute: float, samples: dict[str, list[tuple[dict[str, str], float]]]) -> int:
    rows = [[_utc(minute), metric, labels, value] for metric, series in samples.items() for labels, value in series]
    if rows:
        warehouse.insert("monitoring_samples", rows, SAMPLE_COLUMNS, settings=SYNC)
    return len(rows)


LATEST_SQL = """
SELECT fingerprint, argMax(rule, at), argMax(priority, at), argMax(labels, at), argMax(state, at), argMax(value, at),
       max(at), maxIf(at, state = 'firing'), maxIf(at, state = 'acknowledged'), argMaxIf(notified, at, state IN ('firing', 'silenced'))
FROM alert_history
WHERE at >= now64(3) - INTERVAL 30 DAY
GROUP BY fingerprint
"""


def open_alerts(warehouse) -> list[Alert]:
    """Alerts whose latest state change is not a resolution (firing, silenced, acknowledged), as the component left
    them: on a restart they are restored, not announced again."""
    found = []
    for fp, rule, priority, labels, state, value, _, fired_at, acked_at, notified in warehouse.rows(LATEST_SQL):
        if state in ("resolved", "pending"):
            continue
        found.append(
            Alert(
                rule, priority, tuple(sorted(labels.items())), "firing", fired_at.replace(tzinfo=dt.timezone.utc).timestamp(), float(value),
                notified=bool(notified), silenced=state == "silenced", acknowledged=acked_at >= fired_at and acked_at.year > 1970,
            )
        )  # fmt: skip
    return found


def acknowledge(warehouse, alerts: list[Alert], actor: str, note: str) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    rows = [[now, a.rule, a.priority, a.fingerprint, dict(a.labels), "acknowledged", a.value, 0, actor, note] for a in alerts]
    if rows:
        warehouse.insert("alert_history", rows, HISTORY_COLUMNS, settings=SYNC)


def add_silence(warehouse, rule: str, matchers: dict[str, str], seconds: float, reason: str, actor: str) -> Silence:
    now = dt.datetime.now(dt.timezone.utc)
    silence = Silence(uuid.uuid4().hex[:12], rule, matchers, now.timestamp(), now.timestamp() + seconds, reason, actor)
    warehouse.insert("alert_silences", [[silence.silence_id, rule, matchers, now, _utc(silence.ends_at), reason, actor]], SILENCE_COLUMNS, settings=SYNC)
    return silence


def active_silences(warehouse, now: float) -> list[Silence]:
    rows = warehouse.rows(
        "SELECT silence_id, rule, matchers, starts_at, ends_at, reason, created_by FROM alert_silences FINAL "
        "WHERE ends_at > {now:DateTime64(3, 'UTC')}",
        {"now": _utc(now)},
    )
    return [
        Silence(sid, rule, dict(matchers), start.replace(tzinfo=dt.timezone.utc).timestamp(), end.replace(tzinfo=dt.timezone.utc).timestamp(), reason, by)
        for sid, rule, matchers, start, end, reason, by in rows
    ]


def acknowledgements(warehouse) -> dict[str, float]:
    """fingerprint -> the latest acknowledgement (epoch s), over the last day."""
    rows = warehouse.rows(
        "SELECT fingerprint, max(at) FROM alert_history WHERE state = 'acknowledged' AND at >= now64(3) - INTERVAL 1 DAY GROUP BY fingerprint"
    )
    return {fp: at.replace(tzinfo=dt.timezone.utc).timestamp() for fp, at in rows}
