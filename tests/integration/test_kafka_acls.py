"""The access plan on a real broker with KRaft's StandardAuthorizer on and SASL/SCRAM principals::

    admin (PLAINTEXT listener, a super user) ── carpass access apply ──► ACLs + ingest topics
    User:dms-acme ──SCRAM──► <prefix>odometer.readings                      refused (not its topic)
    User:dms-acme ──SCRAM──► <prefix>ingest.acme.odometer.readings ──► worker (User:carpass-worker, SCRAM)
        a reading for its own provider  ──► forwarded, judged: a receipt
        a reading for another provider  ──► a dead letter "not-bound"
    User:carpass-gateway, User:carpass-worker ──► providers.registry   refused

The worker runs with nothing but the rights ``carpass access`` gives it: its consumer group, Faust's
changelogs and assignor topic, its inputs, outputs, views and internal topics.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from schemas.catalog import key_of
from schemas.codec import encode
from schemas.records import DeadLetter, Receipt
from streams.kafka.acls import ingest_topic
from streams.kafka.clients import producer_config
from streams.settings import Settings
from tests.integration import extra_broker
from tests.integration.worker_harness import Feeder, Pipeline, read_topic, records_of
from tests.unit.streams.domain.builders import GARAGE, OTHER_GARAGE, VIN, reading, registration

pytestmark = pytest.mark.integration

MECHANISM = "SCRAM-SHA-256"
PASSWORDS = {name: f"{name}-Pa55-{uuid.uuid4().hex[:8]}"
             for name in ("carpass-worker", "carpass-gateway", "dms-acme")}  # fmt: skip


@pytest.fixture(scope="module")
def broker() -> Iterator[extra_broker.Listeners]:
    properties = {
        "sasl.enabled.mechanisms": MECHANISM,
        "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config":
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:ANONYMOUS",  # the PLAINTEXT listener (loopback): the test's admin and feeder
    }  # fmt: skip
    with extra_broker.sasl_broker(properties, partitions=2) as listeners:
        admin = AdminClient({"bootstrap.servers": listeners.plaintext})
        upserts = [UserScramCredentialUpsertion(user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096),
                                                password.encode())
                   for user, password in PASSWORDS.items()]  # fmt: skip
        for future in admin.alter_user_scram_credentials(upserts).values():
            future.result(timeout=30)
        yield listeners


def as_principal(listeners: extra_broker.Listeners, user: str) -> dict[str, str]:
    """The settings (``CARPASS_*``) of a client authenticating as ``User:<user>``."""
    return {
        "CARPASS_KAFKA_BOOTSTRAP_SERVERS": listeners.sasl,
        "CARPASS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "CARPASS_KAFKA_SASL_MECHANISM": MECHANISM,
        "CARPASS_KAFKA_SASL_USERNAME": user, "CARPASS_KAFKA_SASL_PASSWORD": PASSWORDS[user],
    }  # fmt: skip


def produce_as(
    listeners: extra_broker.Listeners, user: str, topic: str, key: bytes, value: bytes
) -> str | None:
    """Produce one record as ``user``: ``None`` when delivered, else the delivery error's code name."""
    settings = Settings.from_env(as_principal(listeners, user))
    outcome: list[str | None] = []

    def delivered(error: KafkaError | None, _message: object) -> None:
        outcome.append(None if error is None else error.name())

    producer = Producer(producer_config(settings, {"message.timeout.ms": 15_000}))
    producer.produce(topic, key=key, value=value, on_delivery=delivered)
    producer.flush(30)
    assert outcome, f"no delivery report for {topic} within 30 s"
    return outcome[0]


def test_each_principal_writes_only_what_it_must_and_an_integrator_speaks_only_for_its_providers(
    broker: extra_broker.Listeners, tmp_path: Path
) -> None:
    access = tmp_path / "access.json"
    access.write_text(json.dumps({
        "worker": "User:carpass-worker", "gateway": "User:carpass-gateway",
        "integrators": {"User:dms-acme": {"name": "acme", "providers": [GARAGE]}},
    }))  # fmt: skip
    p = Pipeline(broker.plaintext, tmp_path, partitions=2, extra={"CARPASS_KAFKA_ACCESS_FILE": str(access)})
    try:
        p.create_topics()  # as the admin: the contract topics, the ingest topics, the registry of providers
        env = p.env(tmp_path, 0)
        done = subprocess.run([sys.executable, "-m", "streams.cli", "access", "apply", "--timeout", "30"],
                              env=env, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert "ACLs and the ingest topics of 1 integrators in place" in done.stdout

        own, other = reading("r1", 15_000, "2025-01-02"), replace(reading("r2", 16_000, "2025-02-02"),
                                                                  provider_id=OTHER_GARAGE)  # fmt: skip
        topics = p.topics
        refused = "TOPIC_AUTHORIZATION_FAILED"
        assert produce_as(broker, "dms-acme", topics.readings, VIN.encode(), encode(own)) == refused
        assert produce_as(broker, "carpass-gateway", topics.providers, b"x", b"{}") == refused
        assert produce_as(broker, "carpass-worker", topics.providers, b"x", b"{}") == refused

        p.extra.update(as_principal(broker, "carpass-worker"))  # the worker: its own principal, no more
        p.start()
        Feeder(p).records([registration()])  # the vehicle register's feed (here: the admin)
        acme_in = ingest_topic(topics, "acme", "odometer.readings")
        for record in (own, other):
            assert produce_as(broker, "dms-acme", acme_in, key_of(record).encode(), encode(record)) is None
        def judged(messages: list[object]) -> bool:
            return any(r.event_id == own.event_id for r in records_of(messages, Receipt))

        receipts = records_of(read_topic(broker.plaintext, topics.receipts, judged, check=p.assert_alive),
                              Receipt)  # fmt: skip
        assert other.event_id not in {r.event_id for r in receipts}  # never reached the contract topic
        letters = records_of(read_topic(broker.plaintext, topics.dead_letters, lambda m: len(m) >= 1,
                                        check=p.assert_alive), DeadLetter)  # fmt: skip
        assert [(d.topic, d.error_type) for d in letters] == [(acme_in, "not-bound")]
        assert "may not speak for provider '0498765432'" in letters[0].reason
        log = next(tmp_path.glob("w-0.log")).read_text(errors="replace")
        assert PASSWORDS["carpass-worker"] not in log
        assert "AUTHORIZATION" not in log.upper().replace("_", ""), "the worker was refused something"
    finally:
        p.cleanup()
