"""streams.kafka.clients: one place for bootstrap resolution, murmur2 partitioning and the codec."""

from __future__ import annotations

import dataclasses

from schemas.codec import Codec
from streams.kafka.clients import (
    PARTITIONER,
    admin_config,
    bootstrap_servers,
    build_codec,
    consumer_config,
    producer_config,
)
from streams.settings import Settings

LOCAL = Settings.from_env({})


def test_bootstrap_defaults_to_the_local_broker() -> None:
    assert bootstrap_servers(LOCAL) == f"127.0.0.1:{LOCAL.local_kafka_port}"
    assert bootstrap_servers(dataclasses.replace(LOCAL, local_kafka_port=29092)) == "127.0.0.1:29092"
    configured = Settings.from_env({"CARPASS_KAFKA_BOOTSTRAP_SERVERS": "k1:9092,k2:9092"})
    assert bootstrap_servers(configured) == "k1:9092,k2:9092"


def test_every_producer_partitions_with_murmur2() -> None:
    assert PARTITIONER == "murmur2_random"
    assert producer_config(LOCAL)["partitioner"] == "murmur2_random"
    overridden = producer_config(LOCAL, {"partitioner": "consistent_random", "linger.ms": 50})
    assert overridden["partitioner"] == "murmur2_random"
    assert overridden["linger.ms"] == 50
    assert producer_config(LOCAL)["enable.idempotence"] is True


def test_consumer_and_admin_configs() -> None:
    config = consumer_config(LOCAL, "g1", {"enable.partition.eof": True})
    assert config["group.id"] == "g1" and config["enable.auto.commit"] is False
    assert config["enable.partition.eof"] is True
    assert admin_config(LOCAL)["bootstrap.servers"] == bootstrap_servers(LOCAL)


def test_codec_framing_follows_the_registry_setting() -> None:
    assert build_codec(LOCAL).framing == "single-object"
    with_registry = build_codec(dataclasses.replace(LOCAL, schema_registry_url="mock://kafka-clients"))
    assert isinstance(with_registry, Codec) and with_registry.framing == "confluent"
