"""``carpass replay``: every VIN's state and views rebuilt from the input topics (the event store) with the
worker's own batch step, in one pass, without Faust.

::

    the vehicle agent's input topics, partition by partition, from their start to their end when the replay
    began ──► a consumer with the partitions assigned (no group) ──► EventTimeAligner (the worker's order:
    timestamp, then topic rank) ──► VehicleProcessor.process in batches, each VIN's state held decoded
    (HeldStates: not encoded and stored after every batch as the live worker must)
    ──► at the end of a partition, each VIN's last state ──► the vehicle table's changelog (then a worker
    restores its RocksDB from it, as after any move) ──► its certificate and OK-label views, once per VIN

Two targets (:class:`ReplayTarget`):

* **in place**: the worker's own prefix and consumer group. States and views are written again; receipts,
  anomalies and dead letters are counted but not sent (the originals are on Kafka); at the end the group's
  committed offsets of the inputs are set to where the replay stopped, so the workers carry on from there.
  Refused while the group has members (a running worker would write the same keys).
* **what-if** (another prefix): receipts, anomalies, states and views go to the other prefix's topics and
  changelog; nothing of the source is written, its group is not touched. ``carpass diff`` compares the two.

Equal to the live path: the same events in the same order per VIN through the same step give the same
states (bytes), anomalies and receipts (ids and bytes: times are the inputs' Kafka timestamps) and the same
last view per VIN (``tests/integration/test_replay.py``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from streams.kafka.topics import PipelineTopics
from streams.worker.align import EventTimeAligner
from streams.worker.batch import RawMessage
from streams.worker.vehicles import VehicleProcessor

log = logging.getLogger(__name__)

VEHICLE_TABLE = "vehicles"
"""The worker's table of vehicle states (``streams.worker.faust.app``)."""
QUALITY_TABLE = "provider-quality"
"""The projections' table of provider tallies (``projections.wiring.QUALITY_TABLE``)."""


class ReplayError(RuntimeError):
    """The replay cannot start or go on (a message for the operator)."""


def changelog_topic(group_id: str, table: str) -> str:
    """The changelog topic Faust gives table ``table`` of app ``group_id`` (``Table.changelog_topic_name``;
    a unit test checks it against Faust's)."""
    return f"{group_id}-{table}-changelog"


@dataclass(frozen=True, slots=True)
class ReplayTarget:
    """Where a replay writes: ``topics`` (receipts, anomalies, views), the changelog of ``group_id``'s
    vehicle table, and, in place, the committed offsets of ``group_id``."""

    topics: PipelineTopics
    group_id: str

    @property
    def changelog(self) -> str:
        return changelog_topic(self.group_id, VEHICLE_TABLE)

    @property
    def quality_changelog(self) -> str:
        return changelog_topic(self.group_id, QUALITY_TABLE)


@dataclass(slots=True)
class PartitionSpan:
    """The records of one input topic partition the replay reads: ``[start, end)``."""

    topic: str
    partition: int
    start: int
    end: int

    @property
    def records(self) -> int:
        return max(0, self.end - self.start)


Progress = Callable[[int], None]
"""``progress(events)``: called after every batch with its size."""


class ChangelogStore:
    """:class:`~streams.worker.batch.StateStore` of a replay: writes go to the vehicle table's changelog
    (through ``sink``, to the partition of the input), then to a scratch map the replay reads back (a state
    that left :class:`~streams.state.held.HeldStates` and is needed again); nothing else reads it."""

    def __init__(self, sink: Any, changelog: str) -> None:
        self.sink, self.changelog = sink, changelog
        self._pending: dict[tuple[int, str], bytes] = {}
        self._written: dict[tuple[int, str], bytes] = {}
        self.records = 0

    def get(self, key: str, source: RawMessage) -> bytes | None:
        where = (source.partition, key)
        return self._pending.get(where, self._written.get(where))

    def put(self, key: str, value: bytes, source: RawMessage) -> None:
        self._pending[(source.partition, key)] = value

    def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        for (partition, key), value in pending.items():
            self.sink.send(self.changelog, key.encode("utf-8"), value, partition)
        self.sink.flush()
        self.records += len(pending)
        self._written.update(pending)

    def keys(self) -> set[str]:
        """Every key written."""
        return {key for _, key in self._written}

    def forget(self, partition: int) -> int:
        """A partition is done: its states are on the changelog and never read again. How many keys it had."""
        kept = {where: value for where, value in self._written.items() if where[0] != partition}
        forgotten, self._written = len(self._written) - len(kept), kept
        return forgotten


