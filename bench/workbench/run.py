"""Workbench benchmark, two figures each next to its baseline from the same run:

1. Bundle: gzip bytes of what the first page loads (index.html, its scripts, modulepreloads and stylesheets, plus
   the sign-in route's chunks the browser fetched) next to the 350 KB goal.
2. Sign-in to a rendered funnel chart: from submitting the sign-in form (redirected to a funnel page whose URL carries
   the request) until the chart marks its render finished (both marks timed in the page), next to the API's own wall time for the same request
   (POST /v1/query with a bearer token) in the same run, interleaved round by round. The page's time includes
   the sign-in request (argon2id verification) and the app's chunks; its overhead is page minus API.

    flock -x /tmp/trackflow-cpu.lock .venv/bin/python -m bench.workbench.run [--events 1000000 --persons 50000]

Starts a private stack (temporary data dir, free ports: warehouse, PostgreSQL, broker and the `api` component,
the real `trackflow api` process) with the response cache off (TRACKFLOW_API_CACHE_ENTRIES=0) so every query
runs on the warehouse, generates the demo shop, creates a user, then drives Debian's chromium with Playwright.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.private_stack import private_stack  # noqa: E402
from tests.workbench.webapp import CHROMIUM, built_dist, first_load  # noqa: E402

GOAL_BUNDLE = 350 * 1024
GOAL_OVERHEAD_MS = 150
PASSWORD = "bench-password-1"
DAYS = 30
FUNNEL = ["page_view", "product_view", "add_to_cart", "pay"]


def start_stack(events: int, persons: int):
    _, settings, stack = private_stack(prefix="trackflow-bench-workbench-", TRACKFLOW_API_CACHE_ENTRIES="0")
    from pipelines.demogen import DemoSpec, generate_frame, insert_frame
    from pipelines.push.connection import connect
    from pipelines.warehouse.client import Warehouse
    from pipelines.workbench import users
    from pipelines.workbench.store import prepare

    started = time.perf_counter()
    spec = DemoSpec(events=events, persons=persons, days=DAYS)
    writer = Warehouse(settings)
    insert_frame(writer, generate_frame(spec))
    writer.close()
    print(f"demo: {events:,} events of {persons:,} persons over {DAYS} days in {time.perf_counter() - started:.0f} s", flush=True)
    prepare(settings)
    with connect(settings, settings.meta_database) as connection:
        users.add_user(connection, "bench", "analyst", PASSWORD)
        token = users.new_token(connection, "bench")
    api = next(component for component in stack.components if component.name == "api")
    return stack, stack.url(api) + "/", token, spec.app_id


def funnel_request(app_id: str) -> dict:
    last = dt.datetime.now(dt.timezone.utc).date()
    return {
        "model": "funnel", "app_id": app_id, "timezone": "UTC", "filters": [],
        "date_from": (last - dt.timedelta(days=DAYS - 1)).isoformat(), "date_to": last.isoformat(),
        "steps": [{"event": event, "filters": []} for event in FUNNEL],
        # The API's defaults, written out as the page's form sends them, so both sides send the same body.
        "window_seconds": 86400, "order": "ordered", "exclusions": [], "breakdown": None, "hold_constant": None,
        "min_step_gap_seconds": None, "max_step_gap_seconds": None, "histogram_bins": 10,
    }  # fmt: skip


def fetched_sizes(browser, url: str, dist: Path) -> dict[str, int]:
    """Gzip bytes of every app file the browser fetched to show the sign-in page."""
    page = browser.new_page()
    fetched: list[str] = []
    page.on("response", lambda response: fetched.append(response.url.split("/assets/", 1)[1]) if "/assets/" in response.url else None)
    page.goto(url + "sign-in")
    page.locator("input[name=username]").wait_for()
    page.wait_for_load_state("networkidle")
    page.close()
    return {name: len(gzip.compress((dist / "assets" / name).read_bytes(), 9)) for name in dict.fromkeys(fetched)}


def page_round(browser, url: str, request: dict) -> dict:
    """Timed inside the page: the app marks `tf:sign-in` on submit and `tf:chart-rendered` when ECharts reports its
    render finished, so the figures have no Playwright round trips in them. Each round is a new browser context
    (nothing cached). Keys: page (submit to rendered chart), login (the sign-in request), and from the page's own
    `POST /v1/query` (resource timing): to_query (submit to the query sent), query (sent to answered), after_query
    (answered to rendered); `same_request` says whether the page sent the bench's request (field by field)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(300_000)
    sent: list[dict] = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data)) if r.method == "POST" and r.url.endswith("/v1/query") else None)
    target = f"/analysis/funnel?q={quote(json.dumps(request))}"
    page.goto(f"{url}sign-in?next={quote(target)}")
    page.wait_for_load_state("networkidle")  # the sign-in page has fetched the next page's chunks, as while typing
    page.fill("input[name=username]", "bench")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_response(lambda response: response.url.endswith("/v1/auth/login")) as login:
        page.click("button[type=submit]")
    page.locator("[data-testid=funnel-chart][data-rendered=true]").wait_for()
    signed, rendered, queries = page.evaluate(
        """() => [
            ...['tf:sign-in', 'tf:chart-rendered'].map(name => performance.getEntriesByName(name)[0].startTime),
            performance.getEntriesByType('resource').filter(e => e.name.endsWith('/v1/query')).map(e => [e.startTime, e.responseEnd]),
        ]"""
    )
    timing = login.value.request.timing
    context.close()
    query_start, query_end = queries[0]
    return {
        "page": rendered - signed, "login": timing["responseEnd"] - timing["requestStart"],
        "to_query": query_start - signed, "query": query_end - query_start, "after_query": rendered - query_end,
        "same_request": len(sent) == 1 and sent[0] == request, "sent": sent,
    }


