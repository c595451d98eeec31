"""`trackflow oneid ...`: look up and show persons, split bad links, recompute, serve the lookup API.

Module-level imports stay light (the main CLI imports this on every start); commands import what they use.
"""

from __future__ import annotations

import datetime as dt
import json

import typer

from pipelines.cli_errors import fail

app = typer.Typer(no_args_is_help=True, help="OneID: identity graph lookups, splits, recompute and the lookup service.")

LOOKUP_SQL = """
SELECT argMax(oneid, version), argMax(deleted, version) FROM oneid_map
WHERE id_type = {id_type:String} AND id_value = {id_value:String}
"""
PERSON_SQL = """
SELECT id_type, id_value, toUnixTimestamp64Milli(argMax(first_seen, version)), toUnixTimestamp64Milli(argMax(last_seen, version))
FROM oneid_map WHERE id_type != 'oneid'
GROUP BY id_type, id_value
HAVING argMax(oneid, version) = {oneid:String} AND argMax(deleted, version) = 0
ORDER BY id_type, id_value
"""


def _context():
    from pipelines.config import get_settings
    from pipelines.identity.rules import RulesError, load_rules
    from pipelines.warehouse.client import Warehouse

    settings = get_settings()
    try:
        rules = load_rules(settings.identity_rules)
    except RulesError as exc:
        fail(str(exc))
    return settings, rules, Warehouse(settings)


def _current(warehouse, id_type: str, id_value: str) -> str | None:
    rows = warehouse.rows(LOOKUP_SQL, {"id_type": id_type, "id_value": id_value})
    if not rows or not rows[0][0] or rows[0][1]:
        return None
    return rows[0][0]


def _resolve(warehouse, oneid: str) -> str:
    from pipelines.identity.graph import MAX_REDIRECT_HOPS

    for _ in range(MAX_REDIRECT_HOPS):
        target = _current(warehouse, "oneid", oneid)
        if target is None:
            return oneid
        oneid = target
    return oneid


@app.command("lookup")
def lookup(
    id_type: str = typer.Option(..., "--type", help="touchpoint id type, e.g. device_id"),
    value: str = typer.Option(..., "--value", help="the id value (normalised with the rules)"),
) -> None:
    """Print the OneID of one id (from the warehouse mapping). Exits 1 if there is none."""
    from pipelines.warehouse.client import WarehouseUnavailable

    _, rules, warehouse = _context()
    node, reason = rules.normalise(id_type, value)
    if node is None:
        fail(f"{id_type} {value!r} is not an identity ({reason})")
    try:
        oneid = _current(warehouse, id_type, node.partition(":")[2])
    except WarehouseUnavailable as exc:
        fail(str(exc))
    if oneid is None:
        fail(f"no OneID for {id_type} {value!r}")
    typer.echo(oneid)


@app.command("show")
def show(oneid: str = typer.Argument(..., help="a OneID (a retired one is followed to its person)")) -> None:
    """Print a person as JSON: its ids with first and last seen (epoch ms)."""
    _, _, warehouse = _context()
    live = _resolve(warehouse, oneid)
    ids = [{"type": t, "value": v, "first_seen": f, "last_seen": l} for t, v, f, l in warehouse.rows(PERSON_SQL, {"oneid": live})]
    if not ids:
        fail(f"no person {oneid!r}")
    typer.echo(json.dumps({"oneid": live, "requested": oneid, "ids": ids}, indent=2))


@app.command("split")
def split(
    link: tuple[str, str] = typer.Option((None, None), "--link", help="remove the link between two ids: TYPE:VALUE TYPE:VALUE"),
    block: str = typer.Option(None, "--block", help="block an id value for good: TYPE:VALUE"),
    reason: str = typer.Option(..., "--reason", help="why (kept with the block)"),
    recompute_now: bool = typer.Option(False, "--recompute", help="recompute and publish right away"),
) -> None:
    """Unmerge: remove a bad link or block a value. The real-time job stops using it at once; the next
    recomputation (or --recompute) splits the person, and analyses follow through the mapping."""
    import getpass

    from pipelines.identity.changes import VersionClock, block_message
    from pipelines.identity.links import orient
    from pipelines.identity.store import write_block

    settings, rules, warehouse = _context()

    def node_of(text: str) -> str:
        id_type, separator, value = text.partition(":")
        node, why = rules.normalise(id_type, value) if separator else (None, "expected TYPE:VALUE")
        if node is None:
            fail(f"{text!r}: {why}")
        return node

    if bool(block) == bool(link[0]):
        fail("give exactly one of --link A B or --block TYPE:VALUE")
    if block:
        kind, strong, weak = "value", node_of(block), ""
    else:
        kind, (strong, weak) = "link", orient(rules, node_of(link[0]), node_of(link[1]))
    write_block(warehouse, kind, strong, weak, reason, getpass.getuser())
    from pipelines.identity.daily import kafka_sender

    kafka_sender(settings)([block_message(kind, strong, weak, reason, VersionClock().next())])
    typer.echo(f"blocked {kind} {strong}{' - ' + weak if weak else ''}")
    if recompute_now:
        recompute(day=None)


@app.command("recompute")
def recompute(
    day: str = typer.Option(None, help="YYYY-MM-DD: links first seen up to the end of this day, TTLs measured at its end "
                                       "(default: the newest day the links cover, never today's clock)"),
) -> None:
    """Recompute the graph from all links, reconcile with the real-time mapping and publish the corrections."""
    from pipelines.identity.daily import kafka_sender, run_daily
    from pipelines.identity.store import newest_link_day

    settings, rules, warehouse = _context()
    if day:
        try:
            when = dt.date.fromisoformat(day)
        except ValueError:
            fail(f"--day {day!r}: expected YYYY-MM-DD")
    else:
        when = newest_link_day(warehouse)
        if when is None:
            fail("no links in oneid_edges yet: nothing to recompute")
        typer.echo(f"no --day: using {when}, the newest day the links cover (TTLs are measured at its end)")
    result = run_daily(settings, warehouse, when, kafka_sender(settings), rules, report=typer.echo)
    typer.echo(json.dumps({"day": str(result.day), "seconds": round(result.seconds, 2), "stats": result.stats,
                           "ttl": {"as_of": result.ttl_as_of.isoformat(), "aged_out": result.aged_out},
                           "differences": result.reasons, "published": result.published}, indent=2))  # fmt: skip


@app.command("serve")
def serve(port: int = typer.Option(None, min=0, max=65535, help="default: TRACKFLOW_ONEID_SERVICE_PORT; 0: a free port (printed)")) -> None:
    """Serve the lookup API (cold start from the warehouse, then follows identity.changes)."""
    from pipelines.config import get_settings
    from pipelines.identity.service import ListenError, serve as run_service

    try:
        run_service(get_settings(), port=port, report=typer.echo)
    except ListenError as exc:
        fail(str(exc))
