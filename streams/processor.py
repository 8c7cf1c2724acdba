"""The vehicle agent's batch step, without Faust: raw Kafka messages in; outputs and state writes out.

::

    batch of RawMessage ──decode + validate──► VIN-keyed records ──┐   bad bytes, unknown schema, wrong
                              │                                   │   record or key, null value
                              └──────────────► DeadLetter ◄────────┘   (original bytes, topic, partition,
                                                                        offset, reason)
    group by VIN, arrival order kept
    per VIN: store.get once ─► decode_state (or the StateCache) ─► vehicle.decide per event ─► Receipt, …
    outputs ──► sink.send … sink.flush()       every output is on Kafka before any state is written
    states  ──► store.put once per VIN … store.flush() ──► hooks: on_vehicle_changed(vin, state, as_of_ms)

Why outputs first: once a state is written the core treats its events as done, so a crash between the
state write and the outputs would lose receipts for good; the other way round, a crash only repeats
outputs, and those are deterministic (``processed_at`` is the input's Kafka timestamp, ids are uuid5), so a
consumer deduplicating by id sees each once. Offsets are committed by the caller after :meth:`process`.

:meth:`VehicleProcessor.process` never raises for bad input: a record the core refuses (a bug) or a stored
state it cannot read also becomes a dead letter, and the VIN's other events go on. It raises only when the
sink or the store fails (then the batch must not be acknowledged).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from schemas.catalog import AnyRecord, key_of
from schemas.codec import Codec
from schemas.errors import DecodeError
from schemas.records import (
    AnomalyEvent,
    CorrectionRequest,
    DeadLetter,
    OdometerReading,
    Receipt,
)
from streams.domain.policy import DEFAULT_POLICY, Policy
from streams.domain.state import VehicleState
from streams.domain.vehicle import VehicleEvent, decide
from streams.kafka.topics import PipelineTopics
from streams.metrics import WorkerMetrics
from streams.state.cache import StateCache
from streams.state.codec import StateCodecError, decode_state, encode_state

VehicleHook = Callable[[str, VehicleState, int], None]
"""``on_vehicle_changed(vin, state, as_of_ms)``: called after a VIN's new state is stored; ``as_of_ms`` is
the Kafka timestamp of the last event that changed it. Hooks must not raise."""


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One consumed Kafka message. ``handle`` is the transport's own event (Faust's), opaque here."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    handle: Any = field(default=None, compare=False, repr=False)


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
        self.pending: dict[tuple[int, str], bytes] = {}
        self.puts = 0
        self.flushes = 0

    def get(self, key: str, source: RawMessage) -> bytes | None:
        where = (source.partition, key)
        return self.pending.get(where, self.data.get(where))

    def put(self, key: str, value: bytes, source: RawMessage) -> None:
        self.pending[(source.partition, key)] = value
        self.puts += 1

    def flush(self) -> None:
        if self.pending:
            self.data.update(self.pending)
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
    """Encodes and sends output records, and counts them in the metrics (shared with the plate agent)."""

    def __init__(
        self, codec: Codec, topics: PipelineTopics, sink: OutputSink, metrics: WorkerMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.codec, self.topics, self.sink, self.metrics, self.clock = codec, topics, sink, metrics, clock
        self._submitted: list[int] = []
        self._children: dict[tuple[Any, ...], Any] = {}

    def count(self, metric: Any, *labels: str) -> None:
        """``metric.labels(*labels).inc()`` with the labelled child cached (this runs per event)."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        child.inc()

    def event_in(self, topic: str, origin: str) -> None:
        self.count(self.metrics.events_in, self.topics.base(topic), origin)

    def begin(self) -> None:
        """A batch (or a batch tried again) starts: forget what an earlier attempt left."""
        self._submitted.clear()

    def receipt(
        self, result: BatchResult, receipt: Receipt, submitted_at: int, source: RawMessage | None,
        key: str | None = None,
    ) -> None:  # fmt: skip
        """The receipt of the input ``source``; a receipt the producer refuses becomes the input's dead
        letter (``output-refused``), so the input is still answered (without ``source``: the batch
        fails)."""
        if self._send(result, self.topics.receipts, receipt, source, key):
            self.count(self.metrics.receipts, receipt.status.value)
            self._submitted.append(submitted_at)

    def anomaly(self, result: BatchResult, event: AnomalyEvent, source: RawMessage) -> None:
        if self._send(result, self.topics.anomalies, event, source):
            self.count(self.metrics.anomalies, event.kind.value, event.status.value)

    def dead(self, result: BatchResult, letter: DeadLetter) -> None:
        self._send(result, self.topics.dead_letters, letter, None)
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
        queued instead (with no ``source``, a dead letter itself, the refusal fails the batch)."""
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
        """Flush the sink, then observe end-to-end latency (submitted_at -> receipt on Kafka)."""
        self.sink.flush()
        if self._submitted:
            now_ms = self.clock() * 1000.0
            observe = self.metrics.end_to_end_latency.observe
            for submitted_at in self._submitted:
                observe(max(0.0, (now_ms - submitted_at) / 1000.0))
            self._submitted.clear()


class VehicleProcessor:
    """Folds batches of VIN-keyed input messages into per-VIN state through the judgment core."""

    def __init__(
        self,
        *,
        codec: Codec,
        topics: PipelineTopics,
        store: StateStore,
        sink: OutputSink,
        metrics: WorkerMetrics,
        policy: Policy = DEFAULT_POLICY,
        hooks: Sequence[VehicleHook] = (),
        clock: Callable[[], float] = time.time,
        cache: StateCache | None = None,
        max_input_bytes: int = 65_536,
    ) -> None:
        """``max_input_bytes``: a larger input record (key and value) is a dead letter, not decoded."""
        self.codec = codec
        self.max_input_bytes = max_input_bytes
        self.cache = cache if cache is not None else StateCache(0)
        self.topics = topics
        self.store = store
        self.metrics = metrics
        self.policy = policy
        self.hooks = hooks
        self.clock = clock
        self.outputs = Outputs(codec, topics, sink, metrics, clock)
        self._expected: Mapping[str, type] = topics.vehicle_inputs

    def process(self, batch: Sequence[RawMessage]) -> BatchResult:
        started = time.perf_counter()
        result = BatchResult()
        out = self.outputs
        out.begin()
        by_vin: dict[str, list[tuple[VehicleEvent, RawMessage]]] = {}
        for message in batch:
            event = self._decode(message, result)
            if event is not None:
                by_vin.setdefault(event.vin, []).append((event, message))
        writes: list[tuple[str, VehicleState, bytes, RawMessage]] = []
        for vin, events in by_vin.items():
            write = self._fold(vin, events, result)
            if write is not None:
                writes.append(write)
        out.flush()
        state_bytes = self.metrics.state_bytes.observe
        for vin, _, stored, last in writes:
            self.store.put(vin, stored, last)
            state_bytes(len(stored))
        self.store.flush()
        remember = self.cache.put
        for vin, state, stored, last in writes:
            remember(last.partition, vin, stored, state)
        result.states_written = len(writes)
        for vin, state, _, last in writes:
            for hook in self.hooks:
                hook(vin, state, last.timestamp_ms)
        self.metrics.batch_size.observe(len(batch))
        self.metrics.batch_duration.observe(time.perf_counter() - started)
        return result

    def _decode(self, message: RawMessage, result: BatchResult) -> VehicleEvent | None:
        expected = self._expected.get(message.topic)
        reason: str
        if expected is None:
            reason, kind = f"topic {message.topic} is not an input of the vehicle agent", "unexpected-topic"
        elif message.value is None:
            reason, kind = "null value (tombstone): not an event", "null-value"
        elif (letter := oversized(message, self.max_input_bytes)) is not None:
            self.outputs.dead(result, letter)
            return None
        else:
            try:
                record: VehicleEvent = self.codec.decode(message.value, expected)
            except DecodeError as exc:
                if exc.transient:  # the registry is down: the batch is tried again, never dead-lettered
                    raise
                reason, kind = str(exc), exc.problem.value
            else:
                problem = _key_problem(message.key, record.vin)
                if problem is None:
                    origin = record.origin.value if isinstance(record, OdometerReading) else ""
                    self.outputs.event_in(message.topic, origin)
                    return record
                reason, kind = problem, "key-mismatch"
        self.outputs.dead(result, dead_letter(message, reason, kind))
        return None

    def _fold(
        self, vin: str, events: Iterable[tuple[VehicleEvent, RawMessage]], result: BatchResult
    ) -> tuple[str, VehicleState, bytes, RawMessage] | None:
        """Decide every event of ``vin`` in order; the write to make (or ``None``: nothing changed)."""
        events = list(events)
        first = events[0][1]
        stored = self.store.get(vin, first)
        try:
            state = self._load(vin, stored, first.partition)
        except StateCodecError as exc:
            for _, message in events:
                self.outputs.dead(result, dead_letter(message, f"stored state unreadable: {exc}", "state"))
            return None
        before = state
        last = first
        out = self.outputs
        for event, message in events:
            try:
                decision = decide(state, event, self.policy, message.timestamp_ms)
            except Exception as exc:  # a bug in the core must not stop the worker; keep the event
                reason = f"the judgment core failed: {type(exc).__name__}: {exc}"
                out.dead(result, dead_letter(message, reason, "processing-error"))
                continue
            if decision.state is not state:
                state = decision.state
                last = message
            submitted = event.submitted_at if isinstance(event, OdometerReading | CorrectionRequest) else 0
            for receipt in decision.receipts:
                out.receipt(result, receipt, submitted, message)
            for anomaly in decision.anomalies:
                out.anomaly(result, anomaly, message)
        if state is before:
            return None
        return vin, state, encode_state(state), last

    def _load(self, vin: str, stored: bytes | None, partition: int) -> VehicleState:
        if stored is None:
            return VehicleState(vin)
        if self.cache.capacity:
            state = self.cache.get(partition, vin, stored)
            self.outputs.count(self.metrics.state_cache_lookups, "miss" if state is None else "hit")
            if state is not None:
                return state
        return decode_state(vin, stored)


def _key_problem(key: bytes | None, vin: str) -> str | None:
    if key is None:
        return f"no key; the key of a VIN-keyed topic must be the record's VIN {vin!r}"
    try:
        text = key.decode()
    except UnicodeDecodeError:
        return f"key {key!r} is not UTF-8; it must be the record's VIN {vin!r}"
    if text != vin:
        return f"key {text!r} is not the record's VIN {vin!r}"
    return None
