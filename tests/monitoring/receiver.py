"""A local webhook receiver for the tests and drills: an HTTP server on a free port that keeps every JSON body it
was sent (with the time it came), answering with the status and body the test scripts."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pipelines.ports import free_port


class WebhookReceiver:
    def __init__(self, answers: list[tuple[int, str]] | None = None, default: tuple[int, str] = (200, "ok")):
        self.received: list[tuple[float, str, dict]] = []  # (arrival time, path with query, body)
        self.answers = list(answers or [])
        self.default = default
        self.port = free_port()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"null")
                owner.received.append((time.time(), self.path, body))
                status, text = owner.answers.pop(0) if owner.answers else owner.default
                payload = text.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def bodies(self) -> list[dict]:
        return [body for _, _, body in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