class _Record:
    """A consumed message as the aligner wants it (``timestamp``) and as the step wants it (``raw``)."""

    __slots__ = ("offset", "partition", "raw", "timestamp", "topic")

    def __init__(self, raw: RawMessage) -> None:
        self.raw, self.topic, self.partition = raw, raw.topic, raw.partition
        self.offset, self.timestamp = raw.offset, raw.timestamp_ms


Fetch = Callable[[], tuple[Sequence[RawMessage], dict[str, int]]]
"""``fetch()``: the next records consumed from one partition number's topics (in offset order per topic),
and each topic's consumer position (the offset it reads next) after them."""


def aligned_batches(
    spans: Sequence[PartitionSpan], fetch: Fetch, rank: Sequence[str], batch_size: int
) -> Iterator[list[RawMessage]]:
    """The records of ``spans`` (one partition number, several topics) in the worker's event-time order, in
    batches of at most ``batch_size``; records at or past a span's end are left out. A topic whose queue is
    empty and that is not read to its end holds the others back, as in the live worker, but never gives up
    waiting: everything up to the ends is known to exist. A position reported past the last record (offsets
    with no record: compaction, transaction markers) counts as read."""
    ends = {span.topic: span.end for span in spans if span.records}
    position = {span.topic: span.start for span in spans if span.records}
    aligner = EventTimeAligner(rank, max_wait_s=float("inf"))

    def lagging(topic: str, partition: int) -> bool:
        return topic in ends and position[topic] < ends[topic]

    pending: list[RawMessage] = []
    while True:
        if any(position[t] < ends[t] for t in ends):
            messages, positions = fetch()
            fetched: dict[str, list[_Record]] = {}
            for message in messages:
                end = ends.get(message.topic)
                if end is None or message.offset >= end:
                    continue
                fetched.setdefault(message.topic, []).append(_Record(message))
                position[message.topic] = message.offset + 1
            for topic, next_offset in positions.items():
                if topic in position and next_offset > position[topic]:
                    position[topic] = next_offset
            aligner.add(fetched.values())
        elif not aligner.held():
            break
        for record in aligner.release(0.0, lagging, lambda topic, partition: True):
            pending.append(record.raw)
            if len(pending) >= batch_size:
                yield pending
                pending = []
    if pending:
        yield pending


def replay_partition(
    processor: VehicleProcessor, spans: Sequence[PartitionSpan], fetch: Fetch, rank: Sequence[str],
    batch_size: int, on_batch: Progress = lambda n: None,
) -> int:  # fmt: skip
    """Replay one partition number through ``processor`` (built with ``hold``); its held states stored at
    the end. How many events."""
    events = 0
    for batch in aligned_batches(spans, fetch, rank, batch_size):
        processor.process(batch)
        events += len(batch)
        on_batch(len(batch))
    processor.release_held()
    return events


# --- Kafka -------------------------------------------------------------------------------------------------


def plan_spans(consumer: Any, topics: Sequence[str], timeout_s: float = 20.0) -> list[PartitionSpan]:
    """Every partition of ``topics`` (that exist) with its low and high watermarks now: what is replayed."""
    from confluent_kafka import TopicPartition

    from streams.kafka.admin import topic_partitions

    spans = []
    for topic in topics:
        try:
            partitions = topic_partitions(consumer, topic, timeout_s)
        except Exception as exc:  # a missing input topic is an empty one (a VIN's corrections, say)
            log.info("replay: %s not read (%s)", topic, exc)
            continue
        for partition in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
            spans.append(PartitionSpan(topic, partition, low, high))
    return spans


