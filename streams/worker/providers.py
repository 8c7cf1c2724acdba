"""The registry of providers on every worker: ``providers.registry`` read whole into a
:class:`~streams.domain.providers.ProviderBook`, and a gate that holds readings until it is read far enough.

::

    providers.registry (every partition, from the start; no group) ──thread──► ProviderBook.add
                                                                            └► per partition: offset, time
    the vehicle agent's batch (newest record time T) ──ready_through(T)?──► judged with the book
                                               └─ not yet: held (the registry is read on; a log line a while)

A reading is judged with the registry as it stood when it was sent (``ProviderBook.standing``), so what
the book holds beyond that does not matter; what matters is that nothing registered before it is missing.
``ready_through(T)`` holds when every partition of the registry has been read past a record stamped T or
later, or to the end the broker reported in a fetch made after T (an idle partition: nothing older can
come). A batch of live readings (T about now) waits for the next fetch, a few tens of milliseconds; a
replay (T in the past) does not wait once the registry is read. A record stamped in the future (a producer's
clock) is taken as stamped now, so it cannot hold a partition back. The registry is small (about 14,100
providers in 2024) and written by the registry's own producers: a record that does not decode is logged
and counted (``undecodable``), not dead-lettered (every worker reads every record).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from schemas.codec import Codec
from schemas.errors import DecodeError
from schemas.records import ProviderRegistration
from streams.domain.providers import ProviderBook
from streams.kafka.admin import topic_partitions
from streams.kafka.clients import consumer_config
from streams.settings import Settings

log = logging.getLogger(__name__)

FETCH_WAIT_MS = 10
"""The longest a fetch of an idle registry partition waits on the broker: about what a batch of live
readings waits at the gate. ``bench_pipeline`` (5,000 vehicles, 2,500 readings/s, busy machine): 50 ms gave
p50 285 ms, p99 656 ms; 10 ms gave p50 68 ms, p99 208 ms (the registry off: 35 ms, 184 ms)."""


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)


class ProviderFollower:
    """Reads every partition of the registry topic from its start into :attr:`book`, in a daemon thread."""

    def __init__(
        self, settings: Settings, topic: str, codec: Codec, clock_ms: Callable[[], int] = _wall_clock_ms
    ) -> None:
        self.topic = topic
        self.codec = codec
        self.clock_ms = clock_ms
        self.book = ProviderBook()
        self.read = 0
        self.undecodable = 0
        self._positions: dict[int, int] = {}
        """partition -> the offset after the last record added to the book."""
        self._stamps: dict[int, int] = {}
        """partition -> the timestamp of the last record added (ms)."""
        self._ends: dict[int, tuple[int, int]] = {}
        """partition -> (the broker's end offset, when it was learnt: a fetch's start at the latest, ms)."""
        self._running = False
        self._started = False
        group = f"carpass-providers-{uuid.uuid4().hex[:12]}"  # librdkafka wants one; never joined (assign)
        self._consumer = Consumer(consumer_config(
            settings, group, {"fetch.wait.max.ms": FETCH_WAIT_MS, "client.id": "carpass-providers"}
        ))  # fmt: skip
        self._thread = threading.Thread(target=self._run, name="providers-registry", daemon=True)

    def start(self, timeout_s: float = 20.0) -> None:
        """Assign every partition from its start (:class:`KafkaException`: the topic cannot be described)."""
        partitions = topic_partitions(self._consumer, self.topic, timeout_s)
        self._positions = dict.fromkeys(partitions, 0)
        self._consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions])
        self._running = True
        self._thread.start()
        self._started = True

    def ready_through(self, stamp_ms: int) -> bool:
        """Whether every registration stamped at or before ``stamp_ms`` (capped at now) is in the book."""
        if not self._started:
            return False
        stamp = min(stamp_ms, self.clock_ms())
        stamps, ends = self._stamps, self._ends
        for partition, position in self._positions.items():
            if stamps.get(partition, -1) >= stamp:
                continue
            end = ends.get(partition)
            if end is None or position < end[0] or end[1] < stamp:
                return False
        return True

    def caught_up(self) -> bool:
        """Whether the book holds the registry up to the ends the broker last reported."""
        ends = self._ends
        return self._started and all(p in ends and pos >= ends[p][0] for p, pos in self._positions.items())

    def _run(self) -> None:
        consumer = self._consumer
        while self._running:
            fetched_since = self.clock_ms() - FETCH_WAIT_MS  # a fetch answered now started after this
            try:
                messages = consumer.consume(500, FETCH_WAIT_MS / 1000)
            except KafkaException as exc:  # transient: the broker went away; librdkafka reconnects
                log.warning("providers registry follower: %s", exc)
                time.sleep(0.5)
                continue
            for message in messages:
                if message.error() is not None:
                    continue
                partition, offset = message.partition() or 0, message.offset() or 0
                try:
                    self.book.add(self.codec.decode(message.value() or b"", ProviderRegistration))
                    self.read += 1
                except DecodeError as exc:
                    self.undecodable += 1
                    log.error("providers.registry[%d]@%d is not a ProviderRegistration, skipped: %s",
                              partition, offset, exc)  # fmt: skip
                self._stamps[partition] = max(self._stamps.get(partition, -1), message.timestamp()[1])
                self._positions[partition] = offset + 1
            for partition in self._positions:
                try:
                    tp = TopicPartition(self.topic, partition)
                    _, high = consumer.get_watermark_offsets(tp, cached=True)
                except KafkaException:
                    continue
                if high >= 0:
                    self._ends[partition] = (high, fetched_since)

    def close(self) -> None:
        self._running = False
        if self._thread.is_alive():
            self._thread.join(5)
        self._consumer.close()
