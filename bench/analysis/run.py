"""Analysis benchmark: each model's time next to the bare scan of the same columns (the physical floor) and the
pandas reference (tests/analysis/reference.py) on the same data, in one run.

    .venv/bin/python -m bench.analysis.run                 # 10M events / 1M persons
    .venv/bin/python -m bench.analysis.run --events 1000000 --persons 100000   # quick

Starts its own embedded warehouse in a temporary directory (nothing else is touched), generates the demo shop's
events in chunks of distinct persons, then times each query and its floor in turn for `--repeat` rounds (best of
each) as the read-only analyst. The pandas reference runs on a sample of the persons (`--peer-fraction`) because
its funnel is a Python loop; its time is reported as measured and scaled to all persons. Funnels are also timed
against ClickHouse's own funnel aggregate (windowFunnel, `native_funnel_sql`), which only counts persons by the
step reached, and its counts are checked against the model's.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pipelines.analysis.runner import Limits, build_queries, parse_request, run_query  # noqa: E402
from pipelines.analysis.schema import MATERIALIZED_PROPERTIES, PERSON_KEY  # noqa: E402
from pipelines.analysis.timerange import TimeRange  # noqa: E402
from pipelines.config import Settings  # noqa: E402
from pipelines.demogen import DemoSpec, generate_frame, insert_frame  # noqa: E402
from pipelines.ports import free_port  # noqa: E402
from pipelines.warehouse.client import Warehouse  # noqa: E402
from pipelines.warehouse.migrate import migrate  # noqa: E402
from tests.analysis import reference as ref  # noqa: E402
from tests.analysis import reference_pages as refp  # noqa: E402
from tests.analysis.test_lifecycle import reference_lifecycle, reference_stickiness  # noqa: E402
from tests.analysis.test_paths import reference_edges, reference_paths  # noqa: E402

from bench.analysis.path_peer import posthog_paths_sql, same_counts  # noqa: E402

APP = "bench-shop"
DAYS = 30
FUNNEL_4 = ["page_view", "product_view", "add_to_cart", "pay"]
FUNNEL_10 = ["product_view", "product_view", "add_to_cart", "product_view", "add_to_cart", "order", "product_view",
             "add_to_cart", "order", "pay"]  # fmt: skip


def requests(end: dt.date) -> dict[str, dict]:
    scope = {"app_id": APP, "date_from": (end - dt.timedelta(days=DAYS - 1)).isoformat(), "date_to": end.isoformat()}
    return {
        "event: count + uniq by day x platform": {
            "model": "event", **scope, "group_by": ["platform"],
            "metrics": [{"event": "page_view"}, {"event": "page_view", "math": "unique_persons"}],
        },
        "funnel 4 steps (1 day window)": {"model": "funnel", **scope, "steps": [{"event": e} for e in FUNNEL_4]},
        "funnel 10 steps, hold product_id": {
            "model": "funnel", **scope, "steps": [{"event": e} for e in FUNNEL_10], "hold_constant": "product_id",
            "window_seconds": 7 * 86_400,
        },
        "retention 30 days": {
            "model": "retention", **scope, "initial": {"event": "page_view"}, "returning": {"event": "pay"}, "periods": 30,
        },
        "interval product_view -> pay": {"model": "interval", **scope, "start": {"event": "product_view"}, "end": {"event": "pay"}},
        "distribution page_view / person": {"model": "distribution", **scope, "event": {"event": "page_view"}},
        "page: url path, 30 min sessions": {"model": "page", **scope, "cleaning": [{"pattern": "/[0-9]+", "replacement": "/:id"}]},
        "terminal: os x os_version, all events": {"model": "terminal", **scope, "dimensions": ["os", "os_version"]},
        "terminal: utm source x medium, page_view": {
            "model": "terminal", **scope, "dimensions": ["utm_source", "utm_medium"], "events": [{"event": "page_view"}],
        },
        "paths 5 steps from page_view (all events)": {"model": "paths", **scope, "start": {"event": "page_view"}, "steps": 5},
        "lifecycle by day, $any event": {"model": "lifecycle", **scope, "event": {"event": "$any"}},
        "stickiness by week, pay": {"model": "stickiness", **scope, "event": {"event": "pay"}},
    }  # fmt: skip


# The persons page of a funnel step, timed against the funnel's own summary query (goal: at most 2x).
PERSONS_OF = {"funnel 4 steps (1 day window)": {"step": 2, "status": "converted", "limit": 100}}


SCANNED_ROWS = (
    "FROM events WHERE app_id = {app_id:String} AND ts >= fromUnixTimestamp64Milli({time_from:Int64}) "
    "AND ts < fromUnixTimestamp64Milli({time_to:Int64}) AND event IN {events:Array(String)}"
)
# A model that reads every event of the app (terminal analysis without events) scans without the event condition.
SCANNED_ALL = SCANNED_ROWS.removesuffix(" AND event IN {events:Array(String)}")


def scan_params(request) -> dict:
    built = next(iter(build_queries(request).values()))
    return {k: v for k, v in built.parameters.items() if k in ("app_id", "time_from", "time_to", "events", "tz")}


def model_columns(request) -> str:
    """Columns a model reads beyond the person, time and event: the page text, or the terminal dimensions."""
    if request.model == "page":
        return ", url"
    if request.model == "terminal":
        from pipelines.analysis.terminals import DIMENSIONS

        dims = ["screen_width, screen_height" if d == "screen" else DIMENSIONS[d] for d in request.dimensions]
        return ", session_id, " + ", ".join(dims)
    return held_column(request)


def held_column(request) -> str:
    held = getattr(request, "hold_constant", None)
    return f", {MATERIALIZED_PROPERTIES[held]}" if held else ""  # the bench holds materialized properties only


def floor_sql(request) -> tuple[str, dict]:
    """The same rows and columns the model reads, hashed and counted: what reading them costs at least."""
    # the person as the models read it (schema.PERSON_KEY: the stored person_hash and the stamped oneid)
    columns = "oneid, person_hash, ts, event" + model_columns(request)
    params = scan_params(request)
    return f"SELECT count(), sum(cityHash64({columns})) {SCANNED_ROWS if 'events' in params else SCANNED_ALL}", params


def native_funnel_sql(request) -> tuple[str, dict]:
    """ClickHouse's own funnel aggregate, windowFunnel, over the same rows: persons by the furthest step reached,
    nothing else (no times, trend or histogram). With a held property it runs per (person, value), the best value
    kept. One event may take two steps in it, so with a step repeated its counts differ from the model's."""
    params = scan_params(request) | {f"step_{k}": step.event for k, step in enumerate(request.steps, 1)}
    steps = ", ".join(f"event = {{step_{k}:String}}" for k in range(1, len(request.steps) + 1))
    held = held_column(request)
    per_group = (
        f"SELECT {PERSON_KEY} AS person_key, windowFunnel({int(request.window_seconds) * 1000})"
        f"(toUInt64(toUnixTimestamp64Milli(ts)), {steps}) AS level {SCANNED_ROWS} GROUP BY person_key{held}"
    )
    per_person = f"SELECT person_key, max(level) AS level FROM ({per_group}) GROUP BY person_key" if held else per_group
    return f"SELECT level, count() FROM ({per_person}) WHERE level > 0 GROUP BY level ORDER BY level", params


