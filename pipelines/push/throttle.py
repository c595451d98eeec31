"""A rows/s limit shared by all of a push's parallel chunks (a token bucket; DataX's `speed.record`)."""

from __future__ import annotations

import threading
import time


class Throttle:
    """`take(n)` blocks until n more rows fit under `rows_per_s` (0: unlimited). Burst: one second's worth."""

    def __init__(self, rows_per_s: int, clock=time.monotonic, sleep=time.sleep):
        self.rows_per_s = rows_per_s
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._tokens = float(rows_per_s)
        self._updated = clock()

    def take(self, rows: int) -> None:
        if self.rows_per_s <= 0 or rows <= 0:
            return
        with self._lock:
            now = self._clock()
            self._tokens = min(self.rows_per_s, self._tokens + (now - self._updated) * self.rows_per_s) - rows
            self._updated = now
            debt = -self._tokens
        if debt > 0:  # sleep outside the lock: other chunks queue behind the debt already booked
            self._sleep(debt / self.rows_per_s)
