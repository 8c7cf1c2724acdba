"""What every batch step of the worker shares, without Faust: the consumed message, the I/O protocols and
their in-memory forms, dead letters, and the encoding and counting of outputs.

::

    RawMessage (topic, partition, offset, key, value, timestamp)
    StateStore: get / put … flush       (a Faust table on RocksDB in the worker; MemoryStore in tests)
    OutputSink: send … flush            (a confluent-kafka producer in the worker; MemorySink in tests)
    Outputs: receipt / anomaly / dead / record ──encode──► sink; a record the producer refuses becomes its
             input's dead letter; flush() then observes end-to-end latency
    dead_letter(message, reason, error_type): value cut to 64 KiB, with its size and SHA-256

The batch steps are :mod:`streams.worker.vehicles` and :mod:`streams.worker.plates` (and the projections').
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from schemas.catalog import AnyRecord, key_of
from schemas.codec import Codec
from schemas.records import (
    AnomalyEvent,
    DeadLetter,
    Receipt,
)
from streams.kafka.topics import PipelineTopics
from streams.worker.metrics import WorkerMetrics


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One consumed Kafka message."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


class StateStore(Protocol):
    """Per-partition key -> bytes (a Faust table on RocksDB in the worker). ``source`` is the message on
    whose behalf the key is read or written: its partition selects the partition's store. A ``get`` sees
    the ``put``s before it; ``flush`` makes them durable (the changelog) before the batch is acknowledged."""

    def get(self, key: str, source: RawMessage) -> bytes | None: ...

    def put(self, key: str, value: bytes, source: RawMessage) -> None: ...

    def flush(self) -> None: ...


class OutputSink(Protocol):
    """Where outputs go (a confluent-kafka producer in the worker)."""

    def send(self, topic: str, key: bytes, value: bytes, partition: int | None = None) -> None: ...

    def flush(self) -> None:
        """Return once everything sent is on Kafka; raise if anything could not be delivered."""
        ...


class MemoryStore:
    """:class:`StateStore` in a dict keyed by ``(partition, key)``, like one RocksDB per partition;
    ``puts`` counts writes, ``flushes`` the flushes that had something to write."""

    def __init__(self) -> None:
        self.data: dict[tuple[int, str], bytes] = {}
        self.pending: dict[tuple[int, str], bytes | None] = {}
        """Writes not flushed yet (``None``: a delete)."""
        self.puts = 0
        self.flushes = 0

    def get(self, key: str, source: RawMessage) -> bytes | None:
        where = (source.partition, key)
        return self.pending[where] if where in self.pending else self.data.get(where)

    def put(self, key: str, value: bytes, source: RawMessage) -> None:
        self.pending[(source.partition, key)] = value
        self.puts += 1

    def delete(self, key: str, source: RawMessage) -> None:
        self.pending[(source.partition, key)] = None

    def flush(self) -> None:
        if self.pending:
            for where, value in self.pending.items():
                if value is None:
                    self.data.pop(where, None)
                else:
                    self.data[where] = value
            self.pending.clear()
            self.flushes += 1


class MemorySink:
    """:class:`OutputSink` in a list; ``flushed`` counts what had been flushed."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes, int | None]] = []
        self.flushed = 0

    def send(self, topic: str, key: bytes, value: bytes, partition: int | None = None) -> None:
        self.sent.append((topic, key, value, partition))

    def flush(self) -> None:
        self.flushed = len(self.sent)


class ReceiptListener(Protocol):
    """Told each receipt a batch step sends (:class:`Outputs`), e.g. to count them per provider; what it
    sends goes in :meth:`flush`, with the batch's outputs (before the batch's state is stored)."""

    def begin(self) -> None:
        """A batch (or a batch tried again) starts: forget what an earlier attempt told."""

    def receipt(self, receipt: Receipt, source: RawMessage | None) -> None:
        """``receipt`` was sent (or counted on a muted topic), for input ``source``."""

    def flush(self) -> None:
        """Send what the batch's receipts gave (on the sink, flushed by the caller)."""


