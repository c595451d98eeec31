"""Process settings shared by the long-running HTTP services (collector, OneID lookup)."""

from __future__ import annotations

import gc


def freeze_startup_heap(young_threshold: int = 20_000) -> None:
    """Take what a service built at start-up (a producer, caches, a lookup index of millions of objects) out of
    the cyclic garbage collector, and collect the young generation less often. Otherwise every full collection
    walks that long-lived heap while requests wait: the tail latency becomes the collector's. Call it once the
    long-lived state exists; the state stays reference-counted, so replacing it later still frees it."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(young_threshold, 20, 50)
