"""The one way a `trackflow` command reports a problem: `error: <message>` on stderr, one line, exit 1.

Every CLI (the top-level one and each capability's) prints through here. Messages carry user input (file names,
app ids, request fields, a server's answer), so they are escaped: `x[/]y` or `[bold]` prints as written, never as
rich markup (unescaped, rich raised a MarkupError traceback or swallowed the brackets)."""

from __future__ import annotations

from typing import NoReturn

import typer


def print_error(message: str, label: str = "error") -> None:
    """One line, never wrapped, never read as markup (the label neither: it may hold a name)."""
    # Imported here: every CLI module imports this one when `trackflow` starts, and most runs print no error.
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True).print(f"[bold red]{escape(label)}:[/] {escape(message)}", soft_wrap=True, highlight=False)


def fail(message: str, code: int = 1, label: str = "error") -> NoReturn:
    print_error(message, label)
    raise typer.Exit(code)
