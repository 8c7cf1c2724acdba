"""Nothing acknowledged before it is stored, on the real broker.

- An oversized record read in the same batch as good readings (the incident: a ~1 MB record on
  ``odometer.readings`` crashed the vehicle agent with its dead letter over the producer's limit, and the
  committed offset moved past it and the seven good readings of its batch: 16 inputs, 5 receipts).
- A batch whose outputs Kafka keeps refusing (the receipts topic set to a 100-byte record limit): the
  worker tries it again, then stops with an error, and the group's committed offset stays before it; once
  the topic is mended, a new worker answers every reading.

For every input: a receipt or a dead letter, counted by event id and offset.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from schemas.catalog import TOPICS
from schemas.codec import encode
from schemas.jsonl import parse_line
from schemas.records import DeadLetter, OdometerReading, Receipt
from streams.worker.batch import DEAD_LETTER_VALUE_MAX_BYTES
from tests.integration.worker_harness import Feeder, Pipeline, pipeline, read_all, read_topic, records_of

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = [parse_line(line) for line in (ROOT / "examples/rollback.jsonl").read_text().splitlines() if line]
READINGS = [r for r in EXAMPLE if isinstance(r, OdometerReading)]
VIN = READINGS[0].vin


def committed(p: Pipeline, topic: str) -> dict[int, int]:
    """The group's committed offset per partition of ``topic`` (-1001: none)."""
    consumer = Consumer({"bootstrap.servers": p.bootstrap, "group.id": p.app_id})
    try:
        parts = [TopicPartition(topic, i) for i in range(p.partitions)]
        return {tp.partition: tp.offset for tp in consumer.committed(parts, timeout=10)}
    finally:
        consumer.close()


def ends(p: Pipeline, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": p.bootstrap, "group.id": "ends"})
    try:
        return {i: consumer.get_watermark_offsets(TopicPartition(topic, i), timeout=10)[1]
                for i in range(p.partitions)}  # fmt: skip
    finally:
        consumer.close()


def wait_committed(p: Pipeline, topic: str, timeout_s: float = 60.0) -> None:
    """Until the group has committed every partition of ``topic`` up to its end."""
    deadline = time.monotonic() + timeout_s
    want = {i: end for i, end in ends(p, topic).items() if end > 0}
    while True:
        have = committed(p, topic)
        if all(have.get(i, -1) == end for i, end in want.items()):
            return
        assert time.monotonic() < deadline, f"{topic}: committed {have}, ends {want}"
        p.assert_alive()
        time.sleep(0.5)


def test_an_oversized_record_is_a_dead_letter_and_costs_no_other_reading(
    kafka_bootstrap: str, tmp_path: Path
) -> None:  # fmt: skip
    with pipeline(kafka_bootstrap, tmp_path, partitions=2) as p:
        Feeder(p).records(EXAMPLE)
        big = encode(READINGS[-1])[:100] + b"\x00" * 1_000_000  # about 1 MB: the broker's default limit
        producer = Producer({"bootstrap.servers": kafka_bootstrap, "message.max.bytes": 1_048_000,
                             "partitioner": "murmur2_random"})  # fmt: skip
        producer.produce(p.prefix + TOPICS[OdometerReading], key=VIN.encode(), value=big)
        assert producer.flush(15) == 0
        worker = p.start()  # everything is there already: the big record comes in one batch with the rest

        enough = lambda m: len(m) >= len(READINGS)  # noqa: E731
        answered = read_topic(kafka_bootstrap, p.topics.receipts, enough, check=p.assert_alive)
        receipts = records_of(answered, Receipt)
        letters = records_of(read_topic(kafka_bootstrap, p.topics.dead_letters, lambda m: len(m) >= 1,
                                        check=p.assert_alive), DeadLetter)  # fmt: skip
        assert sorted(r.event_id for r in receipts) == sorted(r.event_id for r in READINGS)
        assert len(letters) == 1
        letter = letters[0]
        assert letter.error_type == "oversized" and letter.original_key == VIN.encode()
        assert letter.original_value == big[:DEAD_LETTER_VALUE_MAX_BYTES]
        assert letter.original_size == len(big) and letter.original_sha256 == hashlib.sha256(big).hexdigest()
        assert letter.topic == p.topics.readings
        wait_committed(p, p.topics.readings)
        wait_committed(p, p.topics.registrations)
        metrics = p.metrics(worker)
        assert metrics['carpass_dead_letters_total{reason="oversized",topic="odometer.readings"}'] == 1
        assert metrics.get('carpass_batch_failures_total{agent="vehicles"}', 0.0) == 0
        assert p.workers[worker].poll() is None


def _set_record_limit(bootstrap: str, topic: str, limit: int | None) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    op = AlterConfigOpType.SET if limit is not None else AlterConfigOpType.DELETE
    entry = ConfigEntry("max.message.bytes", "" if limit is None else str(limit), incremental_operation=op)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[entry])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=15)
    time.sleep(1.0)  # the broker applies a topic's config asynchronously


def test_a_batch_kafka_keeps_refusing_stops_the_worker_uncommitted_and_a_new_worker_answers_it(
    kafka_bootstrap: str, tmp_path: Path
) -> None:  # fmt: skip
    with pipeline(kafka_bootstrap, tmp_path, partitions=2, batch_attempts="3", batch_retry_max_s="0.5") as p:
        _set_record_limit(kafka_bootstrap, p.topics.receipts, 100)  # every receipt is larger
        Feeder(p).records(EXAMPLE)
        readings_partition = _partition_of(p, VIN)
        worker = p.start()
        process = p.workers[worker]
        deadline = time.monotonic() + 90
        while process.poll() is None:
            assert time.monotonic() < deadline, "the worker did not stop after its batch failed 3 times"
            time.sleep(0.5)
        p.killed.add(worker)  # it stopped by itself: not a failure of the harness
        log = (tmp_path / "w-0.log").read_text(errors="replace")
        assert process.returncode != 0
        assert "failed 3 times; stopping the worker" in log
        assert committed(p, p.topics.readings).get(readings_partition, -1001) <= 0  # nothing past its start
        assert read_all(kafka_bootstrap, p.topics.receipts, idle_s=3.0) == []

        _set_record_limit(kafka_bootstrap, p.topics.receipts, None)
        p.start()
        enough = lambda m: len(m) >= len(READINGS)  # noqa: E731
        answered = read_topic(kafka_bootstrap, p.topics.receipts, enough, check=p.assert_alive)
        receipts = records_of(answered, Receipt)
        assert {r.event_id for r in receipts} == {r.event_id for r in READINGS}
        wait_committed(p, p.topics.readings)


def _partition_of(p: Pipeline, vin: str) -> int:
    from aiokafka.partitioner import murmur2

    return (int(murmur2(vin.encode())) & 0x7FFFFFFF) % p.partitions

