"""The contracts on a real broker: Avro through both Kafka clients, co-partitioning, and the CLI end to end.

confluent-kafka (``partitioner=murmur2_random``, from ``streams.kafka.clients``) ──► topic ──► aiokafka
Faust (aiokafka transport) keyed sends ──► same partitions for the same keys
``carpass topics create`` ─► ``carpass produce FILE`` ─► ``carpass tail TOPIC`` ─► the same JSON back
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from schemas.catalog import AnyRecord, key_of
from schemas.codec import decode, encode
from schemas.jsonl import dumps, to_json_obj
from schemas.records import INPUT_TOPICS, OdometerReading
from streams.cli import main
from streams.kafka.clients import producer_config
from streams.kafka.topics import CATALOGUE
from streams.settings import Settings
from tests.unit.schemas.golden_records import GOLDEN

pytestmark = pytest.mark.integration

PARTITIONS = 6


def _input_records() -> list[AnyRecord]:
    """Every input record type, each for several keys."""
    out: list[AnyRecord] = []
    for record in GOLDEN.values():
        if type(record) not in INPUT_TOPICS:
            continue
        key_field = {"PlateOdometerReading": "plate", "ProviderRegistration": "provider_id"}.get(
            type(record).__name__, "vin"
        )
        for i in range(8):
            changes = {key_field: f"{getattr(record, key_field)[:-3]}{i:03d}", "event_id": str(uuid.uuid4())}
            out.append(dataclasses.replace(record, **changes))  # type: ignore[arg-type]
    return out


def _settings(bootstrap: str) -> Settings:
    return Settings.from_env({"CARPASS_KAFKA_BOOTSTRAP_SERVERS": bootstrap})


def _produce_with_confluent(bootstrap: str, topic: str, records: list[AnyRecord]) -> dict[bytes, int]:
    from confluent_kafka import Producer

    partitions: dict[bytes, int] = {}
    errors: list[Any] = []

    def delivered(error: Any, message: Any) -> None:
        if error is not None:
            errors.append(error)
        else:
            partitions[message.key()] = message.partition()

    producer = Producer(producer_config(_settings(bootstrap), {"on_delivery": delivered}))
    for record in records:
        producer.produce(topic, key=key_of(record).encode(), value=encode(record))
    assert producer.flush(30) == 0
    assert not errors
    return partitions


async def _consume_with_aiokafka(bootstrap: str, topic: str, count: int) -> list[Any]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    messages: list[Any] = []
    try:
        async with asyncio.timeout(60):
            while len(messages) < count:
                batches = await consumer.getmany(timeout_ms=500)
                for batch in batches.values():
                    messages.extend(batch)
    finally:
        await consumer.stop()
    return messages


async def _faust_partitions(
    bootstrap: str, topic: str, keys: list[bytes], data_dir: Path
) -> dict[bytes, int]:
    """Partition Faust's producer picks for each key (a keyed send without a partition, as agents do)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import faust
        from aiokafka.partitioner import DefaultPartitioner

    app = faust.App(
        f"carpass-partitions-{uuid.uuid4().hex[:8]}", broker=f"kafka://{bootstrap}", datadir=str(data_dir),
        store="memory://", topic_disable_leader=True,
    )  # fmt: skip
    producer = app.producer
    # faust-streaming 0.15.3: Producer.partitioner defaults to aiokafka's DefaultPartitioner (murmur2),
    # handed to AIOKafkaProducer; send(partition=None) lets aiokafka pick.
    assert isinstance(producer.partitioner, DefaultPartitioner)
    faust_topic = app.topic(topic, key_serializer="raw", value_serializer="raw")
    await producer.start()
    try:
        chosen: dict[bytes, int] = {}
        for key in keys:
            pending = await faust_topic.send(key=key, value=b"faust")
            await producer.flush()
            chosen[key] = (await pending).partition
        return chosen
    finally:
        await producer.stop()


