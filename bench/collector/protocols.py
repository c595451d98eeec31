"""Protocol intake vs native batches: the same click events sent as Sensors (`data_list`, base64 of gzip, as its
Python and Android SDKs send), PostHog (/batch/ JSON of $autocapture events with an elements chain, as
posthog-python sends) and Segment (/segment/v1/batch with Basic auth) batches, next to native /v1/batch, against one
collector process per round, in one run.

    flock -x /tmp/trackflow-cpu.lock .venv/bin/python -m bench.collector.protocols [--seconds 8] [--batch 100] [--rounds 2]

The baseline (`native-click`, /v1/batch) is a web-SDK click carrying what the protocol payloads carry: url, title, lib, lib_version,
element_path, element_text, x and y (sdk/js/src/index.ts sends these and more for a click). `native-bare` is the
baseline of the runs before 2026-12-07 19:00 UTC (no lib, lib_version or element_text: bench/collector/loadgen.py
build_bodies, which bench.collector.run still sends), run and shown next to it so those figures stay comparable.

The load generator (bench/collector/loadgen.py --protocol ...) pre-builds every request and runs as its own
process; the order of the intakes rotates between rounds. Every answer waits for Kafka's acknowledgement.
Goal (issue 22): each protocol's events/s within 25% of native batches.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import os
import time
import uuid
from urllib.parse import quote

import orjson

from bench.collector.run import load, mean, private_broker
from pipelines.stack.processes import start_collector, stop_process

# `native-click` is the baseline; `native-bare` (the load generator's `native`) the one of the earlier runs.
INTAKES = ("native-click", "native-bare", "sensors", "posthog", "segment")
PROTOCOLS = ("sensors", "posthog", "segment")
GOAL_RATIO = 0.75
CHAIN = 'button.buy:attr__data-action="buy"nth-child="2"nth-of-type="1"text="Buy";div:attr__id="main"nth-child="1"nth-of-type="1";body'


def protocol_request(protocol: str, batch: int, n: int, app_key: str, host: str, now: int) -> bytes:
    """One HTTP/1.1 request carrying `batch` click events of one device in `protocol`'s wire format."""
    device = f"bench-dev-{n % 5000}"
    if protocol == "native-click":  # the web SDK's click (sdk/js/src/index.ts) with the fields the protocol payloads carry
        events = [{"event_id": str(uuid.uuid4()), "event": "click", "ts": now, "ids": {"device_id": device}, "session_id": f"bench-s-{n % 5000}",
                   "context": {"platform": "web", "url": "https://shop.example/p/1", "title": "Product", "lib": "js", "lib_version": "1.26.0"},
                   "props": {"x": i, "y": 2 * i, "element_path": "body>div#main>button[data-action=buy]", "element_text": "Buy"}}
                  for i in range(batch)]  # fmt: skip
        return _request("/v1/batch", host, orjson.dumps(events), "application/json", {"X-App-Key": app_key})
    if protocol == "sensors":
        records = [{"type": "track", "event": "$WebClick", "time": now, "distinct_id": device, "_track_id": i,
                    "lib": {"$lib": "js", "$lib_version": "1.26.0"},
                    "properties": {"$url": "https://shop.example/p/1", "$title": "Product", "$page_x": i, "$page_y": 2 * i,
                                   "$element_selector": "body>div#main>button[data-action=buy]", "$element_content": "Buy"}}
                   for i in range(batch)]  # fmt: skip
        encoded = quote(base64.b64encode(gzip.compress(orjson.dumps(records))).decode(), safe="")
        return _request(f"/sa?project={app_key}", host, f"gzip=1&data_list={encoded}".encode(), "application/x-www-form-urlencoded", {})
    if protocol == "posthog":
        events = [{"event": "$autocapture", "distinct_id": device, "uuid": str(uuid.uuid4()), "timestamp": "2026-12-07T03:00:00.000Z",
                   "properties": {"$lib": "web", "$device_id": device, "$current_url": "https://shop.example/p/1", "title": "Product",
                                  "$event_type": "click", "$elements_chain": CHAIN, "x": i, "y": 2 * i}} for i in range(batch)]  # fmt: skip
        return _request("/batch/", host, orjson.dumps({"api_key": app_key, "batch": events}), "application/json", {})
    if protocol == "segment":
        messages = [{"type": "track", "event": "click", "anonymousId": device, "messageId": str(uuid.uuid4()), "timestamp": "2026-12-07T03:00:00.000Z",
                     "context": {"page": {"url": "https://shop.example/p/1", "title": "Product"}, "library": {"name": "analytics.js", "version": "1"}},
                     "properties": {"x": i, "y": 2 * i, "element_path": "body>div#main>button[data-action=buy]"}} for i in range(batch)]  # fmt: skip
        auth = "Basic " + base64.b64encode(f"{app_key}:".encode()).decode()
        return _request("/segment/v1/batch", host, orjson.dumps({"batch": messages}), "application/json", {"Authorization": auth})
    raise ValueError(f"unknown protocol {protocol!r}")


