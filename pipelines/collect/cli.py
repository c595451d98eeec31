"""`trackflow collector ...`: run the collector alone (in the foreground) or check a running one."""

from __future__ import annotations

import typer

from pipelines.cli_errors import fail

collector_app = typer.Typer(no_args_is_help=True, help="The HTTP collector for tracking events.")


@collector_app.command("run")
def run(
    port: int = typer.Option(None, help="port to listen on; default: the collector_port setting"),
    host: str = typer.Option("127.0.0.1", help="address to bind; 0.0.0.0 to accept events from other machines"),
    log_level: str = typer.Option("info", help="uvicorn log level"),
) -> None:
    """Run the collector in the foreground (Kafka from the settings or the running stack)."""
    from pipelines.collect.server import serve
    from pipelines.config import get_settings

    serve(port if port is not None else get_settings().collector_port, host, log_level)


@collector_app.command("health")
def health() -> None:
    """Print the running collector's /healthz answer."""
    import json
    import urllib.request

    from pipelines.config import get_settings
    from pipelines.stack.components import COLLECTOR
    from pipelines.stack import Stack

    url = Stack(get_settings()).url(COLLECTOR)
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=3) as response:
            typer.echo(json.dumps(json.loads(response.read()), indent=2))
    except OSError as exc:
        fail(f"collector at {url} is not answering ({exc}); start it with `trackflow up`")
