"""Kafka client configurations built from :class:`~streams.settings.Settings`, in one place.

::

    Settings ──bootstrap_servers()──► "host:port,…"   (CARPASS_KAFKA_BOOTSTRAP_SERVERS, else the local broker)
             ──producer_config()────► confluent-kafka Producer    partitioner=murmur2_random (co-partitioning)
             ──consumer_config()────► confluent-kafka Consumer
             ──admin_config()───────► confluent-kafka AdminClient
             ──build_codec()────────► schemas.codec.Codec         Confluent framing iff a registry URL is set
             ──security_config()───► librdkafka TLS/SASL keys     (merged into the three configs above)
             ──aiokafka_security()──► aiokafka client keywords     ┐ from one validated KafkaSecurity
             ──(worker.faust.app.faust_credentials)──► faust.App ┘ (the worker's consumer and producer)

Every confluent-kafka producer of the project must come from :func:`producer_config`: librdkafka's default
partitioner is CRC32, but aiokafka, Faust and Java use murmur2, and all VIN-keyed topics must be
co-partitioned (the contract's wire format). ``murmur2_random`` is murmur2 for keyed messages (random
only for null keys), the same partition as aiokafka's ``DefaultPartitioner`` (tested on a broker).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.codec import Codec, ConfluentRegistry
from streams.settings import Settings, SettingsError

PARTITIONER = "murmur2_random"
LOCAL_HOST = "127.0.0.1"


def bootstrap_servers(settings: Settings) -> str:
    """``settings.kafka_bootstrap_servers``, or, when empty, the local broker
    ``127.0.0.1:<settings.local_kafka_port>`` (``carpass kafka up``)."""
    configured = settings.kafka_bootstrap_servers.strip()
    return configured or f"{LOCAL_HOST}:{settings.local_kafka_port}"


TRANSIENT_LIBRDKAFKA = (
    "Coordinator load in progress",  # a broker just started: the idempotent producer asks again
    "Broker: Not coordinator",
    "Broker: Leader not available",
)
"""librdkafka warnings that resolve themselves (it retries): kept out of the terminal, at DEBUG."""


class _Transient(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(noise in message for noise in TRANSIENT_LIBRDKAFKA):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


LIBRDKAFKA_LOG = logging.getLogger("carpass.librdkafka")
"""Where the project's confluent-kafka producers and consumers send librdkafka's log lines (instead of its
own ``%4|…`` lines on stderr): warnings and errors shown, the transient ones it retries by itself hidden.
They come out when the client is polled: after a failed call, poll it once (``poll(0)``) before saying so.
Admin clients keep librdkafka's own lines (an admin call polls nothing: a refused password would go
unsaid), and have none of the producers' transient warnings."""
LIBRDKAFKA_LOG.addFilter(_Transient())


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
        "logger": LIBRDKAFKA_LOG,
        **security_config(settings),
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
        "logger": LIBRDKAFKA_LOG,
        **security_config(settings),
    }
    config.update(extra or {})
    return config


def admin_config(settings: Settings, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A confluent-kafka ``AdminClient`` config."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap_servers(settings),
        "client.id": "carpass-admin",
        **security_config(settings),
    }
    config.update(extra or {})
    return config


def build_codec(settings: Settings) -> Codec:
    """The process's codec: Confluent framing through ``settings.schema_registry_url`` when set, Avro
    single-object encoding otherwise (both framings are always read)."""
    url = settings.schema_registry_url.strip()
    return Codec(ConfluentRegistry.from_url(url) if url else None)


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """How the clients authenticate and encrypt, from the ``kafka_security_*`` / ``kafka_sasl_*`` /
    ``kafka_ssl_*`` settings (validated by :class:`~streams.settings.Settings`). The secrets are left out
    of ``repr``."""

    protocol: str
    mechanism: str = "PLAIN"
    username: str = ""
    password: str = field(default="", repr=False)
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    key_password: str = field(default="", repr=False)

    @property
    def sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")


def kafka_security(settings: Settings) -> KafkaSecurity:
    """The settings' :class:`KafkaSecurity`; with TLS, the certificate files must exist (a
    :class:`~streams.settings.SettingsError` names the missing one)."""
    security = KafkaSecurity(
        protocol=settings.kafka_security_protocol.upper(),
        mechanism=settings.kafka_sasl_mechanism.upper(),
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password,
        ca_file=settings.kafka_ssl_ca_file,
        cert_file=settings.kafka_ssl_cert_file,
        key_file=settings.kafka_ssl_key_file,
        key_password=settings.kafka_ssl_key_password,
    )
    if security.tls:
        files = {"CA": security.ca_file, "CERT": security.cert_file, "KEY": security.key_file}
        for name, path in files.items():
            if path and not Path(path).is_file():
                raise SettingsError(f"CARPASS_KAFKA_SSL_{name}_FILE={path!r}: no such file")
    return security


# (protocol, SASL mechanism, user name, password) in each client library's vocabulary.
_LIBRDKAFKA_NAMES = ("security.protocol", "sasl.mechanism", "sasl.username", "sasl.password")
_AIOKAFKA_NAMES = ("security_protocol", "sasl_mechanism", "sasl_plain_username", "sasl_plain_password")


def _protocol_and_sasl(security: KafkaSecurity, names: tuple[str, str, str, str]) -> dict[str, Any]:
    protocol, mechanism, username, password = names
    config: dict[str, Any] = {protocol: security.protocol}
    if security.sasl:
        config |= {mechanism: security.mechanism, username: security.username, password: security.password}
    return config


def security_config(settings: Settings) -> dict[str, Any]:
    """The librdkafka (confluent-kafka) keys of the settings' TLS and SASL; only ``security.protocol``
    for PLAINTEXT. Contains the password: never log or print it."""
    security = kafka_security(settings)
    config = _protocol_and_sasl(security, _LIBRDKAFKA_NAMES)
    if security.tls:
        optional = {
            "ssl.ca.location": security.ca_file,
            "ssl.certificate.location": security.cert_file,
            "ssl.key.location": security.key_file,
            "ssl.key.password": security.key_password,
        }
        config.update({key: value for key, value in optional.items() if value})
    return config


def aiokafka_security(settings: Settings) -> dict[str, Any]:
    """The same as keyword arguments of aiokafka's clients (``AIOKafkaConsumer(**...)``): protocol, SASL
    mechanism and credentials, and an ``ssl_context`` with TLS."""
    security = kafka_security(settings)
    kwargs = _protocol_and_sasl(security, _AIOKAFKA_NAMES)
    if security.tls:
        kwargs["ssl_context"] = ssl_context(security)
    return kwargs


def ssl_context(security: KafkaSecurity) -> Any:
    """The TLS context of aiokafka (and Faust) for ``security``."""
    from aiokafka.helpers import create_ssl_context

    return create_ssl_context(
        cafile=security.ca_file or None, certfile=security.cert_file or None,
        keyfile=security.key_file or None, password=security.key_password or None,
    )  # fmt: skip
