"""The topic catalogue: every contract topic with its role, record, key and broker configuration.

::

    input  (event store)  odometer.readings, odometer.plate-readings, odometer.corrections,
                          vehicle.registrations, vehicle.recalls, vehicle.accident-inspections,
                          providers.registry, odometer.confirmations  retention infinite (time and size)
    output                odometer.receipts, odometer.anomalies, dead-letters     retention 2 years
    view                  carpass.certificates, carpass.ok-labels, providers.quality   compacted
    internal              (none yet: Faust creates its own changelog and repartition topics)

Names and record types come from the contract (``schemas.catalog.TOPICS``); this module adds only what the
broker needs. The input topics are the event store (architecture principle 1): nothing there may ever expire.
Outputs can be rebuilt by a replay, so they expire, but only after two years. All topics made by
``carpass topics create`` get the same partition count so that the VIN-keyed ones are co-partitioned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from schemas.catalog import TOPICS
from schemas.records import (
    INPUT_TOPICS,
    OUTPUT_TOPICS,
    AccidentInspectionStatus,
    CorrectionRequest,
    DeadLetter,
    OdometerReading,
    PlateOdometerReading,
    ProviderRegistration,
    ReadingConfirmation,
    RecallStatus,
    VehicleRegistration,
)
from schemas.views import VIEW_RECORD_TOPICS, ProviderQuality

OUTPUT_RETENTION_MS = 2 * 365 * 24 * 3600 * 1000
"""Two years, in milliseconds: receipts, anomalies and dead letters."""


class TopicKind(StrEnum):
    INPUT = "input"
    OUTPUT = "output"
    VIEW = "view"
    INTERNAL = "internal"


class KeyKind(StrEnum):
    """What the Kafka key of a topic's records is (``schemas.catalog.key_of``)."""

    VIN = "vin"
    PLATE = "plate"
    PROVIDER_ID = "provider_id"
    SOURCE = "source"
    """``<topic>/<partition>/<offset>`` of the input a dead letter comes from."""


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
    return KeyKind.VIN


def _spec(record_type: type, kind: TopicKind, config: Mapping[str, str]) -> TopicSpec:
    return TopicSpec(TOPICS[record_type], kind, record_type, _key_kind(record_type), config)


CATALOGUE: tuple[TopicSpec, ...] = (
    *(_spec(t, TopicKind.INPUT, _INPUT_CONFIG) for t in INPUT_TOPICS),
    *(_spec(t, TopicKind.OUTPUT, _OUTPUT_CONFIG) for t in OUTPUT_TOPICS),
    *(_spec(t, TopicKind.VIEW, _VIEW_CONFIG) for t in VIEW_RECORD_TOPICS),
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


PLATE_INTERVALS = "carpass.plate-intervals"
RESOLVED_READINGS = "carpass.plate-resolved-readings"
INTERNAL_RETENTION_MS = 14 * 24 * 3600 * 1000
"""Internal topics are rebuilt from the inputs by a replay; two weeks covers any restart."""
_INTERNAL_CONFIG = MappingProxyType(
    {"cleanup.policy": "delete", "retention.ms": str(INTERNAL_RETENTION_MS), "retention.bytes": "-1"}
)
_INTERNAL_KEYS = {PLATE_INTERVALS: KeyKind.PLATE, RESOLVED_READINGS: KeyKind.VIN}


@dataclass(frozen=True, slots=True)
class PipelineTopics:
    """Every topic name a worker uses, with the prefix applied."""

    prefix: str = ""

    def name(self, base: str) -> str:
        return self.prefix + base

    @property
    def readings(self) -> str:
        return self.name("odometer.readings")

    @property
    def plate_readings(self) -> str:
        return self.name("odometer.plate-readings")

    @property
    def registrations(self) -> str:
        return self.name("vehicle.registrations")

    @property
    def plate_intervals(self) -> str:
        return self.name(PLATE_INTERVALS)

    @property
    def resolved_readings(self) -> str:
        return self.name(RESOLVED_READINGS)

    @property
    def receipts(self) -> str:
        return self.name("odometer.receipts")

    @property
    def anomalies(self) -> str:
        return self.name("odometer.anomalies")

    @property
    def dead_letters(self) -> str:
        return self.name("dead-letters")

    @property
    def vehicle_inputs(self) -> Mapping[str, type]:
        """The VIN-keyed topics of the vehicle agent -> the record type each carries."""
        return {
            self.readings: OdometerReading,
            self.name("odometer.corrections"): CorrectionRequest,
            self.registrations: VehicleRegistration,
            self.name("vehicle.recalls"): RecallStatus,
            self.name("vehicle.accident-inspections"): AccidentInspectionStatus,
            self.resolved_readings: OdometerReading,
            self.name("odometer.confirmations"): ReadingConfirmation,
        }

    def base(self, topic: str) -> str:
        """``topic`` without the prefix (metric labels use the contract names)."""
        return topic[len(self.prefix) :] if self.prefix and topic.startswith(self.prefix) else topic

    def all_topics(self) -> dict[str, tuple[KeyKind, Mapping[str, str]]]:
        """Every topic to create: name -> (key kind, topic configs)."""
        topics = {self.name(spec.name): (spec.key, spec.config) for spec in CATALOGUE}
        for base, key in _INTERNAL_KEYS.items():
            topics[self.name(base)] = (key, _INTERNAL_CONFIG)
        return topics
