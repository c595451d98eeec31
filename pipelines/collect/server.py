"""Run the collector: `python -m pipelines.collect.server --port 8090` (what `trackflow up` and
`trackflow collector run` start).

SIGTERM (what `trackflow down` sends) is a graceful stop: uvicorn closes the listening socket, lets requests in
flight finish, then the app's shutdown flushes the producer and fsyncs the journal; the process exits 0.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

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
    # uvicorn re-raises the SIGTERM it handled once it has shut down; with the default handler that kills the
    # process (exit status -15) after a clean stop. This handler turns it into the exit status 0 it deserves.
    signal.signal(signal.SIGTERM, _exit_after_graceful_stop)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False, lifespan="on", timeout_graceful_shutdown=10)


def _exit_after_graceful_stop(signum, frame) -> None:
    sys.exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=get_settings().collector_port)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    serve(args.port, args.host, args.log_level)


if __name__ == "__main__":
    main()