def test_input_records_cross_clients_and_partitions(
    kafka_bootstrap: str, new_topic: Callable[..., str], tmp_path: Path
) -> None:
    from aiokafka.partitioner import DefaultPartitioner, murmur2

    records = _input_records()
    topic = new_topic("contracts", partitions=PARTITIONS)
    confluent_partitions = _produce_with_confluent(kafka_bootstrap, topic, records)

    messages = asyncio.run(_consume_with_aiokafka(kafka_bootstrap, topic, len(records)))
    assert len(messages) == len(records)
    by_event = {r.event_id: r for r in records}
    for message in messages:
        record = decode(message.value)
        assert record == by_event[record.event_id]
        assert message.key == key_of(record).encode()
        assert message.partition == confluent_partitions[message.key]

    everything = list(range(PARTITIONS))
    for key, partition in confluent_partitions.items():
        assert partition == DefaultPartitioner()(key, everything, everything), key
        assert partition == (murmur2(key) & 0x7FFFFFFF) % PARTITIONS

    faust_topic = new_topic("faust", partitions=PARTITIONS)
    keys = sorted(confluent_partitions)
    faust = asyncio.run(_faust_partitions(kafka_bootstrap, faust_topic, keys, tmp_path))
    assert faust == confluent_partitions


# --- the CLI end to end --------------------------------------------------------------------------------


@pytest.fixture
def cli_env(kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A cleared CARPASS_* environment pointing at the session's broker."""
    for name in list(os.environ):
        if name.startswith("CARPASS_") or name == "KAFKA_BOOTSTRAP_SERVERS":
            monkeypatch.delenv(name)
    monkeypatch.setenv("CARPASS_KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    return kafka_bootstrap


@pytest.fixture
def prefix(kafka_admin: Any) -> Iterator[str]:
    """A unique topic prefix; every catalogue topic under it is deleted afterwards."""
    value = f"t{uuid.uuid4().hex[:10]}."
    yield value
    names = [value + spec.name for spec in CATALOGUE]
    existing = set(kafka_admin.list_topics(timeout=10).topics)
    doomed = [name for name in names if name in existing]
    if doomed:
        for future in kafka_admin.delete_topics(doomed, operation_timeout=10).values():
            with contextlib.suppress(Exception):  # best effort: a leftover topic harms no other test
                future.result(timeout=15)


def test_topics_produce_and_tail(
    cli_env: str, prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["topics", "create", "--partitions", "3", "--topic-prefix", prefix]) == 0
    out = capsys.readouterr().out
    assert out.count("created ") == len(CATALOGUE)
    assert main(["topics", "create", "--partitions", "3", "--topic-prefix", prefix]) == 0
    out = capsys.readouterr().out
    assert out.count("exists ") == len(CATALOGUE) and "0 created" in out

    assert main(["topics", "list", "--topic-prefix", prefix]) == 0
    listing = capsys.readouterr().out
    assert f"{prefix}odometer.readings" in listing and "missing" not in listing

    readings = [r for r in _input_records() if isinstance(r, OdometerReading)]
    bad = to_json_obj(readings[0]) | {"odometer_value": "12a"}
    lines = [dumps(r) for r in readings] + [json.dumps(bad), dumps(GOLDEN["VehicleRegistration"])]
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(lines) + "\n")
    assert main(["produce", str(source), "--topic-prefix", prefix]) == 1
    out, err = capsys.readouterr()
    assert f"line {len(readings) + 1}: field 'odometer_value': expected integer, got \"12a\"" in err
    assert f"produced {len(readings) + 1} records" in out and "1 bad line skipped" in out

    topic = f"{prefix}odometer.readings"
    assert main(["tail", topic, "--from-beginning", "--max", str(len(readings)), "--timeout", "20"]) == 0
    tailed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(tailed, key=lambda o: o["event_id"]) == sorted(
        (to_json_obj(r) for r in readings), key=lambda o: o["event_id"]
    )

    # A record that is not an OdometerReading on that topic, and garbage: reported, not a crash.
    from confluent_kafka import Producer

    producer = Producer(producer_config(_settings(cli_env)))
    producer.produce(topic, key=b"x", value=encode(GOLDEN["Receipt"]))
    producer.produce(topic, key=b"x", value=b"garbage")
    assert producer.flush(15) == 0
    total = len(readings) + 2
    assert main(["tail", topic, "--from-beginning", "--max", str(total), "--timeout", "20"]) == 0
    errors = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"error"' in line]
    assert [e["error"] for e in errors] == ["unexpected-type", "wrong-magic"]
    assert all(e["topic"] == topic and isinstance(e["offset"], int) for e in errors)


def test_produce_refuses_missing_topics(
    cli_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "events.jsonl"
    source.write_text(dumps(GOLDEN["OdometerReading"]) + "\n")
    prefix = f"absent{uuid.uuid4().hex[:8]}."
    assert main(["produce", str(source), "--topic-prefix", prefix, "--timeout", "2"]) == 2
    assert "does not exist" in capsys.readouterr().err