def api_round(url: str, token: str, request: dict) -> tuple[float, float]:
    """(wall ms of POST /v1/query, the server's own query_ms)."""
    import httpx

    started = time.perf_counter()
    answer = httpx.post(url + "v1/query", json=request, headers={"Authorization": f"Bearer {token}"}, timeout=300)
    elapsed = (time.perf_counter() - started) * 1000
    answer.raise_for_status()
    assert not answer.json()["cached"]
    return elapsed, answer.json()["query_ms"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--persons", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dist = built_dist()
    static = first_load(dist)
    stack, url, token, app_id = start_stack(args.events, args.persons)
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            fetched = fetched_sizes(browser, url, dist)
            request = funnel_request(app_id)
            api_round(url, token, request)  # warm the warehouse's caches once, for both sides alike
            rounds, apis, servers = [], [], []
            for _ in range(args.rounds):
                rounds.append(page_round(browser, url, request))
                api_ms, server_ms = api_round(url, token, request)
                apis.append(api_ms), servers.append(server_ms)
            browser.close()
    finally:
        stack.down(report=lambda _: None)

    median = statistics.median
    pages, logins = [r["page"] for r in rounds], [r["login"] for r in rounds]
    print(f"\nworkbench bench @ {commit}, {args.events:,} events, {args.rounds} rounds (medians)")
    print(f"first load (index.html + its scripts/preloads/css), gzip: {sum(static.values()) / 1024:7.1f} KB   goal <= {GOAL_BUNDLE / 1024:.0f} KB")
    print(f"sign-in page as fetched by the browser, gzip:             {sum(fetched.values()) / 1024:7.1f} KB   ({len(fetched)} files)")
    print(f"sign-in submit -> rendered funnel chart (page):           {median(pages):7.0f} ms")
    print(f"  of which the sign-in request (argon2id):                 {median(logins):7.0f} ms")
    print(f"POST /v1/query, same request (API wall):                  {median(apis):7.0f} ms   (server query_ms {median(servers):.0f})")
    overhead = median(pages) - median(apis)
    print(f"page adds:                                                {overhead:7.0f} ms   goal <= {GOAL_OVERHEAD_MS} ms")
    print(f"page adds, sign-in request excluded:                      {median(p - l for p, l in zip(pages, logins)) - median(apis):7.0f} ms")
    print("rounds (page / api ms):", ", ".join(f"{p:.0f}/{a:.0f}" for p, a in zip(pages, apis)))
    print("rounds' sign-in requests (ms):", ", ".join(f"{login:.0f}" for login in logins))
    # Where the page's time goes, from its own POST /v1/query: before it was sent (sign-in request, navigation,
    # page mount), the query as the page saw it (next to the API wall above), after its answer (drawing).
    for key, label in (("to_query", "submit -> the page's query sent"), ("query", "the page's POST /v1/query"), ("after_query", "its answer -> rendered chart")):
        print(f"  {label + ':':<40}{median(r[key] for r in rounds):7.0f} ms   rounds: {', '.join(f'{r[key]:.0f}' for r in rounds)}")
    own = [r["to_query"] - r["login"] + r["after_query"] for r in rounds]
    print(f"the page's own work (before its query but the sign-in request, after its answer): {median(own):.0f} ms   rounds: {', '.join(f'{o:.0f}' for o in own)}")
    same = all(r["same_request"] for r in rounds)
    print(f"the page sent the bench's request: {'yes, every round' if same else 'NO: ' + json.dumps(next(r['sent'] for r in rounds if not r['same_request']))}")
    print(f"machine: {os.cpu_count()} cores, load average (1/5/15 min) {' / '.join(f'{value:.1f}' for value in os.getloadavg())}")


if __name__ == "__main__":
    main()