class PartitionFetcher:
    """A confluent-kafka consumer reading the spans of one partition number (assigned, never joined)."""

    def __init__(self, consumer: Any, spans: Sequence[PartitionSpan], max_records: int = 5_000) -> None:
        from confluent_kafka import TopicPartition

        self.consumer = consumer
        self.max_records = max_records
        self.assigned = [TopicPartition(s.topic, s.partition, s.start) for s in spans if s.records]
        consumer.assign(self.assigned)

    def __call__(self) -> tuple[list[RawMessage], dict[str, int]]:
        out = []
        # consume() waits for max_records or the timeout: a short one returns what the fetches brought
        for message in self.consumer.consume(self.max_records, timeout=0.05):
            error = message.error()
            if error is not None:
                raise ReplayError(f"reading {message.topic()}[{message.partition()}]: {error}")
            out.append(raw_message(message))
        positions = {tp.topic: tp.offset for tp in self.consumer.position(self.assigned) if tp.offset >= 0}
        return out, positions

    def close(self) -> None:
        self.consumer.unassign()


def group_members(admin: Any, group_id: str, timeout_s: float = 20.0) -> int:
    """How many members consumer group ``group_id`` has now (0 for a group that does not exist)."""
    future = admin.describe_consumer_groups([group_id], request_timeout=timeout_s)[group_id]
    try:
        description = future.result(timeout=timeout_s + 5)
    except Exception as exc:
        if "GROUP_ID_NOT_FOUND" in str(exc):
            return 0
        raise
    return len(description.members)


def commit_offsets(settings: Any, group_id: str, spans: Sequence[PartitionSpan]) -> None:
    """Commit, for consumer group ``group_id``, each span's end: the workers carry on from there."""
    from confluent_kafka import Consumer, TopicPartition

    from streams.kafka.clients import consumer_config

    consumer = Consumer(consumer_config(settings, group_id, {"enable.auto.commit": False}))
    try:
        offsets = [TopicPartition(s.topic, s.partition, s.end) for s in spans]
        if offsets:
            consumer.commit(offsets=offsets, asynchronous=False)
    finally:
        consumer.close()


def raw_message(message: Any) -> RawMessage:
    """A confluent-kafka message as the batch steps take it."""
    return RawMessage(message.topic(), message.partition(), message.offset(), message.key(), message.value(),
                      message.timestamp()[1])  # fmt: skip


def read_to_end(settings: Any, topic: str, timeout_s: float = 20.0) -> Iterator[Any]:
    """Every message (confluent-kafka's) of ``topic`` from its start to its end as of now, partition after
    partition in no fixed order (none if the topic does not exist); :class:`ReplayError` on a read error."""
    from confluent_kafka import TopicPartition

    consumer = new_reader(settings)
    try:
        spans = [span for span in plan_spans(consumer, [topic], timeout_s) if span.records]
        ends = {span.partition: span.end for span in spans}
        consumer.assign([TopicPartition(topic, span.partition, span.start) for span in spans])
        while ends:
            for message in consumer.consume(5_000, timeout=0.2):
                if message.error() is not None:
                    raise ReplayError(f"reading {topic}: {message.error()}")
                partition, offset = message.partition() or 0, message.offset() or 0
                if partition in ends and offset < ends[partition]:
                    yield message
                    if offset + 1 >= ends[partition]:
                        del ends[partition]
            for tp in consumer.position([TopicPartition(topic, p) for p in list(ends)]):
                if tp.offset >= ends.get(tp.partition, 1 << 62):
                    del ends[tp.partition]
    finally:
        consumer.close()


def new_reader(settings: Any) -> Any:
    """A consumer for reading inputs (its group is never joined: partitions are assigned)."""
    from confluent_kafka import Consumer

    from streams.kafka.clients import consumer_config

    group = f"carpass-replay-{uuid.uuid4().hex[:12]}"
    return Consumer(consumer_config(settings, group, {
        "enable.auto.commit": False, "auto.offset.reset": "earliest", "enable.partition.eof": False,
        "fetch.max.bytes": 52_428_800, "max.partition.fetch.bytes": 4_194_304,
        "client.id": "carpass-replay",
    }))  # fmt: skip
