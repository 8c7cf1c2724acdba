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
    what the hooks sent ──► sink.flush()     before the step returns (then the batch may be committed)

Two variants: a VIN whose hooks wait (``deferral``: the views of a worker that is behind) is marked in a
store flushed with the states and gets no hook call now; a replay (``hold``: ``carpass replay``) keeps each
VIN's state decoded between batches and stores it, and calls the hooks, once at the end.

Why outputs first: once a state is written the core treats its events as done, so a crash between the
state write and the outputs would lose receipts for good; the other way round, a crash only repeats
outputs, and those are deterministic (``processed_at`` is the input's Kafka timestamp, ids are uuid5), so a
consumer deduplicating by id sees each once. Offsets are committed by the caller after :meth:`process`.

:meth:`VehicleProcessor.process` never raises for bad input: a record the core refuses (a bug) or a stored
state it cannot read also becomes a dead letter, and the VIN's other events go on. It raises only when the
sink or the store fails (then the batch must not be acknowledged).
"""


from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from schemas.codec import Codec
from schemas.errors import DecodeError
from schemas.limits import too_long
from schemas.records import CorrectionRequest, OdometerReading, Receipt, ReceiptStatus
from streams.domain.policy import DEFAULT_POLICY, Policy
from streams.domain.providers import ProviderDirectory
from streams.domain.state import VehicleState
from streams.domain.vehicle import VehicleEvent, decide
from streams.kafka.topics import PipelineTopics
from streams.state.cache import StateCache
from streams.state.codec import StateCodecError, decode_state, encode_state
from streams.state.held import HeldStates
from streams.worker.batch import (
    BatchResult,
    Outputs,
    OutputSink,
    RawMessage,
    StateStore,
    dead_letter,
    oversized,
)
from streams.worker.metrics import WorkerMetrics

VehicleHook = Callable[[str, VehicleState, int], None]
"""``on_vehicle_changed(vin, state, as_of_ms)``: called after a VIN's new state is stored; ``as_of_ms`` is
the Kafka timestamp of the last event that changed it. Hooks must not raise."""


class HookDeferral(Protocol):
    """Decides, before a batch's states are stored, which VINs' hooks wait (the views of a worker that is
    behind: ``projections.steps.PendingViews``)."""

    def defer(self, vin: str, as_of_ms: int, source: RawMessage) -> bool:
        """Whether the hooks of this change of ``vin`` wait; if so, what remembers it is written to a store
        that the processor's store flushes with the states (so it is as durable as they are)."""
        ...



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
        providers: ProviderDirectory | None = None,
        hold: HeldStates | None = None,
        output_topics: PipelineTopics | None = None,
    ) -> None:
        """``max_input_bytes``: a larger input record (key and value) is a dead letter, not decoded;
        ``providers``: the registry of providers readings are judged by (``None``: by their own fields);
        ``hold``: a replay's held states: a VIN's state is kept decoded there after a batch, and stored (and
        the hooks called) only when it leaves it (:meth:`release_held`), not after every batch;
        ``output_topics``: where receipts, anomalies and dead letters go, when not to ``topics`` (a what-if
        replay writes another prefix's)."""
        self.providers = providers
        self.hold = hold
        self.deferral: HookDeferral | None = None
        """Set by the projections (``projections.wiring``) when views may wait while the worker is behind."""
        self.codec = codec
        self.max_input_bytes = max_input_bytes
        self.cache = cache if cache is not None else StateCache(0)
        self.topics = topics
        self.store = store
        self.metrics = metrics
        self.policy = policy
        self.hooks = hooks
        self.clock = clock
        self.outputs = Outputs(codec, output_topics or topics, sink, metrics, clock)
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
        if self.hold is not None:
            for vin, state, _, last in writes:
                self.hold.keep(vin, state, last)
            writes = [(vin, state, encode_state(state), last) for vin, state, last in self.hold.overflow()]
        waiting = self._deferred(writes)
        self._store(writes)
        out.stored()
        if self.hold is None:
            remember = self.cache.put
            for vin, state, stored, last in writes:
                remember(last.partition, vin, stored, state)
        result.states_written = len(writes)
        self._changed([w for w in writes if w[0] not in waiting] if waiting else writes)
        self.metrics.batch_size.observe(len(batch))
        self.metrics.batch_duration.observe(time.perf_counter() - started)
        return result

    def release_held(self) -> int:
        """Store every state held (``hold``) and call the hooks for each (the end of a replay); how many."""
        if self.hold is None:
            return 0
        writes = [(vin, state, encode_state(state), last) for vin, state, last in self.hold.drain()]
        self._store(writes)
        self._changed(writes)
        return len(writes)

    def _deferred(self, writes: Sequence[tuple[str, VehicleState, bytes, RawMessage]]) -> set[str]:
        """The VINs whose hooks wait (``deferral``), marked before their states are stored."""
        deferral = self.deferral
        if deferral is None or not self.hooks:
            return set()
        return {vin for vin, _, _, last in writes if deferral.defer(vin, last.timestamp_ms, last)}

    def _store(self, writes: Sequence[tuple[str, VehicleState, bytes, RawMessage]]) -> None:
        state_bytes = self.metrics.state_bytes.observe
        for vin, _, stored, last in writes:
            self.store.put(vin, stored, last)
            state_bytes(len(stored))
        self.store.flush()

    def _changed(self, writes: Sequence[tuple[str, VehicleState, bytes, RawMessage]]) -> None:
        """The hooks, once the states of ``writes`` are stored; what they sent is on Kafka before the batch
        is committed."""
        for vin, state, _, last in writes:
            for hook in self.hooks:
                hook(vin, state, last.timestamp_ms)
        if self.hooks and writes:
            self.outputs.sink.flush()

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
                long = too_long(record)
                if problem is None and long is not None:
                    self.outputs.dead(result, dead_letter(message, long, "field-too-long"))
                    return None
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
        held = self.hold.get(vin) if self.hold is not None else None
        if held is not None:
            state = held
        else:
            stored = self.store.get(vin, first)
            try:
                state = self._load(vin, stored, first.partition)
            except StateCodecError as exc:
                reason = f"stored state unreadable: {exc}"
                for _, message in events:
                    self.outputs.dead(result, dead_letter(message, reason, "state"))
                return None
        before = state
        last = first
        out = self.outputs
        resolved = self.topics.resolved_readings
        for event, message in events:
            try:
                decision = decide(state, event, self.policy, message.timestamp_ms, self.providers)
            except Exception as exc:  # a bug in the core must not stop the worker; keep the event
                reason = f"the judgment core failed: {type(exc).__name__}: {exc}"
                out.dead(result, dead_letter(message, reason, "processing-error"))
                continue
            if decision.state is not state:
                state = decision.state
                last = message
            submitted = event.submitted_at if isinstance(event, OdometerReading | CorrectionRequest) else 0
            for receipt in decision.receipts:
                if message.topic == resolved and receipt.status is ReceiptStatus.REJECTED:
                    # A plate reading refused: its sender did not give the VIN and is not told it (anyone
                    # with a key could map plates to VINs with refused readings). The key stays the VIN.
                    out.receipt(result, without_vin(receipt), submitted, message, key=vin)
                else:
                    out.receipt(result, receipt, submitted, message)
            for anomaly in decision.anomalies:
                out.anomaly(result, anomaly, message)
        if state is before:
            return None
        return vin, state, b"" if self.hold is not None else encode_state(state), last

    def _load(self, vin: str, stored: bytes | None, partition: int) -> VehicleState:
        if stored is None:
            return VehicleState(vin)
        if self.cache.capacity:
            state = self.cache.get(partition, vin, stored)
            self.outputs.count(self.metrics.state_cache_lookups, "miss" if state is None else "hit")
            if state is not None:
                return state
        return decode_state(vin, stored)


def without_vin(receipt: Receipt) -> Receipt:
    """``receipt`` naming no vehicle: ``vin`` empty and the VIN replaced in the issues' messages."""
    vin = receipt.vin
    unnamed = "(the plate's vehicle)"
    issues = tuple(replace(i, message=i.message.replace(vin, unnamed)) for i in receipt.issues)
    return replace(receipt, vin="", issues=issues)


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
