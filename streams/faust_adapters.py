"""The processors' I/O protocols (:mod:`streams.processor`) over Faust and confluent-kafka.

::

    Faust event ──raw_message()──► RawMessage(handle=event)
    TableStore.get/put(key, source) ──► faust Table (RocksDB + changelog) as source.handle's partition
    KafkaSink.send … flush() ──► confluent-kafka Producer (murmur2, idempotent); flush raises on any failure

Faust's own ``topic.send()`` costs about 380 µs a message; a confluent-kafka producer flushed once per
batch costs about 10 µs and, flushed before the batch is acknowledged, keeps at-least-once delivery.
"""

from __future__ import annotations

import weakref
from typing import Any

from streams.kafka_clients import producer_config
from streams.processor import RawMessage
from streams.settings import Settings


class SinkError(RuntimeError):
    """Outputs could not be delivered to Kafka; the batch must not be acknowledged."""


def enter_event(event: Any) -> None:
    """Make ``event`` Faust's *current event* again.

    Why: a Faust table chooses the partition of a write (and the RocksDB store the partition's database)
    from the current event, a context variable the stream sets for each event as it is iterated. With
    ``stream.take_events()`` the batch is handed over after iteration, so writing a key on behalf of one
    of its events fails ("Cannot modify table key from outside of stream iteration", an assertion in the
    RocksDB store). Setting the variable to the event whose key we write restores exactly what per-event
    iteration would have set. It is private API of faust-streaming 0.15 (``faust.streams._current_event``):
    this function is its only use, and the integration tests exercise it.
    """
    from faust.streams import _current_event

    _current_event.set(weakref.ref(event))


def raw_message(event: Any) -> RawMessage:
    """A Faust event as a :class:`RawMessage` (raw key and value bytes, timestamp in ms)."""
    m = event.message
    return RawMessage(m.topic, m.partition, m.offset, m.key, m.value, round(m.timestamp * 1000), event)


class TableStore:
    """:class:`~streams.processor.StateStore` over a Faust table with raw (bytes) keys and values."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def get(self, key: str, source: RawMessage) -> bytes | None:
        enter_event(source.handle)
        value: bytes | None = self.table.get(key.encode())
        return value

    def put(self, key: str, value: bytes, source: RawMessage) -> None:
        enter_event(source.handle)
        self.table[key.encode()] = value


class KafkaSink:
    """:class:`~streams.processor.OutputSink` over one confluent-kafka producer."""

    def __init__(self, settings: Settings, flush_timeout_s: float = 30.0) -> None:
        from confluent_kafka import Producer

        self._errors: list[str] = []
        self._timeout_s = flush_timeout_s
        config = producer_config(
            settings,
            {"linger.ms": 2, "client.id": f"{settings.app_id}-outputs", "on_delivery": self._delivered,
             "queue.buffering.max.messages": 500_000, "compression.type": "lz4"},
        )  # fmt: skip
        self._producer = Producer(config)

    def _delivered(self, error: Any, message: Any) -> None:
        if error is not None:
            self._errors.append(f"{message.topic()}: {error}")

    def send(self, topic: str, key: bytes, value: bytes, partition: int | None = None) -> None:
        produce = self._producer.produce
        while True:
            try:
                if partition is None:
                    produce(topic, value=value, key=key)
                else:
                    produce(topic, value=value, key=key, partition=partition)
                return
            except BufferError:  # the local queue is full: let deliveries drain
                self._producer.poll(0.1)

    def flush(self) -> None:
        left = self._producer.flush(self._timeout_s)
        if left or self._errors:
            errors, self._errors = self._errors, []
            detail = "; ".join(errors[:3]) or f"{left} messages still queued after {self._timeout_s} s"
            raise SinkError(f"outputs not delivered: {detail}")

    def close(self) -> None:
        self._producer.flush(self._timeout_s)
