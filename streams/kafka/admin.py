"""The creation of every topic a worker reads and writes (:class:`~streams.kafka.topics.PipelineTopics`).

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
from typing import Any

from streams.kafka.clients import admin_config, bootstrap_servers
from streams.kafka.topics import KeyKind, PipelineTopics
from streams.settings import Settings


class TopicSetupError(RuntimeError):
    """The broker refused or could not be asked to create a topic, or the topics are not co-partitioned."""


def resolve_replication(settings: Settings, brokers: int) -> int:
    """``settings.topic_replication_factor``, or min(3, brokers) when it is 0."""
    wanted = settings.topic_replication_factor
    return wanted if wanted > 0 else min(3, max(1, brokers))


def keyed_partition_counts(wanted: Mapping[str, tuple[KeyKind, Any]], metadata: Any) -> dict[str, int]:
    """Partition count of each VIN- or plate-keyed topic of ``wanted`` that exists: they must all be one
    (co-partitioning: a VIN's inputs and its plate readings land on the same partition number)."""
    keyed = {n for n, (key, _) in wanted.items() if key in (KeyKind.VIN, KeyKind.PLATE)}
    return {n: len(metadata.topics[n].partitions) for n in keyed if n in metadata.topics}


def ingest_topics(settings: Settings) -> list[str]:
    """The ingest topics of the integrators of ``settings.kafka_access_file`` (none without one); a
    :class:`TopicSetupError` saying what is wrong with the file."""
    from streams.kafka.acls import AccessFileError, load_access

    if not settings.kafka_access_file:
        return []
    try:
        plan = load_access(settings.kafka_access_file)
    except AccessFileError as exc:
        raise TopicSetupError(f"CARPASS_KAFKA_ACCESS_FILE: {exc}") from None
    return list(plan.ingest_routes(PipelineTopics(settings.topic_prefix)))


def ensure_topics(
    settings: Settings, timeout_s: float = 20.0, prefix: str | None = None,
    extra: Mapping[str, Mapping[str, str]] | None = None,
) -> int:
    """Create the worker's missing topics (of ``prefix``, default the settings'; and ``extra``: name ->
    config, with the same partitions); return their partition count. Raises :class:`TopicSetupError` when a
    co-partitioned topic (VIN or plate key) has another partition count than the others."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    admin: Any = AdminClient(admin_config(settings))
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise TopicSetupError(f"cannot reach Kafka at {bootstrap_servers(settings)}: {exc}") from exc
    wanted = dict(PipelineTopics(settings.topic_prefix if prefix is None else prefix)
                  .all_topics(ingest_topics(settings) if prefix is None else []))
    wanted.update({name: (KeyKind.VIN, config) for name, config in (extra or {}).items()})
    counts = keyed_partition_counts(wanted, metadata)
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
    await_visible(admin, list(wanted), timeout_s)
    return partitions


def await_visible(admin: Any, names: list[str], timeout_s: float) -> None:
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


def topic_partitions(client: Any, topic: str, timeout_s: float) -> list[int]:
    """The partitions of ``topic`` as ``client`` (a confluent ``Consumer`` or ``AdminClient``) sees them;
    ``KafkaException`` (UNKNOWN_TOPIC_OR_PART) when it has none."""
    from confluent_kafka import KafkaError, KafkaException

    described = client.list_topics(topic, timeout=timeout_s).topics.get(topic)
    if described is None or described.error is not None or not described.partitions:
        raise KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, f"no topic {topic}"))
    return sorted(described.partitions)
