"""Loopback ports: a free one to bind, and whether one is taken. The ground floor for the stack, which picks its
components' ports, and the Flink session cluster, which picks its JobManager's."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