class RecordRefusedError(ValueError):
    """The producer refuses this very record (too large, invalid): sending it again cannot succeed."""


DEAD_LETTER_VALUE_MAX_BYTES = 65_536
"""A dead letter keeps at most this many bytes of the input's value (with the whole value's size and
SHA-256), so that it always fits the producer's and the broker's record limits (1 MB by default)."""
DEAD_LETTER_KEY_MAX_BYTES = 1_024
DEAD_LETTER_REASON_MAX_CHARS = 2_000


def dead_letter(message: RawMessage, reason: str, error_type: str) -> DeadLetter:
    """The dead letter of ``message``; ``failed_at`` is its Kafka timestamp (replays give the same). The
    value, key and reason are cut to their bounds (``DEAD_LETTER_*``); the size and SHA-256 of the whole
    value are kept."""
    value = message.value
    if len(reason) > DEAD_LETTER_REASON_MAX_CHARS:
        reason = reason[: DEAD_LETTER_REASON_MAX_CHARS - 1] + "…"
    return DeadLetter(
        original_value=value[:DEAD_LETTER_VALUE_MAX_BYTES] if value is not None else None,
        original_key=message.key[:DEAD_LETTER_KEY_MAX_BYTES] if message.key is not None else None,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        reason=reason,
        error_type=error_type,
        failed_at=message.timestamp_ms,
        original_size=len(value) if value is not None else None,
        original_sha256=hashlib.sha256(value).hexdigest() if value is not None else None,
    )


def oversized(message: RawMessage, limit: int) -> DeadLetter | None:
    """The dead letter of an input record whose key and value exceed ``limit`` bytes, else ``None``."""
    size = len(message.key or b"") + len(message.value or b"")
    if size <= limit:
        return None
    return dead_letter(message, f"record of {size:,} bytes (key and value): over the limit of {limit:,}",
                       "oversized")  # fmt: skip


@dataclass(slots=True)
class BatchResult:
    """What one batch did, for callers and tests: every output record in send order."""

    outputs: list[tuple[str, AnyRecord]] = field(default_factory=list)
    states_written: int = 0
    dead_letters: int = 0


