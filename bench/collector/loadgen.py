"""Load generator for the collector benchmark, run as its own process: keep-alive HTTP/1.1 connections on
loopback, each sending pre-built requests back to back, for a fixed time. Prints one JSON line of results.

A minimal asyncio client instead of httpx: the point is to measure the collector, and a general-purpose client
would be the bottleneck on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

import orjson


def build_bodies(batch: int, count: int, app_key: str, host: str) -> list[bytes]:
    now = int(time.time() * 1000)
    path = "/v1/events" if batch == 1 else "/v1/batch"
    requests = []
    for n in range(count):
        device = f"bench-dev-{n % 5000}"
        session = f"bench-s-{n % 5000}"
        events = [
            {
                "event_id": str(uuid.uuid4()),
                "event": "click",
                "ts": now,
                "ids": {"device_id": device},
                "session_id": session,
                "context": {"platform": "web", "url": "https://shop.example/p/1", "title": "Product"},
                "props": {"x": i, "y": 2 * i, "element_path": "body>div#main>button[data-action=buy]"},
            }
            for i in range(batch)
        ]
        body = orjson.dumps(events[0] if batch == 1 else events)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nX-App-Key: {app_key}\r\nContent-Type: application/json\r\n"
            f"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        requests.append(head.encode() + body)
    return requests


async def connection(host: str, port: int, requests: list[bytes], start: int, step: int, stop_at: float, out: dict) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    index = start
    while time.perf_counter() < stop_at and index < len(requests):
        sent = time.perf_counter()
        writer.write(requests[index])
        status_line = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        out["latencies"].append(time.perf_counter() - sent)
        status = int(status_line.split()[1])
        out["status"][status] = out["status"].get(status, 0) + 1
        index += step
    writer.close()


async def run(args) -> dict:
    host = f"{args.host}:{args.port}"
    if args.protocol == "native":
        requests = build_bodies(args.batch, args.requests, args.app_key, host)
    else:  # a web-SDK click or another vendor's wire format (bench/collector/protocols.py)
        from bench.collector.protocols import protocol_requests

        requests = protocol_requests(args.protocol, args.batch, args.requests, args.app_key, host)
    out = {"latencies": [], "status": {}}
    # Warm-up (UA cache, producer connections) outside the measured window.
    warm = {"latencies": [], "status": {}}
    await connection(args.host, args.port, requests, 0, 1, time.perf_counter() + 0.5, warm)
    offset = len(warm["latencies"])
    started = time.perf_counter()
    stop_at = started + args.seconds
    await asyncio.gather(
        *(connection(args.host, args.port, requests, offset + c, args.connections, stop_at, out) for c in range(args.connections))
    )
    elapsed = time.perf_counter() - started
    latencies = sorted(out["latencies"])
    ok = out["status"].get(200, 0)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")

    return {
        "batch": args.batch,
        "connections": args.connections,
        "seconds": round(elapsed, 2),
        "requests": len(latencies),
        "status": out["status"],
        "events_per_s": round(ok * args.batch / elapsed),
        "requests_per_s": round(len(latencies) / elapsed),
        "p50_ms": round(pct(0.50), 2),
        "p99_ms": round(pct(0.99), 2),
        "exhausted": offset + len(latencies) >= len(requests),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--app-key", default="demo-shop-key")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--requests", type=int, default=40_000, help="pre-built requests (each sent once)")
    parser.add_argument("--protocol", choices=("native", "native-click", "sensors", "posthog", "segment"), default="native")
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
