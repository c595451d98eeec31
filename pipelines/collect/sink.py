"""Delivery to Kafka with a durable spool behind it.

`deliver()` answers ACKED only once the broker acknowledged every record (acks=all, idempotent producer), or
SPOOLED once they are fsync'd in the local spool because Kafka is unreachable. While the spool holds anything,
new records are spooled too, so a replay keeps the original order. A background task replays the spool in
order when Kafka answers again, then switches back to direct delivery.

After an outage the producer is rebuilt: the idempotent producer's sequence numbers belong to the broker
session that failed, and a restarted broker would refuse them.

Broker address: every connection attempt reads it afresh (the embedded broker's port file in the state dir may name
a new port after a restart) and passes that one address to the topic preparation, the incarnation read and the
producer. While delivering directly, the once-a-second probe compares it with the producer's: a broker that moved is
followed at once, without waiting for deliveries to the old port to time out. Each attempt is bounded by the
callables' own short connect timeout, so a dead address holds the one connecting thread for a moment, not for
kafka-python's 30 s default bootstrap.

Broker loss: with a journal (pipelines/collect/journal.py), every acknowledged record — direct or replayed from
the spool — is journaled under the broker incarnation the sink believes current. The incarnation is read at every
producer (re)open and every second while delivering directly. When the journal holds segments of another
incarnation (the broker restarted, possibly while the collector was down, possibly on another port), the sink
stops direct delivery (new requests spool behind), reconnects, replays those segments' records inside the window
in order, journals them again under the new incarnation, deletes the old segments, then replays the spool:
old acknowledged records first, then what arrived meanwhile. Duplicates are possible (a record both the new
broker and the journal hold), loss is not; the detail layer dedups by event_id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from kafka import KafkaProducer

from pipelines.collect.journal import Journal, Segment, read_entries
from pipelines.collect.spool import Record, Spool, SpoolFull
from pipelines.errors import ServiceUnavailable

log = logging.getLogger("trackflow.collector.sink")

ACKED, SPOOLED = "acked", "spooled"
REPLAY_CHUNK = 500
PROBE_INTERVAL_S = 1.0
DRAIN_WAIT_S = 10.0  # longest a broker-loss replay waits for direct deliveries already in flight


class KafkaUnavailable(ServiceUnavailable):
    """The broker is not taking records."""


class Sink:
    def __init__(
        self,
        make_producer: Callable[[str], KafkaProducer],
        spool: Spool,
        prepare_topics: Callable[[str], object] = lambda address: None,
        on_state: Callable[[bool], None] = lambda up: None,
        journal: Journal | None = None,
        read_incarnation: Callable[[str], str | None] = lambda address: None,
        on_replayed: Callable[[int], None] = lambda records: None,
        broker_address: Callable[[], str] = lambda: "",
    ):
        self._make_producer = make_producer
        self._broker_address = broker_address
        self._prepare_topics = prepare_topics
        self._on_state = on_state
        self.spool = spool
        self.journal = journal
        self._read_incarnation = read_incarnation
        self._on_replayed = on_replayed
        self._producer: KafkaProducer | None = None
        self.incarnation: str | None = None  # of the broker the producer talks to, as last read
        self.address: str | None = None  # the bootstrap address the producer was opened on
        self._in_flight = 0  # direct deliveries awaiting their acks
        self._maintained_at = 0.0
        self._journal_failing = False  # log a failing journal once, not per request
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
        loop = asyncio.get_running_loop()
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await loop.run_in_executor(self._kafka_io, lambda: producer.close(timeout=5))
        if self.journal is not None:
            await loop.run_in_executor(self._io, self.journal.close)
        self._io.shutdown(wait=True)
        self._kafka_io.shutdown(wait=False, cancel_futures=True)

    def _open_producer(self) -> str | None:
        """Prepare the topics and open the producer on the broker's current address; returns the broker's
        incarnation (None without a journal: nothing would use it)."""
        address = self._broker_address()
        self._prepare_topics(address)
        incarnation = self._current_incarnation(address) if self.journal is not None else None
        self._producer = self._make_producer(address)
        self.address = address
        return incarnation

    def _current_incarnation(self, address: str) -> str:
        incarnation = self._read_incarnation(address)
        if incarnation is None:  # a broker nobody has prepared since it (re)started: it lost its topics
            self._prepare_topics(address)
            incarnation = self._read_incarnation(address)
        if not incarnation:
            raise KafkaUnavailable("the broker has no incarnation marker even after preparing its topics")
        return incarnation

    def _drop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is None:
            return
        # Its records still pending cannot reach the broker it was opened on: fail them now (their requests spool
        # them) and stop its I/O thread. kafka-python's close(timeout=0) flushes first and, with records pending,
        # raises before it force-closes: every outage left a producer thread reconnecting to the old address.
        producer._sender.force_close()
        try:
            producer.close(timeout=1)
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
            incarnation = self.incarnation
            self._in_flight += 1
            try:
                await self._send_and_wait(records)
            except KafkaUnavailable as exc:
                log.warning("delivery failed (%s); spooling", exc)
                self._set_state(False)
                # Records the broker did acknowledge are spooled again too: duplicates carry the same event_id and
                # are collapsed downstream, while dropping them would lose acknowledged data.
            else:
                self._journal(records, incarnation)
                return ACKED
            finally:
                self._in_flight -= 1
        return await self._spool(records)

    def _journal(self, records: list[Record], incarnation: str | None) -> None:
        if self.journal is None or incarnation is None:
            return
        try:
            self.journal.append(records, incarnation)
        except OSError as exc:  # the records are in Kafka: answer as delivered, but say they are not replayable
            if not self._journal_failing:
                log.error("journal write failed (%s); acknowledged records are not replayable after a broker loss", exc)
            self._journal_failing = True
        else:
            self._journal_failing = False

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
            await self._maintain_journal()
            if self.kafka_up and self._producer is not None:
                await asyncio.sleep(PROBE_INTERVAL_S)
                await self._watch_broker()
                continue
            try:
                await self._replay_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("replay attempt failed (%s: %s); retrying", exc.__class__.__name__, exc)
                await asyncio.get_running_loop().run_in_executor(self._kafka_io, self._drop_producer)
                await asyncio.sleep(PROBE_INTERVAL_S)

    async def _maintain_journal(self) -> None:
        """Once a second: delete segments past the window, fsync the open one (bounds what a machine crash loses)."""
        if self.journal is None or time.monotonic() - self._maintained_at < PROBE_INTERVAL_S:
            return
        self._maintained_at = time.monotonic()
        self.journal.expire()
        await asyncio.get_running_loop().run_in_executor(self._io, self.journal.sync)

    async def _watch_broker(self) -> None:
        """While delivering directly: has the broker moved to another address, or lost its records, since the
        producer was opened?"""
        loop = asyncio.get_running_loop()
        address = self._broker_address()
        if address != self.address:
            log.warning("broker moved (%s -> %s): spooling new requests while the producer reconnects", self.address, address)
            self._set_state(False)
            # Deliveries in flight to the old address cannot be acknowledged: closing the producer fails them now
            # (they are spooled and replayed to the new address) instead of after the ack timeout.
            await loop.run_in_executor(self._kafka_io, self._drop_producer)
        else:
            if self.journal is None:
                return
            try:
                current = await loop.run_in_executor(self._kafka_io, self._current_incarnation, address)
            except Exception as exc:  # unreachable now: a failing delivery switches to the spool, not this probe
                log.debug("incarnation probe failed (%s: %s)", exc.__class__.__name__, exc)
                return
            if current == self.incarnation and not self.journal.foreign(current):
                return
            log.warning("broker incarnation changed (%s -> %s): spooling new requests while the journal is replayed", self.incarnation, current)
            self._set_state(False)
        # Deliveries in flight finish first (journaled or spooled), so the replay sees every record they journal.
        deadline = time.monotonic() + DRAIN_WAIT_S
        while self._in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def _replay_once(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._kafka_io, self._drop_producer)
        self.incarnation = await loop.run_in_executor(self._kafka_io, self._open_producer)
        if self.journal is not None:
            await self._replay_journal(self.incarnation)
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
            self._journal(records, self.incarnation)
            await loop.run_in_executor(self._io, self.spool.commit, position)
            replayed += len(records)

    async def _replay_journal(self, incarnation: str) -> None:
        """Replay, in order, the journaled records an earlier broker incarnation acknowledged (inside the window),
        journal them again under `incarnation`, then delete the old segments. An interruption leaves the old
        segments in place: the next attempt starts them over (duplicates, never loss)."""
        segments: list[Segment] = self.journal.foreign(incarnation)
        if not segments:
            return
        loop = asyncio.get_running_loop()
        started, window_start_ms = time.monotonic(), self.journal.window_start_ms()
        replayed = expired = 0
        for segment in segments:
            offset = 0
            while True:
                entries, offset = await loop.run_in_executor(self._io, read_entries, segment.path, offset, REPLAY_CHUNK)
                if not entries:
                    break
                inside = [entry for entry in entries if entry.acked_ms >= window_start_ms]
                expired += len(entries) - len(inside)
                records = [entry.record for entry in inside]
                if records:
                    await self._send_and_wait(records)
                    # Journaled again with the first acknowledgement's time: the window bounds how long after
                    # acceptance a record may still be on its way to the warehouse. A replay's own time would
                    # restart it, and every later broker loss inside it would replay everything since the first.
                    self.journal.append(records, incarnation, [entry.acked_ms for entry in inside])
                    replayed += len(records)
                    self._on_replayed(len(records))
        self.journal.drop(segments)
        lost_from = sorted({segment.incarnation for segment in segments})
        log.warning(
            "broker incarnation %s replaced %s: replayed %d journaled records from %d segments in %.1fs "
            "(%d older than the %.0fs window not replayed)",
            incarnation, ", ".join(lost_from), replayed, len(segments), time.monotonic() - started, expired, self.journal.retention_s,
        )  # fmt: skip


__all__ = ["ACKED", "SPOOLED", "Sink", "SpoolFull", "Record"]
