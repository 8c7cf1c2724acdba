"""The projections' batch steps in the worker, without Faust: views published after a vehicle's state is
stored, and provider quality folded from receipts and anomalies.

::

    vehicle agent ──on_vehicle_changed(vin, state, as_of)──► ViewPublisher ──► carpass.certificates,
                                                                                carpass.ok-labels
    vehicle agent's receipts ──► ReadingsCounter (one ProviderReadings per provider and batch) ──┐
    odometer.anomalies, providers.registry ──► ProviderRekey ──────────────────► carpass.provider-events
    carpass.provider-events (key provider id) ──► QualityFolder ──► tallies, providers.quality
    certificates.issued ──► IssuanceRecorder (first record of a number wins) ──► the issued-certificates table

Views are functions of the stored state, so a replay from offset 0 republishes identical views.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from projections.quality import (
    CountedReading,
    ProviderEvent,
    ProviderReadings,
    ProviderTally,
    count_readings,
    counts_as_reading,
    evolve,
    provider_key,
    quality_view,
    readings_from_json,
    readings_to_json,
    tally_from_json,
    tally_to_json,
    year_of,
)
from projections.views import certificate_view, ok_label_view
from schemas.codec import Codec
from schemas.errors import DecodeError
from schemas.records import AnomalyEvent, ProviderRegistration, Receipt
from streams.domain.catalogue import IssueCode
from streams.domain.state import VehicleState
from streams.worker.batch import OutputSink, RawMessage, StateStore

log = logging.getLogger(__name__)


class MarkStore(Protocol):
    """The ``views-pending`` table (a :class:`~streams.worker.batch.StateStore` that can delete)."""

    def get(self, key: str, source: RawMessage) -> bytes | None: ...
    def put(self, key: str, value: bytes, source: RawMessage) -> None: ...
    def delete(self, key: str, source: RawMessage) -> None: ...
    def flush(self) -> None: ...


def partition_source(partition: int) -> RawMessage:
    """A stand-in message for a store write on behalf of no input (the store needs only its partition)."""
    return RawMessage("", partition, -1, None, None, 0)


class PendingViews:
    """Views that wait while the worker is behind (the vehicle agent's ``deferral``).

    A change whose input is older than ``defer_after_ms`` (a backlog, a replay of old events), or of a VIN
    whose views already wait, gets no views now: the VIN is marked in the ``views-pending`` table (value: the
    change's ``as_of``, 8 bytes) in the same flush as its state, so the mark is as durable as the state. Once
    the worker is no longer behind (no change deferred for being old during ``quiet_s``), :meth:`publish`
    computes the marked VINs' views from their stored states with the marked ``as_of`` (what the last change
    would have published: the views come out byte-identical) and deletes the marks once the views are on
    Kafka. A crash in between publishes them again, the same bytes."""

    def __init__(
        self, marks: MarkStore, publisher: ViewPublisher, defer_after_ms: int, quiet_s: float = 1.0,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        monotonic: Callable[[], float] = time.monotonic,
        flush: Callable[[], None] | None = None,
    ) -> None:  # fmt: skip
        """``flush``: puts the views on Kafka (default: the publisher's sink's flush; a timer passes a short
        deadline, so that a broker away does not hold the event loop)."""
        self.marks, self.publisher = marks, publisher
        self.flush_views = flush if flush is not None else publisher.sink.flush
        self.defer_after_ms, self.quiet_s = defer_after_ms, quiet_s
        self.clock_ms, self.monotonic = clock_ms, monotonic
        self.behind_at = float("-inf")
        """When a change was last deferred for being old (monotonic seconds)."""
        self.deferred = 0
        self.published = 0

    def defer(self, vin: str, as_of_ms: int, source: RawMessage) -> bool:
        behind = self.clock_ms() - as_of_ms > self.defer_after_ms
        if behind:
            self.behind_at = self.monotonic()
        elif self.marks.get(vin, source) is None:
            return False
        self.marks.put(vin, as_of_ms.to_bytes(8, "big", signed=True), source)
        self.deferred += 1
        return True

    def behind(self) -> bool:
        """Whether a change was deferred for being old within the last ``quiet_s``."""
        return self.monotonic() - self.behind_at < self.quiet_s

    def publish(self, marked: Iterable[tuple[int, bytes, bytes]],
                state_of: Callable[[int, str], VehicleState | None]) -> int:  # fmt: skip
        """Publish the views of ``marked`` (partition, VIN, as_of bytes), from ``state_of(partition, vin)``,
        then delete their marks; how many. A mark without a stored state is deleted (nothing to show)."""
        done: list[tuple[str, int]] = []
        for partition, key, value in marked:
            vin = key.decode("utf-8")
            state = state_of(partition, vin)
            if state is not None:
                self.publisher(vin, state, int.from_bytes(value, "big", signed=True))
            done.append((vin, partition))
        if not done:
            return 0
        self.flush_views()  # the views are on Kafka before their marks go
        for vin, partition in done:
            self.marks.delete(vin, partition_source(partition))
        self.marks.flush()
        self.published += len(done)
        return len(done)


class ViewPublisher:
    """The ``on_vehicle_changed`` hook: publish the VIN's certificate and OK-label views."""

    def __init__(self, codec: Codec, sink: OutputSink, certificates_topic: str, labels_topic: str) -> None:
        self.codec, self.sink = codec, sink
        self.certificates_topic, self.labels_topic = certificates_topic, labels_topic

    def __call__(self, vin: str, state: VehicleState, as_of: int) -> None:
        try:
            key = vin.encode("utf-8")
            self.sink.send(self.certificates_topic, key, self.codec.encode(certificate_view(state, as_of)))
            self.sink.send(self.labels_topic, key, self.codec.encode(ok_label_view(state, as_of)))
        except Exception:  # a hook must not raise: the state is already stored
            log.exception("could not publish the views of a vehicle")


def decode_provider_event(codec: Codec, value: bytes) -> ProviderEvent | None:
    """A receipt, anomaly or provider registration from its Avro bytes; None for anything else."""
    try:
        record = codec.decode(value)
    except DecodeError as exc:
        if exc.transient:  # the registry is down: the batch is tried again
            raise
        return None
    return record if isinstance(record, Receipt | AnomalyEvent | ProviderRegistration) else None


class ProviderRekey:
    """The re-key agent's batch step: receipts, anomalies and provider registrations that concern a
    provider's quality (``provider_key``) copied, bytes unchanged, to ``carpass.provider-events`` keyed by
    the provider id, through the worker's confluent sink in one flush per batch (Faust's ``topic.send``
    costs hundreds of µs an event on the event loop that also feeds the streams)."""

    def __init__(self, codec: Codec, sink: OutputSink, topic: str) -> None:
        self.codec, self.sink, self.topic = codec, sink, topic

    def process(self, batch: list[RawMessage]) -> int:
        sent = 0
        for message in batch:
            event = decode_provider_event(self.codec, message.value) if message.value else None
            key = provider_key(event) if event is not None else None
            if key is not None and message.value is not None:
                self.sink.send(self.topic, key.encode("utf-8"), message.value)
                sent += 1
        if sent:  # on Kafka before the batch is acknowledged
            self.sink.flush()
        return sent


class ReadingsCounter:
    """A :class:`streams.worker.batch.ReceiptListener` of the vehicle agent: its batch's receipts counted
    per provider (:class:`projections.quality.ProviderReadings`) and sent, one message per provider and
    batch, to the provider-events topic (key provider id) with the batch's outputs: the quality fold gets
    counts, not every receipt (each receipt once took a re-key hop, two decodes and a table write).

    ``base`` gives an input topic's contract name (``PipelineTopics.base``): a reading's source is the same
    in a worker and in a what-if replay writing another prefix."""

    def __init__(self, sink: OutputSink, topic: str, base: Callable[[str], str]) -> None:
        self.sink, self.topic, self.base = sink, topic, base
        self._by_provider: dict[str, list[Any]] = {}
        self._years: dict[int, int] = {}
        self._sources: dict[tuple[str, int], str] = {}

    def begin(self) -> None:
        self._by_provider.clear()

    def receipt(self, receipt: Receipt, source: RawMessage | None) -> None:
        at = receipt.processed_at
        entry = self._by_provider.get(receipt.provider_id)
        if entry is None:
            entry = self._by_provider[receipt.provider_id] = [at, None, []]
        elif at > entry[0]:
            entry[0] = at
        if not counts_as_reading(receipt) or source is None:  # no input: never counted (none today)
            return
        if entry[1] is None or at > entry[1]:
            entry[1] = at
        hour = at // 3_600_000  # Brussels is a whole number of hours from UTC: one year per UTC hour
        year = self._years.get(hour)
        if year is None:
            year = self._years[hour] = year_of(at)
        where = (source.topic, source.partition)
        name = self._sources.get(where)
        if name is None:
            name = self._sources[where] = f"{self.base(source.topic)}/{source.partition}"
        late = any(issue.code == IssueCode.LATE_SUBMISSION for issue in receipt.issues)
        entry[2].append(CountedReading(name, source.offset, year, late))

    def flush(self) -> None:
        """One message per provider, or several of at most :data:`COUNTED_PER_MESSAGE` readings in input
        order (a large replay batch stays well under Kafka's record limit, and a later message of the batch
        never holds an offset below one an earlier message counted: ``count_readings`` relies on it)."""
        for provider_id, (as_of, last, counted) in self._by_provider.items():
            key = provider_id.encode("utf-8")
            ordered = sorted(counted, key=_input_order) if len(counted) > COUNTED_PER_MESSAGE else counted
            size = COUNTED_PER_MESSAGE
            for start in range(0, max(len(ordered), 1), size):
                readings = ProviderReadings(provider_id, as_of, last, tuple(ordered[start : start + size]))
                self.sink.send(self.topic, key, readings_to_json(readings))
        self._by_provider.clear()
        if len(self._years) > 10_000:  # Kafka timestamps are the producers': keep the memo bounded
            self._years.clear()


COUNTED_PER_MESSAGE = 5_000
"""Counted readings in one provider-events message at most (about 50 bytes each in its JSON)."""


def _input_order(reading: CountedReading) -> tuple[str, int]:
    return reading.source, reading.offset


def decode_quality_input(codec: Codec, value: bytes) -> ProviderEvent | ProviderReadings | None:
    """A provider-events message: a batch's counted readings (JSON, ``{``), or a receipt, anomaly or
    provider registration (Avro); None for anything else."""
    if value[:1] == b"{":
        try:
            return readings_from_json(value)
        except (ValueError, KeyError, TypeError):
            log.warning("provider-events: a message that is neither counted readings nor Avro, ignored")
            return None
    return decode_provider_event(codec, value)


class QualityFolder:
    """The provider-quality agent's batch step: provider events and counted readings (keyed by provider id)
    folded into the table's tallies, in order per provider; each provider's tally is read and written once
    per batch and its changed view published once to ``providers.quality``.

    Counted readings sent again after a crash or a takeover upstream are counted once (by input offset:
    :func:`projections.quality.count_readings`); anomalies are kept by anomaly id, registrations by time."""

    def __init__(self, codec: Codec, store: StateStore, sink: OutputSink, quality_topic: str) -> None:
        self.codec, self.store, self.sink, self.quality_topic = codec, store, sink, quality_topic

    def process(self, batch: Iterable[RawMessage]) -> None:
        by_provider: dict[bytes, list[tuple[ProviderEvent | ProviderReadings, RawMessage]]] = {}
        for message in batch:
            record = decode_quality_input(self.codec, message.value) if message.value else None
            if record is not None and message.key:
                by_provider.setdefault(message.key, []).append((record, message))
        changed = False
        for key, events in by_provider.items():
            provider_id = key.decode("utf-8")
            old_raw = self.store.get(provider_id, events[0][1])
            old = tally_from_json(old_raw) if old_raw is not None else ProviderTally(provider_id)
            new = old
            for record, _ in events:
                if isinstance(record, ProviderReadings):
                    new = count_readings(new, record)
                else:
                    new = evolve(new, record)
            if new != old:
                self.store.put(provider_id, tally_to_json(new), events[-1][1])
                self.sink.send(self.quality_topic, key, self.codec.encode(quality_view(new)))
                changed = True
        self.store.flush()
        if changed:  # the views are on Kafka before the batch is acknowledged
            self.sink.flush()


class IssuanceRecorder:
    """The issuance agent's batch step: ``certificates.issued`` records (key number) stored in the issued
    table, the first of each number only: a later record of the same number (a repeated or concurrent
    issuance) changes nothing. The topic is kept forever and read in order, so a new group (a replay) keeps
    the same first records: the same certificates, byte for byte."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.ignored = 0
        """Records of a number already issued."""

    def process(self, batch: Iterable[RawMessage]) -> None:
        for message in batch:
            if not (message.key and message.value):
                continue
            number = message.key.decode("utf-8")
            if self.store.get(number, message) is None:
                self.store.put(number, message.value, message)
            else:
                self.ignored += 1
        self.store.flush()
