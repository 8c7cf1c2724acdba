"""The topics one worker reads and writes, with the ``topic_prefix`` applied, and their creation.

::

    contract inputs (VIN key)   odometer.readings, odometer.corrections, vehicle.registrations,
                                vehicle.recalls, vehicle.accident-inspections,
                                odometer.confirmations ──► vehicle agent
    contract input (plate key)  odometer.plate-readings ──► plate agent
    internal (this module)      carpass.plate-intervals (plate key): registrations re-keyed by plate,
                                                                    and the plate agent's clock ticks
                                carpass.plate-resolved-readings (VIN key): plate readings with their VIN
    outputs                     odometer.receipts, odometer.anomalies, dead-letters
    Faust's own                 <app_id>-<table>-changelog (created by Faust)

Faust neither creates input topics nor notices new ones quickly, so :func:`ensure_topics` makes every
topic above (except the changelogs) before a worker starts, all with the partition count of the
existing VIN-keyed topics (co-partitioning), else ``settings.partitions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from schemas.records import (
    AccidentInspectionStatus,
    CorrectionRequest,
    OdometerReading,
    ReadingConfirmation,
    RecallStatus,
    VehicleRegistration,
)
from streams.kafka_clients import admin_config, bootstrap_servers
from streams.settings import Settings
from streams.topics import CATALOGUE, KeyKind

PLATE_INTERVALS = "carpass.plate-intervals"
RESOLVED_READINGS = "carpass.plate-resolved-readings"
INTERNAL_RETENTION_MS = 14 * 24 * 3600 * 1000
"""Internal topics are rebuilt from the inputs by a replay; two weeks covers any restart."""
_INTERNAL_CONFIG = MappingProxyType(
    {"cleanup.policy": "delete", "retention.ms": str(INTERNAL_RETENTION_MS), "retention.bytes": "-1"}
)
_INTERNAL_KEYS = {PLATE_INTERVALS: KeyKind.PLATE, RESOLVED_READINGS: KeyKind.VIN}


class TopicSetupError(RuntimeError):
    """The broker refused or could not be asked to create a topic, or the topics are not co-partitioned."""


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


def resolve_replication(settings: Settings, brokers: int) -> int:
    """``settings.topic_replication_factor``, or min(3, brokers) when it is 0."""
    wanted = settings.topic_replication_factor
    return wanted if wanted > 0 else min(3, max(1, brokers))


def ensure_topics(settings: Settings, timeout_s: float = 20.0) -> int:
    """Create the worker's missing topics; return their partition count. Raises :class:`TopicSetupError`
    when a co-partitioned topic (VIN or plate key) has another partition count than the others."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    admin: Any = AdminClient(admin_config(settings))
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise TopicSetupError(f"cannot reach Kafka at {bootstrap_servers(settings)}: {exc}") from exc
    wanted = PipelineTopics(settings.topic_prefix).all_topics()
    keyed = {n for n, (key, _) in wanted.items() if key in (KeyKind.VIN, KeyKind.PLATE)}
    counts = {n: len(metadata.topics[n].partitions) for n in keyed if n in metadata.topics}
    if len(set(counts.values())) > 1:
        listing = ", ".join(f"{n}={c}" for n, c in sorted(counts.items()))
        raise TopicSetupError(f"keyed input topics are not co-partitioned: {listing}")
    partitions = next(iter(counts.values()), settings.partitions)
    replicas = resolve_replication(settings, len(metadata.brokers))
    missing = [n for n in wanted if n not in metadata.topics]
    if missing:
        futures = admin.create_topics(
            [NewTopic(n, num_partitions=partitions, replication_factor=replicas, config=dict(wanted[n][1]))
             for n in missing],
            operation_timeout=timeout_s, request_timeout=timeout_s,
        )  # fmt: skip
        for name, future in futures.items():
            try:
                future.result(timeout=timeout_s + 5)
            except KafkaException as exc:
                error = exc.args[0]
                if not (isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS):
                    raise TopicSetupError(f"could not create {name}: {error}") from exc
    _await_visible(admin, list(wanted), timeout_s)
    return partitions


def _await_visible(admin: Any, names: list[str], timeout_s: float) -> None:
    """Wait until the broker's metadata lists every topic with a leader for each partition.

    A topic the controller has created can be missing from a broker's metadata for a moment (seconds on
    a loaded machine). A consumer that subscribes in that moment ignores the topic until its next metadata
    refresh, so a worker started right after the creation would sit idle on its inputs."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        topics = admin.list_topics(timeout=timeout_s).topics
        waiting = sorted(n for n in names if not _ready(topics.get(n)))
        if not waiting:
            return
        if time.monotonic() > deadline:
            listing = ", ".join(waiting)
            raise TopicSetupError(f"topics created but not visible after {timeout_s:.0f} s: {listing}")
        time.sleep(0.2)


def _ready(topic: Any) -> bool:
    return bool(topic is not None and topic.error is None and topic.partitions
                and all(p.leader >= 0 and p.error is None for p in topic.partitions.values()))  # fmt: skip