def _request(path: str, host: str, body: bytes, content_type: str, headers: dict[str, str]) -> bytes:
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n{extra}"
        f"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def protocol_requests(protocol: str, batch: int, count: int, app_key: str, host: str) -> list[bytes]:
    now = int(time.time() * 1000)
    return [protocol_request(protocol, batch, n, app_key, host, now) for n in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    # Each request is sent once: 4,000 ran out within 8 s once the collector took ~70-80k events/s (batches of 100).
    parser.add_argument("--requests", type=int, default=12_000, help="pre-built requests per intake and round")
    args = parser.parse_args()

    load_at_start = os.getloadavg()[0]
    runs: dict[str, list[dict]] = {intake: [] for intake in INTAKES}
    with private_broker() as (tmp, bootstrap):
        for round_number in range(args.rounds):
            process, url = start_collector(
                tmp / f"collector-{round_number}", bootstrap,
                collector_rate_per_s="1000000", collector_burst="1000000", collector_metrics_flush_s="0",
            )  # fmt: skip
            port = int(url.rsplit(":", 1)[1])
            try:
                shift = round_number % len(INTAKES)
                for intake in INTAKES[shift:] + INTAKES[:shift]:
                    # native-bare is the load generator's own native batch (build_bodies)
                    runs[intake].append(load(port, args.batch, 4, args.seconds, args.requests, "native" if intake == "native-bare" else intake))
            finally:
                stop_process(process)

    results = {intake: mean(runs[intake]) for intake in INTAKES}
    native, bare = results["native-click"], results["native-bare"]
    print(f"{'intake':<13}{'events/s':>10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'vs click':>10}{'vs bare':>9}  statuses")
    for intake in INTAKES:
        result = results[intake]
        ratio = result["events_per_s"] / max(native["events_per_s"], 1)
        bare_ratio = result["events_per_s"] / max(bare["events_per_s"], 1)
        print(
            f"{intake:<13}{result['events_per_s']:>10,.0f}{result['requests_per_s']:>9,.0f}{result['p50_ms']:>9.1f}"
            f"{result['p99_ms']:>9.1f}{ratio:>9.2f}x{bare_ratio:>8.2f}x  {result['status']}"
            f"{'  (ran out of pre-built requests)' if result['exhausted'] else ''}"
        )
    print(f"machine: {os.cpu_count()} cores, load average {load_at_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; {args.rounds} round(s) of {args.seconds:g} s per intake, "
          f"batches of {args.batch}; means shown")  # fmt: skip
    slowest = min(results[p]["events_per_s"] for p in PROTOCOLS)
    ratio, bare_ratio = slowest / max(native["events_per_s"], 1), slowest / max(bare["events_per_s"], 1)
    print(f"goal (each protocol >= {GOAL_RATIO:.2f}x native-click events/s): {'met' if ratio >= GOAL_RATIO else 'NOT met'} "
          f"(slowest {ratio:.2f}x; {bare_ratio:.2f}x against the old baseline, native-bare)")  # fmt: skip


if __name__ == "__main__":
    main()