def best_of(repeat: int, *runs) -> tuple[list[float], list]:
    """Each callable's best time over `repeat` rounds and its last result, the callables taking turns within a
    round: a slow spell on the machine then hits a model and its floor alike instead of only one of them."""
    best, results = [float("inf")] * len(runs), [None] * len(runs)
    for _ in range(repeat):
        for i, run in enumerate(runs):
            started = time.perf_counter()
            results[i] = run()
            best[i] = min(best[i], time.perf_counter() - started)
    return best, results


def reference_time(name: str, request: dict, frame: pd.DataFrame, start_ms: int, end_ms: int) -> float:
    model = request["model"]
    started = time.perf_counter()
    if model == "funnel":
        ref.funnel(frame, request, start_ms, end_ms)
    elif model == "retention":
        ref.retention(frame, request, start_ms, end_ms)
    elif model == "interval":
        ref.intervals(frame, request, start_ms, end_ms)
    elif model == "distribution":
        ref.distribution(frame, request, start_ms, end_ms)
    elif model == "page":
        refp.pages(frame, request, start_ms, end_ms)
    elif model == "terminal":
        refp.terminals(frame, request, start_ms, end_ms, request["dimensions"])
    elif model == "paths":
        reference_edges(request, reference_paths(frame, request))
    elif model == "lifecycle":
        reference_lifecycle(frame, request)
    elif model == "stickiness":
        reference_stickiness(frame, request)
    else:
        rows = ref.in_range(frame, start_ms, end_ms)
        rows = rows[rows.event == "page_view"]
        day = pd.to_datetime(rows.t, unit="ms").dt.normalize()
        rows.assign(day=day).groupby(["day", "platform"]).agg(n=("event", "size"), u=("person", "nunique"))
    return time.perf_counter() - started


