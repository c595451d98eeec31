"""Run the collector: `python -m pipelines.collect.server --port 8090` (what `trackflow up` and
`trackflow collector run` start)."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from pipelines.collect.app import create_app
from pipelines.config import get_settings
from pipelines.serving import freeze_startup_heap


def serve(port: int, host: str = "127.0.0.1", log_level: str = "warning") -> None:
    settings = get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # kafka-python logs every connection step at INFO; the collector's own log says when Kafka goes and returns.
    logging.getLogger("kafka").setLevel(logging.WARNING)
    app = create_app(settings, port=port)
    # Each batch request allocates thousands of short-lived objects: with the default thresholds the collector
    # spent its tail latency in collections over its long-lived state.
    freeze_startup_heap()
    # One worker process on purpose: the spool and the per-session context cache belong to one process; scale out
    # by running more collectors (each with its own port and spool) behind a load balancer.
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False, lifespan="on", timeout_graceful_shutdown=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=get_settings().collector_port)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    serve(args.port, args.host, args.log_level)


if __name__ == "__main__":
    main()
