"""The web SDK in headless Chromium (Debian's `chromium`, driven by Playwright through executable_path) against
the session collector: page views, clicks with heatmap coordinates, scroll depth, identify, and a page killed
with events still queued whose beacon delivers them anyway."""

from __future__ import annotations

import functools
import gzip
import http.server
import shutil
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.collect.conftest import APP_ID, APP_KEY, ROOT

SDK = ROOT / "sdk" / "js"


@pytest.fixture(scope="module")
def sdk_bundle() -> Path:
    if not (SDK / "node_modules").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=SDK, check=True, capture_output=True, timeout=300)
    subprocess.run(["npm", "run", "build"], cwd=SDK, check=True, capture_output=True, timeout=120)
    return SDK / "dist" / "trackflow.min.js"


@pytest.fixture(scope="module")
def site(sdk_bundle, tmp_path_factory):
    """The example page and the bundle, served from another origin than the collector (so CORS is exercised)."""
    root = tmp_path_factory.mktemp("site")
    shutil.copy(SDK / "example" / "index.html", root / "index.html")
    shutil.copy(sdk_bundle, root / "trackflow.min.js")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://localhost:{server.server_address[1]}/index.html"
    server.shutdown()


def test_sdk_typechecks_and_fits_the_size_budget(sdk_bundle):
    typecheck = subprocess.run(["npm", "run", "--silent", "typecheck"], cwd=SDK, capture_output=True, text=True, timeout=120)
    assert typecheck.returncode == 0, typecheck.stdout + typecheck.stderr
    assert len(gzip.compress(sdk_bundle.read_bytes(), 9)) <= 8 * 1024


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def device_events(tap, device_id: str, event: str | None = None, timeout: float = 15.0, at_least: int = 1) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        with tap._lock:
            found = [copies[0] for copies in tap.raw.values() if copies[0]["ids"].get("device_id") == device_id and (event is None or copies[0]["event"] == event)]
        if len(found) >= at_least or time.monotonic() > deadline:
            return sorted(found, key=lambda e: e["ts"])
        time.sleep(0.1)


def test_page_views_clicks_scroll_and_identify(browser, site, collector_url, tap):
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    page.goto(f"{site}?{urlencode({'endpoint': collector_url, 'key': APP_KEY, 'interval': 300, 'batch': 5})}")
    device = page.evaluate("tf.deviceId")

    views = device_events(tap, device, "page_view")
    assert views and views[0]["app_id"] == APP_ID and views[0]["props"]["path"] == "/index.html"
    first_ctx = views[0]["context"]
    assert first_ctx["lib"] == "trackflow-js" and first_ctx["browser"] == "HeadlessChrome" and first_ctx["ua"]

    box = page.locator("#buy").bounding_box()
    page.mouse.click(box["x"] + 5, box["y"] + 5)
    page.click("span.promo")
    clicks = device_events(tap, device, "click", at_least=2)
    buy = next(c for c in clicks if c["props"]["element_path"] == "button#buy")
    assert abs(buy["props"]["x"] - (box["x"] + 5)) <= 1 and abs(buy["props"]["y"] - (box["y"] + 5)) <= 1  # page-relative
    assert buy["context"]["viewport"] == "1000x800" and buy["props"]["element_text"] == "Buy"
    promo = next(c for c in clicks if c["props"]["element_path"] != "button#buy")
    assert promo["props"]["element_path"].endswith("ul>li:nth-of-type(2)>span")  # no id/data-*: positions
    assert "ua" not in promo["context"] and promo["context"]["os"] == first_ctx["os"]  # big fields once per session

    page.evaluate("history.pushState({}, '', '/checkout')")  # an SPA route change is a page view
    assert any(v["props"]["path"] == "/checkout" for v in device_events(tap, device, "page_view", at_least=2))

    for fraction in (0.3, 0.6, 1.0):
        page.evaluate(f"window.scrollTo(0, document.documentElement.scrollHeight * {fraction})")
        page.wait_for_timeout(100)
    depths = {e["props"]["depth"] for e in device_events(tap, device, "scroll_depth", at_least=4)}
    assert depths == {25, 50, 75, 100}

    page.evaluate("tf.identify('user-42')")
    identified = device_events(tap, device, "identify")
    assert identified[0]["ids"] == {"device_id": device, "user_id": "user-42"}
    assert all(e["session_id"] == views[0]["session_id"] for e in clicks)
    page.close()


def test_killed_page_still_delivers_its_queue_by_beacon(browser, site, collector_url, tap):
    context = browser.new_context()
    page = context.new_page()
    # A long interval and a big batch: nothing is sent by the timer while the test runs.
    page.goto(f"{site}?{urlencode({'endpoint': collector_url, 'key': APP_KEY, 'interval': 600000, 'batch': 100})}")
    device = page.evaluate("tf.deviceId")
    for n in range(7):
        page.evaluate(f"tf.track('add_to_cart', {{product_id: 'p-{n}', quantity: 1}})")
    assert page.evaluate("tf.pending") == 8  # the page view and 7 events, all still queued
    assert device_events(tap, device, timeout=1.0) == []

    page.close(run_before_unload=True)  # the tab is closed: pagehide -> sendBeacon
    delivered = device_events(tap, device, at_least=8, timeout=15)
    assert sorted(e["event"] for e in delivered) == ["add_to_cart"] * 7 + ["page_view"]
    assert len({e["event_id"] for e in delivered}) == 8
    time.sleep(0.5)
    with tap._lock:
        assert all(len(tap.raw[e["event_id"]]) == 1 for e in delivered)  # each exactly once
    context.close()


def test_failed_sends_back_off_then_deliver_and_the_queue_survives_a_reload(browser, site, collector_url, tap):
    context = browser.new_context()
    page = context.new_page()
    refused = []

    def collector_down(route):
        refused.append(route.request.url)
        route.fulfill(status=503, body='{"error": "down"}', headers={"Access-Control-Allow-Origin": "*"})

    # The collector "fails" every batch, and the browser refuses beacons (as it does over its beacon quota): the
    # events stay queued in localStorage through a reload. (An accepted beacon is fire-and-forget: the page is
    # gone before any answer, so the SDK cannot retry it.)
    context.route("**/v1/batch**", collector_down)
    context.add_init_script("navigator.sendBeacon = () => false")
    page.goto(f"{site}?{urlencode({'endpoint': collector_url, 'key': APP_KEY, 'interval': 200, 'batch': 50})}")
    device = page.evaluate("tf.deviceId")
    for n in range(3):
        page.evaluate(f"tf.track('add_to_cart', {{product_id: 'r-{n}', quantity: 2}})")
    page.wait_for_timeout(1500)
    attempts = len(refused)
    assert 1 <= attempts <= 4  # backing off (1 s, then 2 s, ...), not hammering every 200 ms
    assert page.evaluate("tf.pending") == 4
    page.reload()
    assert page.evaluate("tf.pending") >= 4 + 1  # the old queue was restored, plus the new page view

    context.unroute("**/v1/batch**")
    delivered = device_events(tap, device, at_least=5, timeout=20)
    assert sorted(e["event"] for e in delivered) == ["add_to_cart"] * 3 + ["page_view"] * 2
    time.sleep(0.5)
    with tap._lock:
        assert all(len(tap.raw[e["event_id"]]) == 1 for e in delivered)
    context.close()
