"""The monitoring board (issue 21 item 4) over the real API and warehouse: monitoring_samples, alert_history and
reconciliation rows seeded through the writer as the alerts component and the reconciliation assets write them;
the API's answers checked against the seeded figures by hand, then the page's numbers (chain stages, alerts, the
charts' plotted series, mismatched links) against the API's answer. Screenshot: docs/workbench/monitoring.png."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from pipelines.monitoring.engine import fingerprint
from pipelines.monitoring.store import HISTORY_COLUMNS, SAMPLE_COLUMNS, record_samples
from pipelines.monitoring.reconcile import COLUMNS as RECONCILIATION_COLUMNS

from .test_browser import base, page, shot, sign_in, site  # noqa: F401 (fixtures)

APP = "wb-board"
LAYER = "wb_detail"  # layers of their own: the session stack's alerts component samples the real ones
SYNC = {"async_insert": 0}


@pytest.fixture(scope="module")
def board(site, warehouse):  # noqa: F811
    writer = warehouse
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    minutes = [now - dt.timedelta(minutes=m) for m in range(30, 0, -1)]
    samples = []
    for i, minute in enumerate(minutes):
        for layer, base_s in ((LAYER, 2.0), ("wb_orders", 3.0)):
            samples += [[minute, "trackflow_pipeline_freshness_p50_seconds", {"layer": layer}, base_s + i % 3],
                        [minute, "trackflow_pipeline_freshness_p95_seconds", {"layer": layer}, base_s * 4 + i % 5]]  # fmt: skip
        samples += [
            [minute, "trackflow_pipeline_stage_events", {"stage": "collected", "app_id": APP}, 600 + i],
            [minute, "trackflow_pipeline_stage_events", {"stage": "raw", "app_id": APP}, 600 + i],
            [minute, "trackflow_pipeline_stage_events", {"stage": f"dwd.{LAYER}", "app_id": APP}, 500 + i],
            [minute, "trackflow_pipeline_stage_events", {"stage": "dwd.wb_orders", "app_id": APP}, 100],
            [minute, "trackflow_collector_up", {"instance": "127.0.0.1:1"}, 1],
            [minute, "trackflow_collector_success_ratio", {}, 0.99],
            [minute, "trackflow_collector_spool_age_seconds", {}, 0],
            [minute, "trackflow_kafka_up", {}, 1],
            [minute, "trackflow_kafka_consumer_lag_messages", {"group": "dwd", "topic": "events.raw", "partition": "0"}, 40 + i],
            [minute, "trackflow_kafka_consumer_lag_messages", {"group": "dwd", "topic": "events.raw", "partition": "1"}, 2],
            [minute, "trackflow_job_up", {"job": "layering"}, 1],
            [minute, "trackflow_job_up", {"job": "dwd"}, 0 if i == len(minutes) - 1 else 1],  # down in the latest minute
            [minute, "trackflow_job_checkpoint_age_seconds", {"job": "dwd"}, 12.5],
            [minute, "trackflow_warehouse_up", {}, 1],
            [minute, "trackflow_job_dedup_dropped_events", {"job": "dwd", "layer": LAYER, "app_id": APP}, 7],
            [minute, "trackflow_oneid_links_count", {}, 1200],
            [minute, "trackflow_oneid_lookup_p95_seconds", {}, 0.0005],
            [minute, "trackflow_oneid_up", {}, 1],
        ]
    writer.insert("monitoring_samples", samples, SAMPLE_COLUMNS, settings=SYNC)
    lag, job = fingerprint("consumer_lag_high", (("group", "dwd"),)), fingerprint("job_down", (("job", "layering"),))
    history = [
        [now - dt.timedelta(minutes=9), "consumer_lag_high", "P1", lag, {"group": "dwd"}, "pending", 60.0, 0, "alerts", ""],
        [now - dt.timedelta(minutes=8), "consumer_lag_high", "P1", lag, {"group": "dwd"}, "firing", 69.0, 1, "alerts", ""],
        [now - dt.timedelta(minutes=20), "job_down", "P1", job, {"job": "layering"}, "firing", 0.0, 1, "alerts", ""],
        [now - dt.timedelta(minutes=15), "job_down", "P1", job, {"job": "layering"}, "resolved", 1.0, 1, "alerts", ""],
    ]
    writer.insert("alert_history", history, HISTORY_COLUMNS, settings=SYNC)
    recon = []
    for k in range(1, 7):
        end = now.replace(minute=now.minute - now.minute % 5) - dt.timedelta(minutes=5 * k)
        start = end - dt.timedelta(minutes=5)
        observed = 975 if k == 2 else 1000  # 25 rows missing at the warehouse in one window
        recon += [[start, end, "recent", APP, "", "kafka", 1000, 1000, 0, "ok"],
                  [start, end, "recent", APP, LAYER, "warehouse", 1000, observed, observed - 1000, "ok" if observed == 1000 else "missing"]]  # fmt: skip
    writer.insert("reconciliation", recon, RECONCILIATION_COLUMNS, settings=SYNC)
    return site


def get(board, path: str) -> dict:
    answer = board.api("GET", path, token=board.analyst_token)  # the analyst role reads the board
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_board_api_answers_the_seeded_figures(board):
    chain = get(board, f"/v1/monitoring/chain?app_id={APP}")
    stages = {s["stage"]: s for s in chain["stages"]}
    assert stages["collector"]["rate_per_min"] == 629 and stages["collector"]["health"] == "ok"
    assert stages["broker"]["rate_per_min"] == 629 and stages["broker"]["lag"] >= 69 + 2  # with the stack's own groups
    assert stages["jobs"]["rate_per_min"] == 529 + 100 and stages["jobs"]["health"] == "down"  # the dwd job's latest minute
    assert APP in chain["apps"] and {LAYER, "wb_orders"} <= set(chain["layers"])
    narrowed = {s["stage"]: s for s in get(board, f"/v1/monitoring/chain?app_id={APP}&layer={LAYER}")["stages"]}
    assert narrowed["jobs"]["rate_per_min"] == 529 and narrowed["warehouse"]["lag"] == 8 + 29 % 5
    assert narrowed["jobs"]["detail"]["dedup_dropped_per_min"] == 7
    # OneID beside the jobs: links/min and lookup p95 (the session's own component may sample a OneID job of its own)
    assert stages["oneid"]["rate_unit"] == "links/min" and stages["oneid"]["lag_unit"] == "ms lookup p95"
    assert stages["oneid"]["rate_per_min"] is not None and stages["oneid"]["health"] in ("ok", "down")

    alerts = get(board, "/v1/monitoring/alerts")["alerts"]
    assert [(a["rule"], a["state"], a["value"]) for a in alerts if a["rule"] in ("consumer_lag_high", "job_down")] == [("consumer_lag_high", "firing", 69.0)]

    history = get(board, f"/v1/monitoring/history?hours=1&app_id={APP}&layer={LAYER}")
    assert {p["layer"] for p in history["freshness"]} == {LAYER} and len(history["freshness"]) == 30
    assert [(m["stage"], m["difference"]) for m in history["mismatches"]] == [("warehouse", -25)]
    assert sorted(w["mismatched_events"] for w in history["reconciliation"]) == [0, 0, 0, 0, 0, 25]


@pytest.mark.parametrize("query, field", [("hours=0", "hours"), ("hours=x", "hours"), ("app_id=a%27b", "app_id"), ("layer=" + "l" * 65, "layer")])
def test_board_rejects_bad_parameters_by_name(board, query, field):
    answer = board.api("GET", f"/v1/monitoring/history?{query}", token=board.analyst_token)
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == field


def test_board_paths_are_in_the_openapi_document(board):
    paths = board.api("GET", "/openapi.json").json()["paths"]
    assert {"/v1/monitoring/chain", "/v1/monitoring/history", "/v1/monitoring/alerts"} <= set(paths)


def test_the_board_shows_the_api_numbers(board, page):  # noqa: F811
    answers = []
    page.on("response", lambda r: answers.append(r) if "/v1/monitoring/chain" in r.url else None)
    sign_in(page, board, board.analyst, f"/monitoring?app_id={APP}")
    page.wait_for_selector("[data-testid=board-chain] [data-testid=stage-warehouse]")
    page.wait_for_selector("[data-testid=board-freshness][data-rendered=true]")
    page.wait_for_selector("[data-testid=board-reconciliation][data-rendered=true]")
    # The session stack's alerts component writes the live series each minute (OneID's links, the jobs' health share
    # series with the seeded ones), so the screen is checked against the chain answer the page itself received last.
    def expected() -> dict[str, list[str]]:
        return {s["stage"]: [s["health"], "–" if s["rate_per_min"] is None else f"{s['rate_per_min']:,.0f}", s["rate_unit"],
                             "–" if s["lag"] is None else f"{s['lag']:,.1f}".rstrip("0").rstrip(".")]
                for s in answers[-1].json()["stages"]}  # fmt: skip

    shown = """() => Object.fromEntries([...document.querySelectorAll('[data-testid=board-chain] [data-testid^=stage-]')].map(box => [
        box.dataset.testid.slice(6), [box.querySelector('[data-field=health]').innerText.toLowerCase(),
        box.querySelector('[data-field=rate]').innerText, box.querySelector('small').innerText, box.querySelector('[data-field=lag]').innerText]]))"""
    deadline = time.monotonic() + 5  # a refresh answered but not yet drawn: drawn within milliseconds
    while (on_screen := page.evaluate(shown)) != expected() and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert on_screen == expected() and set(on_screen) == {"collector", "broker", "jobs", "warehouse", "oneid"}
    alerts = get(board, f"/v1/monitoring/alerts?app_id={APP}")["alerts"]
    assert page.locator("[data-testid=board-alerts] tbody tr").count() == len(alerts)
    history = get(board, f"/v1/monitoring/history?hours=6&app_id={APP}")
    plotted = json.loads(page.locator("[data-testid=board-freshness]").get_attribute("data-values"))
    for series in plotted:
        layer, which = series["name"].split(" ")
        assert series["data"] == [[p["minute"], p[f"{which}_s"]] for p in history["freshness"] if p["layer"] == layer]
    recon = json.loads(page.locator("[data-testid=board-reconciliation]").get_attribute("data-values"))
    assert recon[0]["data"] == [[w["window_end"], w["mismatched_events"]] for w in history["reconciliation"] if w["cadence"] == "recent"]
    assert page.locator("[data-testid=board-mismatches] tbody tr").count() == len(history["mismatches"]) == 1
    shot(page, "monitoring")

    page.select_option("[data-testid=board-layer]", LAYER)  # drill down: the URL and the figures follow
    page.wait_for_url(lambda url: f"layer={LAYER}" in url)
    narrowed = {s["stage"]: s for s in get(board, f"/v1/monitoring/chain?app_id={APP}&layer={LAYER}")["stages"]}
    page.wait_for_function(
        "want => document.querySelector('[data-testid=stage-jobs] [data-field=rate]').textContent === want", arg=f"{narrowed['jobs']['rate_per_min']:,.0f}"
    )


def test_a_minute_written_again_shows_its_last_write(board, warehouse):
    """The alerts component restarted within a minute writes that minute again: the board shows the later write (the
    old reads took argMax over the tied minute: writes 0..5 read back as 0, 1, 1, 2, 2, 5)."""
    layer = "wb_rewritten"
    minute = dt.datetime.now(dt.timezone.utc).timestamp() // 60 * 60 - 120
    for value in (500.0, 400.0, 300.0, 200.0, 100.0):  # falling: a max over the tied rows would not pass either
        record_samples(warehouse, minute, {"trackflow_pipeline_freshness_p95_seconds": [({"layer": layer}, value)],
                                           "trackflow_pipeline_freshness_p50_seconds": [({"layer": layer}, value / 2)]})  # fmt: skip
        stages = {s["stage"]: s for s in get(board, f"/v1/monitoring/chain?layer={layer}")["stages"]}
        assert stages["warehouse"]["lag"] == value
        freshness = get(board, f"/v1/monitoring/history?hours=1&layer={layer}")["freshness"]
        assert [(p["p50_s"], p["p95_s"]) for p in freshness] == [(value / 2, value)]