def persons_line(name: str, request: dict, analyst, repeat: int) -> str:
    """The persons page query of a step next to the model's summary query, in turns, best of `repeat`."""
    queries = build_queries(parse_request({**request, "persons": PERSONS_OF[name]}))
    summary, persons = queries["summary"], queries["persons"]
    (summary_s, persons_s), (_, page) = best_of(
        repeat, lambda: analyst.query(summary.sql, summary.parameters), lambda: analyst.query(persons.sql, persons.parameters)
    )
    return (
        f"persons of {name}, {PERSONS_OF[name]} (first page, {len(page.result_rows)} persons with latest properties): "
        f"{persons_s:.3f} s against the funnel's {summary_s:.3f} s = {persons_s / summary_s:.2f}x"
    )


def _listening(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def data_arguments(parser: argparse.ArgumentParser) -> None:
    """The dataset arguments every analysis bench shares (bench.analysis.run, bench.analysis.chain)."""
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--chunks", type=int, default=0, help="generation chunks (default: one per million events)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", help="keep the warehouse data in this directory (and reuse it when run again)")


@contextlib.contextmanager
def demo_warehouse(args) -> Iterator[tuple[Settings, dt.date]]:
    """An embedded warehouse of its own (in `--keep` or a temporary directory) holding the demo shop's events of the
    last DAYS days, migrated; yields its settings and the last day."""
    data_dir = Path(args.keep or tempfile.mkdtemp(prefix="tf-bench-"))
    port = free_port()
    # The server makes its users' passwords from the data dir's secrets: the same dir as this process's Settings.
    env = {**os.environ, "TRACKFLOW_CONFIG": str(data_dir / "absent.toml"), "TRACKFLOW_DATA_DIR": str(data_dir)}
    server = subprocess.Popen(
        [sys.executable, "-m", "pipelines.warehouse.server", "--data-dir", str(data_dir / "warehouse"), "--port", str(port), "--pool-size", "2"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        embedded = Settings(data_dir=data_dir)  # the passwords the server generated in the data dir's secrets
        settings = Settings(
            clickhouse_url=f"http://127.0.0.1:{port}", data_dir=data_dir,
            clickhouse_password=embedded.clickhouse_password, analyst_password=embedded.analyst_password,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not _listening(port):
            if time.monotonic() > deadline:
                raise SystemExit("warehouse did not start")
            time.sleep(0.2)
        writer = Warehouse(settings)
        migrate(writer)
        end = dt.datetime.now(dt.timezone.utc).date()
        chunks = args.chunks or max(1, args.events // 1_000_000)
        started = time.perf_counter()
        present = writer.scalar("SELECT count() FROM events WHERE app_id = {a:String}", {"a": APP})
        for k in range(0 if present else chunks):  # a kept data dir (--keep) is reused
            spec = DemoSpec(
                events=args.events // chunks, persons=args.persons // chunks, days=DAYS, end=end, app_id=APP, seed=k,
                first_person=k * (args.persons // chunks),
            )  # fmt: skip
            insert_frame(writer, generate_frame(spec))
            print(f"  generated + inserted chunk {k + 1}/{chunks} ({time.perf_counter() - started:.0f}s)", flush=True)
        if not present:
            writer.command("OPTIMIZE TABLE dwd_default FINAL")  # settle parts so every run reads the same layout
        total = writer.scalar("SELECT count() FROM events WHERE app_id = {a:String}", {"a": APP})
        print(f"data: {total:,} events, {args.persons:,} persons, {DAYS} days; load {time.perf_counter() - started:.0f}s")
        yield settings, end
    finally:
        server.terminate()
        server.wait(30)
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data_arguments(parser)
    parser.add_argument("--peer-fraction", type=float, default=0.02, help="share of persons the pandas reference runs on")
    parser.add_argument("--only", default="", help="run only the models whose name contains this text")
    args = parser.parse_args(argv)

    with demo_warehouse(args) as (settings, end):
        analyst = Warehouse(settings, role="analyst")
        limits = Limits(timeout_s=300, max_result_rows=1_000_000)  # the analyst role allows at most 300 s
        sample_sql = (
            "SELECT if(oneid != '', oneid, person_id) AS person, event_id, toString(event) AS event, "
            "toUnixTimestamp64Milli(ts) AS t, toString(platform) AS platform, p_product_id AS product_id, url, title, session_id, "
            "toString(os) AS os, toString(os_version) AS os_version, toString(utm_source) AS utm_source, "
            "toString(utm_medium) AS utm_medium FROM events "
            "WHERE app_id = {a:String} AND cityHash64(if(oneid != '', oneid, person_id)) % 10000 < {k:UInt32}"
        )
        peer = analyst.query_df(sample_sql, {"a": APP, "k": round(args.peer_fraction * 10_000)})
        peer["product_id"] = peer["product_id"].replace("", None)
        print(f"pandas peer sample: {len(peer):,} events ({args.peer_fraction:.0%} of persons)\n")

        header = (
            f"{'model':<38} {'floor s':>8} {'model s':>8} {'x floor':>8} {'pandas s (sample)':>18} {'pandas s (scaled)':>18}"
            f" {'windowFunnel s':>15} {'x floor':>8}"
        )
        print(header)
        print("-" * len(header))
        comparisons = []
        for name, request in requests(end).items():
            if args.only not in name:
                continue
            parsed = parse_request(request)
            sql, params = floor_sql(parsed)
            runs = [lambda: analyst.query(sql, params), lambda: run_query(request, analyst, limits)]
            if request["model"] == "funnel":
                native_sql, native_params = native_funnel_sql(parsed)
                runs.append(lambda: analyst.query(native_sql, native_params))
            elif request["model"] == "paths":
                peer_sql, peer_params = posthog_paths_sql(parsed, scan_params(parsed))
                runs.append(lambda: analyst.query(peer_sql, peer_params))
            (floor, model, *native), (_, response, *native_result) = best_of(args.repeat, *runs)
            time_range = TimeRange.of(parsed)
            sample_s = reference_time(name, request, peer, time_range.start_ms, time_range.end_ms)
            line = f"{name:<38} {floor:>8.3f} {model:>8.3f} {model / floor:>8.1f} {sample_s:>18.2f} {sample_s / args.peer_fraction:>18.1f}"
            if native and request["model"] == "paths":
                comparisons.append(
                    f"PostHog-style path query (groupArray/arraySplit), {name}: {native[0]:.3f} s = {native[0] / floor:.1f}x the floor, "
                    f"the model {model / native[0]:.2f}x it; {same_counts(response, native_result[0].result_rows)}"
                )
            elif native:
                line += f" {native[0]:>15.3f} {native[0] / floor:>8.1f}"
                reached = [step["persons"] for step in response["groups"][0]["steps"]]
                levels = dict(native_result[0].result_rows)
                native_reached = [sum(n for level, n in levels.items() if level >= k) for k in range(1, len(reached) + 1)]
                verdict = "same as the model's" if native_reached == reached else f"model {reached}"
                comparisons.append(f"windowFunnel persons per step, {name}: {native_reached} ({verdict})")
            print(line, flush=True)
            if name in PERSONS_OF:
                comparisons.append(persons_line(name, request, analyst, args.repeat))
        print("\n".join(comparisons))


if __name__ == "__main__":
    main()
