"""Both Kafka clients work against the session's real broker; the local broker's ``up`` is idempotent."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import pytest

from streams.cli import build_parser
from streams.local.kafka import LocalKafka

pytestmark = pytest.mark.integration


def test_confluent_kafka_produces_and_consumes(kafka_bootstrap: str, new_topic: Callable[..., str]) -> None:
    from confluent_kafka import Consumer, Producer

    topic = new_topic("confluent", partitions=2)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "partitioner": "murmur2_random"})
    producer.produce(topic, key=b"WVWZZZ1JZXW000001", value=b"42 km")
    assert producer.flush(15) == 0

    consumer = Consumer(
        {"bootstrap.servers": kafka_bootstrap, "group.id": topic, "auto.offset.reset": "earliest"}
    )
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 30
        message = None
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                break
        assert message is not None and message.error() is None
        assert (message.key(), message.value()) == (b"WVWZZZ1JZXW000001", b"42 km")
    finally:
        consumer.close()


def test_aiokafka_produces_and_consumes(kafka_bootstrap: str, new_topic: Callable[..., str]) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    topic = new_topic("aiokafka", partitions=2)

    async def roundtrip() -> list[tuple[bytes | None, bytes | None]]:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"43 km", key=b"WVWZZZ1JZXW000002")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=kafka_bootstrap, group_id=topic, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            batches = await asyncio.wait_for(_first_batch(consumer), timeout=30)
            await consumer.commit()  # the group coordinator answers aiokafka's OffsetCommit version
        finally:
            await consumer.stop()
        return [(record.key, record.value) for record in batches]

    assert asyncio.run(roundtrip()) == [(b"WVWZZZ1JZXW000002", b"43 km")]


async def _first_batch(consumer: object) -> list[object]:
    while True:
        batch = await consumer.getmany(timeout_ms=500)  # type: ignore[attr-defined]
        records = [record for records in batch.values() for record in records]
        if records:
            return records


def test_up_twice_is_idempotent_and_status_reports_the_broker(
    local_kafka: LocalKafka, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = local_kafka.settings
    parser = build_parser()
    outputs = []
    for _ in range(2):
        args = parser.parse_args(["kafka", "up"])
        assert args.handler(args, settings) == 0
        captured = capsys.readouterr()
        assert "already running" in captured.err
        outputs.append(captured.out.strip())
    assert outputs == [local_kafka.bootstrap] * 2

    args = parser.parse_args(["kafka", "status", "--json"])
    assert args.handler(args, settings) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["state"] == "up" and status["answering"] is True
    assert status["bootstrap"] == local_kafka.bootstrap
    assert status["version"] == settings.kafka_version
    assert status["pid"] == local_kafka.status().pid is not None
    assert status["data_dir"] == str(local_kafka.data_dir)
