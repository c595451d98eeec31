"""Lookup service throughput and latency over HTTP on loopback.

The server (uvicorn + Starlette, one worker process) is pinned to one core; the load comes from this process,
pinned to the other core: keep-alive HTTP/1.1 connections on raw asyncio streams (a full HTTP client would cost
more than the server and measure itself). The index holds a synthetic world; lookups hit random known ids (some
unknown and some person reads mixed in, as a real caller would).

Closed loop (each connection sends its next request when the answer is in) at 1, 4, 8 and `--connections`
connections gives the most one core answers; then an open loop paced at `--rate` requests/s (the goal's rate)
measures latency from each request's scheduled send time, so a stalled server counts the requests it delayed
(no coordinated omission).

    .venv/bin/python -m bench.oneid.lookup [--persons 20000] [--seconds 10] [--connections 32] [--rate 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import socket
import time

import numpy as np

from pipelines.ports import free_port

TOKEN = "bench-token"


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (warm-up requests included: they ran between the two readings too)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def build_index(persons: int):
    from pathlib import Path

    from pipelines.identity.index import OneIdIndex
    from pipelines.identity.links import links_of_events
    from pipelines.identity.offline import recompute
    from pipelines.identity.reconcile import offline_persons
    from pipelines.identity.rules import load_rules
    from pipelines.identity.synthetic import generate
    from pipelines.identity.changes import person_message

    rules = load_rules(Path("identity.yaml"))
    world = generate(rules, persons=persons, seed=1)
    result = recompute(rules, links_of_events(rules, world.events))
    index = OneIdIndex()
    for version, person in enumerate(offline_persons(result).values(), 1):
        index.apply_json(person_message(person, version, "offline"))
    return rules, index


def serve(port: int, persons: int, core: int) -> None:
    os.sched_setaffinity(0, {core})
    import uvicorn

    from pipelines.config import Settings
    from pipelines.identity.service import create_app

    rules, index = build_index(persons)
    app = create_app(Settings(oneid_tokens=[TOKEN]), index, rules)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False, http="httptools", loop="uvloop")


def requests_for(persons: int, count: int) -> list[bytes]:
    rng = random.Random(2)
    paths = []
    for _ in range(count):
        person = rng.randrange(persons)
        roll = rng.random()
        if roll < 0.80:
            paths.append(f"/v1/oneid?type=device_id&value=d-1-{person}-0")
        elif roll < 0.95:
            paths.append(f"/v1/oneid?type=user_id&value=U1x{person}")
        else:
            paths.append(f"/v1/oneid?type=cookie_id&value=missing{person}")
    return [f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode() for p in paths]


async def _connection(port: int, requests: list[bytes], stop_at: float, latencies: list[float], statuses: dict,
                      interval: float = 0.0) -> None:  # fmt: skip
    """Closed loop when `interval` is 0, else one request every `interval` seconds timed from its scheduled start."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    scheduled = time.perf_counter()
    while time.perf_counter() < stop_at:
        request = requests[i % len(requests)]
        i += 1
        if interval:
            scheduled += interval
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            started = scheduled
        else:
            started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
        status = head[9:12]
        statuses[status] = statuses.get(status, 0) + 1
    writer.close()


async def load(port: int, persons: int, seconds: float, connections: int, rate: float = 0.0) -> dict:
    requests = requests_for(persons, 50_000)
    latencies: list[float] = []
    statuses: dict = {}
    await asyncio.gather(*(_connection(port, requests[c::connections], time.perf_counter() + 1.0, [], {}) for c in range(connections)))  # warm-up
    started = time.perf_counter()
    stop_at = started + seconds
    interval = connections / rate if rate else 0.0
    await asyncio.gather(*(_connection(port, requests[c::connections], stop_at, latencies, statuses, interval) for c in range(connections)))
    elapsed = time.perf_counter() - started
    values = np.array(latencies) * 1000
    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "p50_ms": float(np.percentile(values, 50)),
            "p99_ms": float(np.percentile(values, 99)), "statuses": {k.decode(): v for k, v in statuses.items()}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=float, default=5000.0, help="requests/s of the paced (open-loop) run; 0 skips it")
    args = parser.parse_args()
    port = free_port()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(port, args.persons, 0), daemon=True)
    server.start()
    os.sched_setaffinity(0, {1 % os.cpu_count()})
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.3)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    runs = [(connections, 0.0) for connections in sorted({1, 4, 8, args.connections})]
    if args.rate:
        runs.append((8, args.rate))
    for connections, rate in runs:
        cpu_before = _cpu_seconds(server.pid)
        figures = asyncio.run(load(port, args.persons, args.seconds, connections, rate))
        # Requests per second of server CPU: what one core would answer if the machine were not shared.
        per_cpu_second = figures["requests"] / max(1e-9, _cpu_seconds(server.pid) - cpu_before)
        mode = f"paced {rate:,.0f}/s" if rate else "closed loop"
        print(f"{mode:>14}  connections={connections:3d}  {figures['rps']:8.0f} req/s  p50 {figures['p50_ms']:.2f} ms  "
              f"p99 {figures['p99_ms']:.2f} ms  {per_cpu_second:8.0f} req per server CPU-second  "
              f"({figures['requests']:,} requests, statuses {figures['statuses']})")  # fmt: skip
    print(f"load average during the run: {os.getloadavg()}")
    server.terminate()
    server.join(10)


if __name__ == "__main__":
    main()
