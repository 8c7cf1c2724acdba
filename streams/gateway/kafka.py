"""The gateway's Kafka shell: a producer whose sends are awaited until the broker acknowledges them, and a
follower of the receipts topic feeding the in-memory index.

::

    handler ──await EventProducer.send(topic, key, value)──► confluent Producer (murmur2, idempotent,
                 ▲                                              acks=all) ── poll thread ── delivery report
                 └──────────── future resolved on the event loop ◄──────────────────────┘
    odometer.receipts (every partition, assigned: no consumer group, no commits)
        ── ReceiptFollower thread: consume, decode ──call_soon_threadsafe──► on_receipts(list[Receipt])

The follower starts ``window_s`` back in time (``offsets_for_times``), so a restarted instance knows the
receipts of that window; :attr:`ReceiptFollower.caught_up` turns true once it has read up to the end
offsets it found at start (``/health`` reports it).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, KafkaException, Producer, TopicPartition

from schemas.codec import Codec
from schemas.errors import DecodeError
from schemas.records import Receipt
from streams.kafka.admin import topic_partitions
from streams.kafka.clients import consumer_config, producer_config
from streams.settings import Settings

log = logging.getLogger(__name__)


class ProduceError(RuntimeError):
    """The event could not be written to Kafka (nothing was written, or the broker never acknowledged)."""


class EventProducer:
    """confluent-kafka producer with awaitable sends; one poll thread serves the delivery reports."""

    def __init__(self, settings: Settings, *, timeout_s: float = 10.0) -> None:
        self.timeout_s = timeout_s
        extra = {"client.id": "carpass-gateway", "linger.ms": 1, "message.timeout.ms": int(timeout_s * 1000)}
        self._producer = Producer(producer_config(settings, extra))
        self._running = True
        self._reports: list[tuple[asyncio.Future[None], Any]] = []
        self._thread = threading.Thread(target=self._poll, name="gateway-producer", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        # Delivery reports are collected during one poll() and handed to the event loop in one call: one
        # loop wake-up per poll rather than per record (it matters at hundreds of requests a second).
        while self._running:
            self._producer.poll(0.05)
            if self._reports:
                reports, self._reports = self._reports, []
                try:
                    reports[0][0].get_loop().call_soon_threadsafe(_settle_all, reports)
                except RuntimeError:  # the event loop is closed: the gateway is stopping
                    return

    async def send(self, topic: str, key: str, value: bytes) -> None:
        """Return once the broker has the record (acks=all); raise :class:`ProduceError` otherwise.

        librdkafka reports every record, an undeliverable one after ``message.timeout.ms``
        (``timeout_s``), so the wait is bounded without a timer of its own."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def report(error: Any, message: Any) -> None:  # on the poll thread, inside poll()
            self._reports.append((done, error))

        try:
            self._producer.produce(topic, key=key.encode(), value=value, on_delivery=report)
        except (BufferError, KafkaException) as exc:
            raise ProduceError(f"the producer refused the record: {exc}") from exc
        await done

    def close(self) -> None:
        self._running = False
        self._thread.join(5)
        self._producer.flush(5)


def _settle_all(reports: list[tuple[asyncio.Future[None], Any]]) -> None:
    for done, error in reports:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(ProduceError(str(error)))


class ReceiptFollower:
    """Reads every partition of ``topic`` from ``window_s`` ago, forever, in a daemon thread."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        codec: Codec,
        on_receipts: Callable[[list[Receipt]], None],
        loop: asyncio.AbstractEventLoop,
        *,
        window_s: float,
    ) -> None:
        self.topic = topic
        self.codec = codec
        self.on_receipts = on_receipts
        self.loop = loop
        self.window_s = window_s
        self.caught_up = False
        self.received = 0
        self.undecodable = 0
        self._ends: dict[int, int] = {}
        self._running = True
        # A group id is required by librdkafka; it is never joined (assign) nor committed to.
        group = f"carpass-gateway-{uuid.uuid4().hex[:12]}"
        self._consumer = Consumer(
            consumer_config(settings, group, {"fetch.wait.max.ms": 20, "client.id": "carpass-gateway"})
        )
        self._thread = threading.Thread(target=self._run, name="gateway-receipts", daemon=True)

    def start(self, timeout_s: float = 20.0) -> None:
        """Assign every partition (raises :class:`KafkaException` if the topic cannot be described)."""
        since_ms = int((time.time() - self.window_s) * 1000)
        partitions = topic_partitions(self._consumer, self.topic, timeout_s)
        wanted = [TopicPartition(self.topic, p, since_ms) for p in partitions]
        found = self._consumer.offsets_for_times(wanted, timeout=timeout_s)
        starts = [TopicPartition(self.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_END)
                  for tp in found]  # fmt: skip
        for tp in starts:
            low, high = self._consumer.get_watermark_offsets(tp, timeout=timeout_s)
            start = tp.offset if tp.offset >= 0 else high
            if high > max(start, low):
                self._ends[tp.partition] = high
        self.caught_up = not self._ends
        self._consumer.assign(starts)
        self._thread.start()

    def _run(self) -> None:
        while self._running:
            try:
                messages = self._consumer.consume(500, 0.1)
            except KafkaException as exc:  # transient: the broker went away; librdkafka reconnects
                log.warning("receipts follower: %s", exc)
                time.sleep(0.5)
                continue
            receipts = []
            for message in messages:
                if message.error() is not None:
                    continue
                self._progress(message.partition() or 0, message.offset() or 0)
                try:
                    receipts.append(self.codec.decode(message.value() or b"", Receipt))
                except DecodeError:
                    self.undecodable += 1
            if receipts:
                self.received += len(receipts)
                try:
                    self.loop.call_soon_threadsafe(self.on_receipts, receipts)
                except RuntimeError:  # the event loop is closed: the gateway is stopping
                    return

    def _progress(self, partition: int, offset: int) -> None:
        end = self._ends.get(partition)
        if end is not None and offset + 1 >= end:
            del self._ends[partition]
            self.caught_up = not self._ends

    def close(self) -> None:
        self._running = False
        if self._thread.is_alive():
            self._thread.join(5)
        self._consumer.close()
