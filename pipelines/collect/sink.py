"""Delivery to Kafka with a durable spool behind it.

`deliver()` answers ACKED only once the broker acknowledged every record (acks=all, idempotent producer), or
SPOOLED once they are fsync'd in the local spool because Kafka is unreachable. While the spool holds anything,
new records are spooled too, so a replay keeps the original order. A background task replays the spool in
order when Kafka answers again, then switches back to direct delivery.

After an outage the producer is rebuilt: the idempotent producer's sequence numbers belong to the broker
session that failed, and a restarted broker would refuse them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from kafka import KafkaProducer

from pipelines.collect.spool import Record, Spool, SpoolFull
from pipelines.errors import ServiceUnavailable

log = logging.getLogger("trackflow.collector.sink")

ACKED, SPOOLED = "acked", "spooled"
REPLAY_CHUNK = 500
PROBE_INTERVAL_S = 1.0


class KafkaUnavailable(ServiceUnavailable):
    """The broker is not taking records."""


class Sink:
    def __init__(
        self,
        make_producer: Callable[[], KafkaProducer],
        spool: Spool,
        prepare_topics: Callable[[], object] = lambda: None,
        on_state: Callable[[bool], None] = lambda up: None,
    ):
        self._make_producer = make_producer
        self._prepare_topics = prepare_topics
        self._on_state = on_state
        self.spool = spool
        self._producer: KafkaProducer | None = None
        # One thread owns the spool files; another the producer's set-up and tear-down, which can block for
        # seconds on an unreachable broker and must not hold up spooling.
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool")
        self._kafka_io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kafka-connect")
        self._spool_lock = asyncio.Lock()
        self.kafka_up = False  # until connected; leftovers from a previous run are replayed before anything new
        self._replay_task: asyncio.Task | None = None
        self._stopping = False

    # -- lifecycle ------------------------------------------------------------------------------------------------
    async def start(self, wait_s: float = 3.0) -> None:
        """Connect in the background; wait a little so the first requests usually go straight to Kafka, but
        never block start-up on an unreachable broker (events are spooled meanwhile)."""
        self._replay_task = asyncio.create_task(self._replay_loop())
        deadline = time.monotonic() + wait_s
        while not self.kafka_up and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if not self.kafka_up:
            log.warning("Kafka not reachable at start; spooling until it is")

    async def stop(self) -> None:
        self._stopping = True
        if self._replay_task:
            self._replay_task.cancel()
            try:
                await self._replay_task
            except asyncio.CancelledError:
                pass
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await asyncio.get_running_loop().run_in_executor(self._kafka_io, lambda: producer.close(timeout=5))
        self._io.shutdown(wait=True)
        self._kafka_io.shutdown(wait=False, cancel_futures=True)

    def _open_producer(self) -> None:
        if self._producer is None:
            self._prepare_topics()
            self._producer = self._make_producer()

    def _drop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=0)
            except Exception:  # closing a producer whose broker is gone may complain; it is discarded anyway
                log.debug("closing failed producer", exc_info=True)

    def _set_state(self, up: bool) -> None:
        if up != self.kafka_up:  # log transitions only; the gauge is set every time
            log.warning("Kafka %s", "is back: direct delivery" if up else "unreachable: spooling to disk")
        self.kafka_up = up
        self._on_state(up)

    # -- delivery -------------------------------------------------------------------------------------------------
    async def deliver(self, records: list[Record]) -> str:
        """ACKED or SPOOLED; raises SpoolFull when neither Kafka nor the spool can take the records."""
        if not records:
            return ACKED
        if self.kafka_up and self._producer is not None:
            try:
                await self._send_and_wait(records)
                return ACKED
            except KafkaUnavailable as exc:
                log.warning("delivery failed (%s); spooling", exc)
                self._set_state(False)
                # Records the broker did acknowledge are spooled again too: duplicates carry the same event_id and
                # are collapsed downstream, while dropping them would lose acknowledged data.
        return await self._spool(records)

    async def _spool(self, records: list[Record]) -> str:
        async with self._spool_lock:
            await asyncio.get_running_loop().run_in_executor(self._io, self.spool.append, records)
        return SPOOLED

    async def _send_and_wait(self, records: list[Record]) -> None:
        producer = self._producer
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        remaining = len(records)

        def acked(_metadata) -> None:
            nonlocal remaining
            remaining -= 1
            if remaining == 0 and not done.done():
                done.set_result(None)

        def failed(exc: BaseException) -> None:
            if not done.done():
                done.set_exception(KafkaUnavailable(f"{exc.__class__.__name__}: {exc}"))

        def on_ack(metadata) -> None:  # called on the producer's I/O thread
            loop.call_soon_threadsafe(acked, metadata)

        def on_error(exc) -> None:
            loop.call_soon_threadsafe(failed, exc)

        try:
            for record in records:
                future = producer.send(record.topic, key=record.key, value=record.value)
                future.add_callback(on_ack)
                future.add_errback(on_error)
        except Exception as exc:  # buffer full / metadata unavailable: the broker is not taking records
            raise KafkaUnavailable(f"{exc.__class__.__name__}: {exc}") from None
        await done

    # -- replay ---------------------------------------------------------------------------------------------------
    async def _replay_loop(self) -> None:
        while not self._stopping:
            if self.kafka_up and self._producer is not None:
                await asyncio.sleep(PROBE_INTERVAL_S)
                continue
            try:
                await self._replay_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("replay attempt failed (%s: %s); retrying", exc.__class__.__name__, exc)
                await asyncio.get_running_loop().run_in_executor(self._kafka_io, self._drop_producer)
                await asyncio.sleep(PROBE_INTERVAL_S)

    async def _replay_once(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._kafka_io, self._drop_producer)
        await loop.run_in_executor(self._kafka_io, self._open_producer)
        started, replayed = time.monotonic(), 0
        while True:
            records, position = await loop.run_in_executor(self._io, self.spool.read, REPLAY_CHUNK)
            if not records:
                async with self._spool_lock:
                    # Re-check under the lock: a request may have spooled between the read and here.
                    records, position = await loop.run_in_executor(self._io, self.spool.read, REPLAY_CHUNK)
                    if not records:
                        self._set_state(True)
                        if replayed:
                            log.warning("replayed %d spooled records in %.1fs", replayed, time.monotonic() - started)
                        return
            await self._send_and_wait(records)
            await loop.run_in_executor(self._io, self.spool.commit, position)
            replayed += len(records)


__all__ = ["ACKED", "SPOOLED", "Sink", "SpoolFull", "Record"]
