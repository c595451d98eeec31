"""`trackflow alerts list / test / silence / ack`: the rules and their state, a test notification, silences and
acknowledgements. Every command validates alerts.yaml first and names each problem (file, rule, field)."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipelines.cli_errors import fail
from pipelines.config import get_settings

app = typer.Typer(no_args_is_help=True, help="Alert rules (alerts.yaml), their state, silences and acknowledgements.")
console = Console()
FILE_OPTION = typer.Option(None, "--file", help="alert rules file (default: TRACKFLOW_ALERTS_FILE, alerts.yaml)")


def _config(path: Path | None):
    from pipelines.monitoring.rules import AlertsConfigError, configured_path, load

    try:
        return load(path or configured_path(get_settings().alerts_file))
    except AlertsConfigError as exc:
        fail(str(exc))


def _warehouse():
    from pipelines.warehouse.client import Warehouse

    return Warehouse(get_settings())


def _when(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _labels(labels) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(dict(labels).items())) or "-"


@app.command("list")
def list_alerts(file: Path = FILE_OPTION) -> None:
    """The rules, the alerts open now (from the running component, else the warehouse's history) and the silences."""
    from pipelines.monitoring import store
    from pipelines.monitoring.rules import format_duration

    config = _config(file)
    rules = Table("rule", "priority", "condition", "for", "runbook")
    for rule in config.rules:
        aggregate = f"{rule.aggregate} by ({', '.join(rule.by)}) " if rule.aggregate else ""
        match = f"{{{_labels(rule.match)}}}" if rule.match else ""
        rules.add_row(rule.name, rule.priority, escape(f"{aggregate}{rule.metric}{match} {rule.op} {rule.threshold:g}"), format_duration(rule.for_s), rule.runbook)
    console.print(rules)
    warehouse = _warehouse()
    try:
        now = time.time()
        open_alerts = store.open_alerts(warehouse)
        acknowledged = store.acknowledgements(warehouse)
        silences = store.active_silences(warehouse, now)
    finally:
        warehouse.close()
    table = Table("fingerprint", "rule", "priority", "state", "since (UTC)", "value", "labels")
    for alert in sorted(open_alerts, key=lambda a: (a.priority, a.since)):
        acked = acknowledged.get(alert.fingerprint, 0) >= alert.since
        state = "silenced" if alert.silenced else ("acknowledged" if acked else "firing")
        table.add_row(alert.fingerprint, alert.rule, alert.priority, state, _when(alert.since), f"{alert.value:g}", escape(_labels(alert.labels)))
    console.print(table if open_alerts else "no alert is firing")
    if silences:
        shown = Table("silence", "rule", "labels", "until (UTC)", "reason", "by")
        for s in silences:
            shown.add_row(s.silence_id, s.rule or "(any)", escape(_labels(s.matchers)), _when(s.ends_at), escape(s.reason), escape(s.created_by))
        console.print(shown)


@app.command("test")
def test(
    rule: str = typer.Option("", help="the rule the test notice is about (default: the first rule)"),
    receiver: str = typer.Option("", help="send to this receiver only"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print each receiver's request instead of sending it"),
    file: Path = FILE_OPTION,
) -> None:
    """Validate alerts.yaml, then send a test notice (state `test`) to every receiver, or print what would be sent."""
    from pipelines.monitoring.notify import FORMATTERS, Notice, Sender

    config = _config(file)
    console.print(f"{len(config.rules)} rules and {len(config.receivers)} receivers are valid")
    names = [r.name for r in config.rules]
    if rule and rule not in names:
        fail(f"unknown rule {rule!r}; alerts.yaml has: {', '.join(names)}")
    chosen = config.rule(rule or names[0])
    receivers = [r for r in config.receivers if not receiver or r.name == receiver]
    if receiver and not receivers:
        fail(f"unknown receiver {receiver!r}; alerts.yaml has: {', '.join(r.name for r in config.receivers) or 'none'}")
    now = time.time()
    notice = Notice(
        rule=chosen.name, priority=chosen.priority, state="test", summary=chosen.summary, labels={"test": "true"}, value=0.0,
        threshold=f"{chosen.op} {chosen.threshold:g}", at=now, since=now, fingerprint="test", board_url=config.board_url,
        runbook_url=config.runbook_link(chosen),
    )  # fmt: skip
    failed = 0
    sender = Sender(delays=(1.0,))
    try:
        for target in receivers:
            if dry_run:
                request = FORMATTERS[target.format](notice, target.resolved_url() or f"${target.url_env}", target.secret())
                console.print(f"{target.name} ({target.format}) POST {escape(request.url)}", highlight=False)
                console.print_json(json.dumps(request.body, ensure_ascii=False))
                continue
            problem = sender.send(target, notice)
            failed += problem is not None
            console.print(f"{target.name}: {'sent' if problem is None else escape(problem)}", highlight=False)
    finally:
        sender.close()
    if not receivers:
        console.print("no receivers configured: nothing sent")
    if failed:
        fail(f"{failed} of {len(receivers)} receivers did not take the test notice")


def _matchers(labels: list[str]) -> dict[str, str]:
    matchers = {}
    for item in labels:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--label {item!r} is not NAME=VALUE")
        matchers[key.strip()] = value.strip()
    return matchers


@app.command("silence")
def silence(
    rule: str = typer.Option("", help="the rule to silence (default: any rule whose labels match)"),
    label: list[str] = typer.Option([], "--label", help="NAME=VALUE the alert's labels must have (repeatable)"),
    duration: str = typer.Option(..., "--for", help="how long: 30m, 2h, 1h30m"),
    reason: str = typer.Option(..., help="why (shown in `alerts list` and the history)"),
    file: Path = FILE_OPTION,
) -> None:
    """Silence matching alerts for a while: they are still evaluated and recorded, not notified."""
    from pipelines.monitoring import store
    from pipelines.monitoring.rules import parse_duration

    config = _config(file)
    matchers = _matchers(label)
    if not rule and not matchers:
        fail("a silence needs --rule or at least one --label (a silence of everything hides real outages)")
    if rule and rule not in {r.name for r in config.rules}:
        fail(f"unknown rule {rule!r}; alerts.yaml has: {', '.join(r.name for r in config.rules)}")
    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        fail(f"--for: {exc}")
    if seconds <= 0:
        fail("--for must be longer than 0s")
    warehouse = _warehouse()
    try:
        made = store.add_silence(warehouse, rule, matchers, seconds, reason, getpass.getuser())
    finally:
        warehouse.close()
    console.print(f"silence {made.silence_id}: {rule or '(any rule)'} {escape(_labels(matchers))} until {_when(made.ends_at)} UTC", highlight=False)


@app.command("ack")
def ack(
    alert: str = typer.Argument(..., help="a rule name (all its open alerts) or an alert's fingerprint (`alerts list`)"),
    note: str = typer.Option("", help="what is being done about it"),
) -> None:
    """Acknowledge open alerts: recorded in the history with who and when; the board shows them as acknowledged."""
    from pipelines.monitoring import store

    warehouse = _warehouse()
    try:
        chosen = [a for a in store.open_alerts(warehouse) if alert in (a.rule, a.fingerprint)]
        if not chosen:
            fail(f"no open alert is named or fingerprinted {alert!r}; `trackflow alerts list` shows them")
        store.acknowledge(warehouse, chosen, getpass.getuser(), note)
    finally:
        warehouse.close()
    for item in chosen:
        console.print(f"acknowledged {item.fingerprint} {item.rule} {escape(_labels(item.labels))}", highlight=False)
