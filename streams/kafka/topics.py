"""The topic catalogue: every contract topic with its role, record, key and broker configuration.

::

    input  (event store)  odometer.readings, odometer.plate-readings, odometer.corrections,
                          vehicle.registrations, vehicle.recalls, vehicle.accident-inspections,
                          providers.registry, odometer.confirmations  retention infinite (time and size)
    output                odometer.receipts, odometer.anomalies, dead-letters     retention 2 years
    view                  carpass.certificates, carpass.ok-labels, providers.quality   compacted
    record                certificates.issued (the registry's own acts)          retention infinite
    internal              (none yet: Faust creates its own changelog and repartition topics)

Names and record types come from the contract (``schemas.catalog.TOPICS``); this module adds only what the
broker needs. The input topics are the event store (architecture principle 1): nothing there may ever expire.
Outputs can be rebuilt by a replay, so they expire, but only after two years. Records (issued certificates)
cannot be rebuilt from anything else: kept forever, written by the workers only. All topics made by
``carpass topics create`` get the same partition count so that the VIN-keyed ones are co-partitioned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from schemas import topics as names
from schemas.catalog import TOPICS
from schemas.records import (
    INPUT_TOPICS,
    OUTPUT_TOPICS,
    RECORD_TOPICS,
    CertificateIssued,
    DeadLetter,
    OdometerReading,
    PlateOdometerReading,
    ProviderRegistration,
)
from schemas.views import VIEW_RECORD_TOPICS, ProviderQuality

OUTPUT_RETENTION_MS = 2 * 365 * 24 * 3600 * 1000
"""Two years, in milliseconds: receipts, anomalies and dead letters."""


class TopicKind(StrEnum):
    INPUT = "input"
    OUTPUT = "output"
    VIEW = "view"
    RECORD = "record"
    """The registry's own acts (issued certificates): written by the workers, kept forever."""
    INTERNAL = "internal"


class KeyKind(StrEnum):
    """What the Kafka key of a topic's records is (``schemas.catalog.key_of``)."""

    VIN = "vin"
    PLATE = "plate"
    PROVIDER_ID = "provider_id"
    SOURCE = "source"
    """``<topic>/<partition>/<offset>`` of the input a dead letter comes from."""
    NUMBER = "number"
    """A certificate number."""
    SUBMITTED = "submitted"
    """Whatever an integrator writing its ingest topic chose (not trusted: the intake agent re-keys)."""


_INPUT_CONFIG = MappingProxyType({"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"})
_OUTPUT_CONFIG = MappingProxyType(
    {"cleanup.policy": "delete", "retention.ms": str(OUTPUT_RETENTION_MS), "retention.bytes": "-1"}
)
_VIEW_CONFIG = MappingProxyType({"cleanup.policy": "compact", "min.compaction.lag.ms": "0"})


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic: ``name`` is the contract's; ``config`` the topic-level broker configs it is made with."""

    name: str
    kind: TopicKind
    record_type: type
    key: KeyKind
    config: Mapping[str, str]

    @property
    def co_partitioned(self) -> bool:
        """Keyed by VIN, so it must have the same partition count as every other VIN-keyed topic."""
        return self.key is KeyKind.VIN


def _key_kind(record_type: type) -> KeyKind:
    if record_type is PlateOdometerReading:
        return KeyKind.PLATE
    if record_type in (ProviderRegistration, ProviderQuality):
        return KeyKind.PROVIDER_ID
    if record_type is DeadLetter:
        return KeyKind.SOURCE
    if record_type is CertificateIssued:
        return KeyKind.NUMBER
    return KeyKind.VIN


def _spec(record_type: type, kind: TopicKind, config: Mapping[str, str]) -> TopicSpec:
    return TopicSpec(TOPICS[record_type], kind, record_type, _key_kind(record_type), config)


CATALOGUE: tuple[TopicSpec, ...] = (
    *(_spec(t, TopicKind.INPUT, _INPUT_CONFIG) for t in INPUT_TOPICS),
    *(_spec(t, TopicKind.OUTPUT, _OUTPUT_CONFIG) for t in OUTPUT_TOPICS),
    *(_spec(t, TopicKind.VIEW, _VIEW_CONFIG) for t in VIEW_RECORD_TOPICS),
    *(_spec(t, TopicKind.RECORD, _INPUT_CONFIG) for t in RECORD_TOPICS),
)
"""Every contract topic, inputs first, in contract order."""

_BY_NAME = {spec.name: spec for spec in CATALOGUE}
_BY_RECORD = {spec.record_type: spec for spec in CATALOGUE}