class Outputs:
    """Encodes and sends output records, and counts them in the metrics (shared with the plate agent).

    Counts are kept per batch and added to the metrics once the batch's outputs and state are stored
    (:meth:`flush`, then :meth:`stored`): a Prometheus counter's ``inc`` takes a lock and costs about a
    microsecond, several times per event, and a batch tried again is counted once. Counted only then, an
    event in is one whose state a query can see (a test that waited for the count and then asked for the
    vehicle got a 404 while the batch's state was still on its way to RocksDB)."""

    def __init__(
        self, codec: Codec, topics: PipelineTopics, sink: OutputSink, metrics: WorkerMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.codec, self.topics, self.sink, self.metrics, self.clock = codec, topics, sink, metrics, clock
        self._receipts, self._anomalies = topics.receipts, topics.anomalies
        self._dead_letters = topics.dead_letters
        self._submitted: list[int] = []
        self._flushed_at: float | None = None
        self._children: dict[tuple[Any, ...], Any] = {}
        self._counts: dict[tuple[Any, ...], int] = {}
        self._in: dict[tuple[str, str], int] = {}
        self.muted: frozenset[str] = frozenset()
        """Topics whose records are counted but neither encoded nor sent (a replay rebuilding the tables in
        place: the receipts and anomalies of the events it replays are on Kafka already)."""
        self.listeners: list[ReceiptListener] = []
        """Told each receipt queued (the projections count them per provider)."""

    def count(self, metric: Any, *labels: str) -> None:
        """``metric.labels(*labels).inc()`` once the batch's outputs are flushed (this runs per event)."""
        key = (metric, *labels)
        counts = self._counts
        counts[key] = counts.get(key, 0) + 1

    def event_in(self, topic: str, origin: str) -> None:
        key = (topic, origin)
        self._in[key] = self._in.get(key, 0) + 1

    def begin(self) -> None:
        """A batch (or a batch tried again) starts: forget what an earlier attempt left."""
        self._submitted.clear()
        self._counts.clear()
        self._in.clear()
        self._flushed_at = None
        for listener in self.listeners:
            listener.begin()

    def _publish_counts(self) -> None:
        base = self.topics.base
        counts, events_in = self._counts, self.metrics.events_in
        for (topic, origin), n in self._in.items():
            key = (events_in, base(topic), origin)
            counts[key] = counts.get(key, 0) + n
        self._in.clear()
        children = self._children
        for key, n in counts.items():
            child = children.get(key)
            if child is None:
                child = children[key] = key[0].labels(*key[1:])
            child.inc(n)
        counts.clear()

    def receipt(
        self, result: BatchResult, receipt: Receipt, submitted_at: int, source: RawMessage | None,
        key: str | None = None,
    ) -> None:  # fmt: skip
        """The receipt of the input ``source``; a receipt the producer refuses becomes the input's dead
        letter (``output-refused``), so the input is still answered (without ``source``: the batch
        fails)."""
        if self._send(result, self._receipts, receipt, source, key):
            self.count(self.metrics.receipts, receipt.status.value)
            if self._receipts not in self.muted:
                self._submitted.append(submitted_at)
            for listener in self.listeners:
                listener.receipt(receipt, source)

    def anomaly(self, result: BatchResult, event: AnomalyEvent, source: RawMessage) -> None:
        if self._send(result, self._anomalies, event, source):
            self.count(self.metrics.anomalies, event.kind.value, event.status.value)

    def dead(self, result: BatchResult, letter: DeadLetter) -> None:
        self._send(result, self._dead_letters, letter, None)
        self.count(self.metrics.dead_letters, self.topics.base(letter.topic), letter.error_type)
        result.dead_letters += 1

    def record(
        self, result: BatchResult, topic: str, record: AnyRecord, key: str, source: RawMessage | None
    ) -> None:
        """Any other record (resolved plate readings)."""
        self._send(result, topic, record, source, key)

    def _send(
        self, result: BatchResult, topic: str, record: AnyRecord, source: RawMessage | None,
        key: str | None = None,
    ) -> bool:  # fmt: skip
        """Whether ``record`` was queued; if the producer refuses it, the dead letter of ``source`` is
        queued instead (with no ``source``, a dead letter itself, the refusal fails the batch). A muted
        topic's record counts as queued."""
        if topic in self.muted:
            return True
        value = self.codec.encode(record, topic=topic)
        try:
            self.sink.send(topic, (key if key is not None else key_of(record)).encode(), value)
        except RecordRefusedError as exc:
            if source is None:
                raise
            reason = f"its {self.topics.base(topic)} record was refused by Kafka: {exc}"
            self.dead(result, dead_letter(source, reason, "output-refused"))
            return False
        result.outputs.append((topic, record))
        return True

    def flush(self) -> None:
        """Flush the sink: the batch's outputs (and what its listeners sent) are on Kafka (the time noted for
        the end-to-end latency)."""
        for listener in self.listeners:
            listener.flush()
        self.sink.flush()
        self._flushed_at = self.clock()

    def stored(self) -> None:
        """The batch's state is stored too: count what it did and observe the end-to-end latency
        (submitted_at -> receipt on Kafka, as of :meth:`flush`)."""
        self._publish_counts()
        if self._submitted:
            flushed_at = self._flushed_at if self._flushed_at is not None else self.clock()
            now_ms = flushed_at * 1000.0
            observe = self.metrics.end_to_end_latency.observe
            for submitted_at in self._submitted:
                observe(max(0.0, (now_ms - submitted_at) / 1000.0))
            self._submitted.clear()
