"""SASL on a real broker: a second local broker (streams.local.kafka) with a SASL_PLAINTEXT listener
(mechanism PLAIN, users in an inline JAAS config) beside its PLAINTEXT one::

    confluent Producer / AdminClient (kafka.clients configs) ──SASL──► broker ──SASL──► aiokafka consumer
    carpass worker (Faust, faust_credentials)            ◄──SASL──► broker ◄──PLAINTEXT── test feeder
    wrong password ──► refused: "Authentication failed", and the password appears nowhere

The broker runs on free loopback ports with its own data directory (deleted after); the Kafka jars are
the cached ones of ``CARPASS_CACHE_DIR``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from streams.kafka.clients import admin_config, aiokafka_security, producer_config
from streams.settings import Settings
from tests.integration import extra_broker
from tests.integration.worker_harness import ROOT, Feeder, pipeline, read_topic
from tests.unit.streams.domain.builders import registration, yearly

pytestmark = pytest.mark.integration

USER, PASSWORD = "carpass-ops", "right-Pa55-" + uuid.uuid4().hex[:8]
WRONG = "wrong-Pa55-" + uuid.uuid4().hex[:8]


@dataclasses.dataclass(frozen=True)
class SaslBroker:
    plaintext: str
    sasl: str

    def settings(self, password: str = PASSWORD) -> Settings:
        return Settings.from_env(self.env(password))

    def env(self, password: str = PASSWORD) -> dict[str, str]:
        return {
            "CARPASS_KAFKA_BOOTSTRAP_SERVERS": self.sasl, "CARPASS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "CARPASS_KAFKA_SASL_MECHANISM": "PLAIN", "CARPASS_KAFKA_SASL_USERNAME": USER,
            "CARPASS_KAFKA_SASL_PASSWORD": password,
        }  # fmt: skip


@pytest.fixture(scope="module")
def sasl_broker() -> Iterator[SaslBroker]:
    jaas = f'org.apache.kafka.common.security.plain.PlainLoginModule required user_{USER}="{PASSWORD}";'
    properties = {"sasl.enabled.mechanisms": "PLAIN",
                  "listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas}  # fmt: skip
    with extra_broker.sasl_broker(properties) as listeners:
        yield SaslBroker(listeners.plaintext, listeners.sasl)


async def _consume(settings: Settings, topic: str, count: int) -> list[bytes]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.kafka_bootstrap_servers, group_id=f"sasl-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest", **aiokafka_security(settings),
    )  # fmt: skip
    try:
        await consumer.start()
        values: list[bytes] = []
        async with asyncio.timeout(30):
            while len(values) < count:
                batch = await consumer.getmany(timeout_ms=500)
                values += [m.value for messages in batch.values() for m in messages if m.value is not None]
        return values
    finally:
        await consumer.stop()


def test_confluent_producer_and_aiokafka_consumer_authenticate(sasl_broker: SaslBroker) -> None:
    settings = sasl_broker.settings()
    topic = f"sasl-{uuid.uuid4().hex[:8]}"
    admin = AdminClient(admin_config(settings))
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(timeout=30)
    errors: list[str] = []
    producer = Producer(producer_config(settings, {"error_cb": lambda e: errors.append(str(e))}))
    for i in range(5):
        producer.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode())
    assert producer.flush(30) == 0 and not errors
    assert sorted(asyncio.run(_consume(settings, topic, 5))) == [f"v{i}".encode() for i in range(5)]


def _produce_one(settings: Settings) -> list[str]:
    """The errors a producer reports while it fails to deliver one message (it is gone on return)."""
    errors: list[str] = []
    producer = Producer(producer_config(settings, {"error_cb": lambda e: errors.append(str(e))}))
    producer.produce("any-topic", value=b"v")
    assert producer.flush(5) == 1, "nothing may be delivered with a wrong password"
    producer.purge()
    assert producer.flush(5) == 0
    return errors


def test_a_wrong_password_is_refused_with_a_clear_error_without_the_secret(
    sasl_broker: SaslBroker, caplog: pytest.LogCaptureFixture
) -> None:
    from aiokafka.errors import KafkaConnectionError

    wrong = sasl_broker.settings(WRONG)
    errors = _produce_one(wrong)
    assert any("_AUTHENTICATION" in e and "Authentication failed: Invalid username or password" in e
               for e in errors), errors  # fmt: skip
    assert not any(WRONG in e or PASSWORD in e for e in errors)

    with caplog.at_level(logging.ERROR, logger="aiokafka"), pytest.raises(KafkaConnectionError) as caught:
        asyncio.run(_consume(wrong, "any-topic", 1))
    logged = caplog.text
    assert "SaslAuthenticationFailed" in logged and "Authentication failed" in logged
    assert WRONG not in logged + str(caught.value) and PASSWORD not in logged

    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CARPASS_") and k != "KAFKA_BOOTSTRAP_SERVERS"}  # fmt: skip
    env.update(sasl_broker.env(WRONG), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "streams.cli", "topics", "list", "--timeout", "5"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"cannot reach Kafka at {sasl_broker.sasl}" in done.stderr
    assert "Authentication failed: Invalid username or password" in done.stderr
    assert WRONG not in done.stdout + done.stderr


def test_a_worker_runs_over_sasl(sasl_broker: SaslBroker, tmp_path: Path) -> None:
    """The Faust worker (consumer, producer, changelogs) and its confluent output producer authenticate;
    the test feeds and reads through the broker's PLAINTEXT listener."""
    extra = {k.removeprefix("CARPASS_").lower(): v for k, v in sasl_broker.env().items()}
    with pipeline(sasl_broker.plaintext, tmp_path, **extra) as p:
        worker = p.start()
        Feeder(p).records([registration(), *yearly(3)])
        read_topic(sasl_broker.plaintext, p.topics.receipts, lambda m: len(m) >= 3, check=p.assert_alive)
        p.wait_metric(worker, "carpass_receipts_total", 0)  # its web server answers too
        log = next(tmp_path.glob("*-0.log")).read_text(errors="replace")
        assert PASSWORD not in log