def spec_named(name: str) -> TopicSpec | None:
    """The catalogue entry of topic ``name``, or ``None`` for a topic outside the contract."""
    return _BY_NAME.get(name)


def spec_for(record_type: type) -> TopicSpec:
    """The topic that carries ``record_type``; ``KeyError`` for a type no topic carries."""
    return _BY_RECORD[record_type]


def topics_of_kind(kind: TopicKind) -> tuple[TopicSpec, ...]:
    """The catalogue entries of one kind, in catalogue order."""
    return tuple(spec for spec in CATALOGUE if spec.kind is kind)


VIN_INPUTS: tuple[TopicSpec, ...] = tuple(s for s in topics_of_kind(TopicKind.INPUT) if s.key is KeyKind.VIN)
"""The contract's VIN-keyed inputs: what the vehicle agent folds into each VIN's state."""


INTERNAL_RETENTION_MS = 14 * 24 * 3600 * 1000
"""Internal topics are rebuilt from the inputs by a replay; two weeks covers any restart."""
_INTERNAL_CONFIG = MappingProxyType(
    {"cleanup.policy": "delete", "retention.ms": str(INTERNAL_RETENTION_MS), "retention.bytes": "-1"}
)
_INTERNAL_KEYS = {names.PLATE_INTERVALS: KeyKind.PLATE, names.RESOLVED_READINGS: KeyKind.VIN}
_KEPT_FOREVER = frozenset({names.RESOLVED_READINGS})
"""Internal topics kept like the inputs: the plate readings resolved to their VIN are what ``carpass replay``
reads for plate readings (it does not resolve plates again), so they must last as long as the history."""


@dataclass(frozen=True, slots=True)
class PipelineTopics:
    """Every topic name a worker uses, with the prefix applied."""

    prefix: str = ""

    def name(self, base: str) -> str:
        return self.prefix + base

    @property
    def readings(self) -> str:
        return self.name(names.READINGS)

    @property
    def plate_readings(self) -> str:
        return self.name(names.PLATE_READINGS)

    @property
    def registrations(self) -> str:
        return self.name(names.REGISTRATIONS)

    @property
    def plate_intervals(self) -> str:
        return self.name(names.PLATE_INTERVALS)

    @property
    def resolved_readings(self) -> str:
        return self.name(names.RESOLVED_READINGS)

    @property
    def corrections(self) -> str:
        return self.name(names.CORRECTIONS)

    @property
    def confirmations(self) -> str:
        return self.name(names.CONFIRMATIONS)

    @property
    def providers(self) -> str:
        return self.name(names.PROVIDERS)

    @property
    def certificates(self) -> str:
        return self.name(names.CERTIFICATES)

    @property
    def ok_labels(self) -> str:
        return self.name(names.OK_LABELS)

    @property
    def provider_quality(self) -> str:
        return self.name(names.PROVIDER_QUALITY)

    @property
    def provider_events(self) -> str:
        return self.name(names.PROVIDER_EVENTS)

    @property
    def certificates_issued(self) -> str:
        return self.name(names.CERTIFICATES_ISSUED)

    @property
    def receipts(self) -> str:
        return self.name(names.RECEIPTS)

    @property
    def anomalies(self) -> str:
        return self.name(names.ANOMALIES)

    @property
    def dead_letters(self) -> str:
        return self.name(names.DEAD_LETTERS)

    @property
    def vehicle_inputs(self) -> Mapping[str, type]:
        """The VIN-keyed topics of the vehicle agent -> the record type each carries: every VIN-keyed input
        of the contract, and the plate readings resolved to their VIN."""
        inputs = {self.name(spec.name): spec.record_type for spec in VIN_INPUTS}
        inputs[self.resolved_readings] = OdometerReading
        return inputs

    def base(self, topic: str) -> str:
        """``topic`` without the prefix (metric labels use the contract names)."""
        return topic[len(self.prefix) :] if self.prefix and topic.startswith(self.prefix) else topic

    def all_topics(self, ingest: Iterable[str] = ()) -> dict[str, tuple[KeyKind, Mapping[str, str]]]:
        """Every topic to create: name -> (key kind, topic configs). ``ingest``: the integrators' ingest
        topics (``streams.kafka.acls``), kept as long as outputs."""
        topics = {self.name(spec.name): (spec.key, spec.config) for spec in CATALOGUE}
        for base, key in _INTERNAL_KEYS.items():
            topics[self.name(base)] = (key, _INPUT_CONFIG if base in _KEPT_FOREVER else _INTERNAL_CONFIG)
        for name in ingest:
            topics[name] = (KeyKind.SUBMITTED, _OUTPUT_CONFIG)
        return topics
