"""Kafka client configurations built from :class:`~streams.settings.Settings`, in one place.

::

    Settings ──bootstrap_servers()──► "host:port,…"   (CARPASS_KAFKA_BOOTSTRAP_SERVERS, else the local broker)
             ──producer_config()────► confluent-kafka Producer    partitioner=murmur2_random (co-partitioning)
             ──consumer_config()────► confluent-kafka Consumer
             ──admin_config()───────► confluent-kafka AdminClient
             ──build_codec()────────► schemas.codec.Codec         Confluent framing iff a registry URL is set

Every confluent-kafka producer of the project must come from :func:`producer_config`: librdkafka's default
partitioner is CRC32, but aiokafka, Faust and Java use murmur2, and all VIN-keyed topics must be
co-partitioned (``contracts.md`` "Wire format"). ``murmur2_random`` is murmur2 for keyed messages (random
only for null keys), the same partition as aiokafka's ``DefaultPartitioner`` (tested on a broker).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.codec import Codec, ConfluentRegistry
from streams.settings import Settings

PARTITIONER = "murmur2_random"
LOCAL_HOST = "127.0.0.1"


def bootstrap_servers(settings: Settings) -> str:
    """``settings.kafka_bootstrap_servers``, or, when empty, the local broker
    ``127.0.0.1:<settings.local_kafka_port>`` (``carpass kafka up``)."""
    configured = settings.kafka_bootstrap_servers.strip()
    return configured or f"{LOCAL_HOST}:{settings.local_kafka_port}"


def producer_config(settings: Settings, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A confluent-kafka ``Producer`` config: idempotent, ``acks=all``, murmur2 partitioning, small
    linger for batching. ``extra`` (librdkafka / confluent-kafka names) is merged over it; the partitioner
    cannot be overridden."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap_servers(settings),
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "client.id": "carpass",
    }
    config.update(extra or {})
    config["partitioner"] = PARTITIONER
    return config


def consumer_config(
    settings: Settings, group_id: str, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A confluent-kafka ``Consumer`` config for ``group_id``: manual commits, start from the earliest
    offset when the group has none; ``extra`` is merged over it."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap_servers(settings),
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "client.id": "carpass",
    }
    config.update(extra or {})
    return config


def admin_config(settings: Settings, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A confluent-kafka ``AdminClient`` config."""
    config: dict[str, Any] = {"bootstrap.servers": bootstrap_servers(settings), "client.id": "carpass-admin"}
    config.update(extra or {})
    return config


def build_codec(settings: Settings) -> Codec:
    """The process's codec: Confluent framing through ``settings.schema_registry_url`` when set, Avro
    single-object encoding otherwise (both framings are always read)."""
    url = settings.schema_registry_url.strip()
    return Codec(ConfluentRegistry.from_url(url) if url else None)
