"""`trackflow layering show|apply|check`: the live layering rules."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from pipelines.cli_errors import fail
from pipelines.config import get_settings

app = typer.Typer(no_args_is_help=True, help="Dynamic layering rules (control.layering): show, check, apply.")
console = Console()


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")


@app.command("show")
def show() -> None:
    """Print the rules the layering job is using (the newest valid document on control.layering)."""
    import yaml

    from pipelines.layering.control import current_rules

    rules = current_rules(get_settings())
    if rules is None:
        console.print("no rules published: every event goes to the default layer (ods.default -> dwd_default)")
        return
    console.print(yaml.safe_dump(rules.document, sort_keys=False, allow_unicode=True).rstrip())


@app.command("check")
def check(path: Path = typer.Argument(..., help="rules YAML/JSON")) -> None:
    """Validate a rules document without publishing it."""
    from pipelines.layering.rules import RuleSetError, compile_rules, parse_document

    try:
        rules = compile_rules(parse_document(_read(path)))
    except RuleSetError as exc:
        fail(str(exc), label="rejected")
    console.print(f"valid: {len(rules.rules)} rule(s), layers {', '.join(rules.layers)}")


@app.command("apply")
def apply(path: Path = typer.Argument(..., help="rules YAML/JSON")) -> None:
    """Validate and publish a rules document; the running job switches to it within seconds, without restart."""
    from pipelines.layering.control import apply as apply_rules
    from pipelines.layering.rules import RuleSetError

    try:
        rules = apply_rules(get_settings(), _read(path))
    except RuleSetError as exc:
        fail(str(exc), label="rejected, nothing published")
    console.print(f"published version {rules.version}: {len(rules.rules)} rule(s), layers {', '.join(rules.layers)}")
