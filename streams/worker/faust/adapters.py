"""The processors' I/O protocols (:mod:`streams.worker.batch`) over Faust and confluent-kafka.

::

    KafkaSink.send … flush() ──► confluent-kafka Producer (murmur2, idempotent); flush raises on any failure
    TableStore.get(key, source)  ──► the Faust table's RocksDB database of source.partition
    TableStore.put … flush()     ──► changelog records on <app_id>-<table>-changelog (same partition), flushed
                                     ──► then the RocksDB puts ──► then Faust's persisted changelog offsets

Why the table is written around Faust's ``Table.__setitem__``: that path sends every changelog record
through Faust's producer buffer and aiokafka (hundreds of µs each, on the event loop that also feeds the
streams), which capped the worker near 1,300 readings/s. Here a batch's changelog records go through the
confluent-kafka producer in one flush. The order is what keeps the changelog the truth: RocksDB is written
only once the changelog holds the values, so a crash leaves RocksDB behind the changelog (recovery catches
up from the persisted offset), never ahead of it (a state no other worker could ever restore).
The table is still a Faust table: Faust creates its changelog, assigns its partitions with the inputs,
recovers it at start-up and keeps standbys; readers (``table[key]``, table routing) see the same data.
The Faust internals used (``Store._db_for_partition``, ``Store.set_persisted_offset``) are the ones its own
changelog recovery uses; they are reached through :mod:`streams.worker.faust.patches`, like every other.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaException  # caught per record sent: imported once, not per call

from streams.kafka.clients import producer_config
from streams.settings import Settings
from streams.worker.batch import RawMessage, RecordRefusedError
from streams.worker.faust.patches import partition_db, persist_offset


class SinkError(RuntimeError):
    """Outputs could not be delivered to Kafka; the batch must not be acknowledged."""


# librdkafka refuses these records at ``produce()`` for what they are (not for the state of the cluster):
# sending them again can never succeed.
_REFUSED_RECORDS = frozenset({"MSG_SIZE_TOO_LARGE", "_INVALID_ARG", "INVALID_RECORD", "_KEY_SERIALIZATION",
                              "_VALUE_SERIALIZATION"})  # fmt: skip


class KafkaSink:
    """:class:`~streams.worker.batch.OutputSink` over one confluent-kafka producer; remembers the offsets of
    delivered records on the topics given to :meth:`track`."""

    def __init__(self, settings: Settings, flush_timeout_s: float = 30.0) -> None:
        from confluent_kafka import Producer

        self._errors: list[str] = []
        self._timeout_s = flush_timeout_s
        self._tracked: set[str] = set()
        self._offsets: dict[str, dict[int, int]] = defaultdict(dict)
        config = producer_config(
            settings,
            {"linger.ms": 2, "client.id": f"{settings.group_id()}-outputs", "on_delivery": self._delivered,
             "queue.buffering.max.messages": 500_000,
             # a record not delivered within a flush fails within it too: nothing of a failed batch stays
             # queued for a later batch's flush to wait on (librdkafka's default is 5 minutes)
             "message.timeout.ms": max(1, round(flush_timeout_s * 900))},
        )  # fmt: skip
        self._producer = Producer(config)

    def track(self, topic: str) -> None:
        self._tracked.add(topic)

    def _delivered(self, error: Any, message: Any) -> None:
        if error is not None:
            self._errors.append(f"{message.topic()}: {error}")
        elif message.topic() in self._tracked:
            seen = self._offsets[message.topic()]
            partition, offset = message.partition(), message.offset()
            if offset > seen.get(partition, -1):
                seen[partition] = offset

    def take_offsets(self, topic: str) -> dict[int, int]:
        """Partition -> highest delivered offset on ``topic`` since the last call (tracked topics)."""
        return self._offsets.pop(topic, {})

    def send(self, topic: str, key: bytes, value: bytes | None, partition: int | None = None) -> None:
        """Queue one record; :class:`~streams.worker.batch.RecordRefusedError` when the producer refuses this
        record itself (too large, invalid): the caller decides what stands in for it."""
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
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                if error is not None and error.name() in _REFUSED_RECORDS:
                    size = len(key) + len(value or b"")
                    raise RecordRefusedError(f"{topic}: {error.str()} ({size:,} bytes)") from exc
                raise SinkError(f"{topic}: could not queue a record: {exc}") from exc

    def flush(self, timeout_s: float | None = None) -> None:
        """Wait until everything queued is on Kafka (at most ``timeout_s``, default the sink's); a
        :class:`SinkError` if anything was not delivered (a timeout, a broker's refusal): the batch is then
        tried again, its records sent again. It blocks the event loop while it waits."""
        timeout = self._timeout_s if timeout_s is None else timeout_s
        left = self._producer.flush(timeout)
        if left or self._errors:
            errors, self._errors = self._errors, []
            self._offsets.clear()
            detail = "; ".join(errors[:3]) or f"{left} messages still queued after {timeout} s"
            raise SinkError(f"outputs not delivered: {detail}")

    def pending(self) -> int:
        """Records queued or in flight, not yet acknowledged by the broker."""
        return len(self._producer)

    def close(self) -> None:
        self._producer.flush(self._timeout_s)


class TableStore:
    """:class:`~streams.worker.batch.StateStore` over a Faust table (raw bytes keys and values) whose writes
    go changelog first, RocksDB second (see the module docstring)."""

    def __init__(self, table: Any, sink: KafkaSink) -> None:
        self.table = table
        self.sink = sink
        self._pending: dict[tuple[int, bytes], bytes | None] = {}
        """(partition, key) -> the value to write, or ``None``: delete the key."""
        self._changelog: str | None = None
        self.companions: list[TableStore] = []
        """Stores whose pending writes :meth:`flush` stores with this one's, as one (``flush_together``)."""

    @property
    def changelog(self) -> str:
        if self._changelog is None:
            self._changelog = self.table.changelog_topic_name
            self.sink.track(self._changelog)
        return self._changelog

    def _db(self, partition: int) -> Any:
        return partition_db(self.table, partition)

    def get(self, key: str, source: RawMessage) -> bytes | None:
        raw = key.encode()
        where = (source.partition, raw)
        if where in self._pending:
            return self._pending[where]
        value: bytes | None = self._db(source.partition).get(raw)
        return value

    def put(self, key: str, value: bytes, source: RawMessage) -> None:
        self._pending[(source.partition, key.encode())] = value

    def delete(self, key: str, source: RawMessage) -> None:
        """Remove ``key`` (a tombstone on the changelog, then a RocksDB delete) at the next flush."""
        self._pending[(source.partition, key.encode())] = None

    def flush(self) -> None:
        """Changelog records on Kafka, then RocksDB, then the persisted offsets (with the companions'
        writes, as one). The pending writes are dropped whether this succeeds or raises: a failed batch is
        computed again from what is stored."""
        flush_together([self, *self.companions])

    def _send(self) -> dict[tuple[int, bytes], bytes | None]:
        """Queue the pending writes' changelog records; the writes, now no longer pending."""
        pending, self._pending = self._pending, {}
        topic = self.changelog
        send = self.sink.send
        for (partition, key), value in pending.items():
            send(topic, key, value, partition)
        return pending

    def _write(self, pending: dict[tuple[int, bytes], bytes | None]) -> None:
        """RocksDB and the persisted changelog offsets, once the changelog holds ``pending``."""
        from faust.types import TP
        from rocksdict import WriteBatch

        if not pending:
            return
        topic = self.changelog
        batches: dict[int, Any] = {}
        for (partition, key), value in pending.items():
            batch = batches.get(partition)
            if batch is None:
                batch = batches[partition] = WriteBatch(raw_mode=True)
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        for partition, batch in batches.items():
            self._db(partition).write(batch)
        for partition, offset in self.sink.take_offsets(topic).items():
            persist_offset(self.table, TP(topic, partition), offset)

    def discard(self) -> None:
        """Forget the writes not flushed (a batch step failed before its flush)."""
        self._pending.clear()


def flush_together(stores: Sequence[TableStore]) -> None:
    """The pending writes of several tables (of one sink) as one: every changelog record on Kafka in one
    flush, then each table's RocksDB. If the flush fails, no table is written (a batch that keeps two
    tables in step, such as a provider's tally and the receipts it counted, is retried from both as they
    were); the pending writes are dropped either way."""
    sent = [(store, store._send()) for store in stores]
    if any(pending for _, pending in sent):
        stores[0].sink.flush()
    for store, pending in sent:
        store._write(pending)
