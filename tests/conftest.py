"""Fixtures shared by every test tier.

A broker for integration tests (``kafka_bootstrap``), chosen once per session, first that applies::

    KAFKA_BOOTSTRAP_SERVERS set ──► that cluster (it must answer)
    a Docker engine answers ─────► testcontainers' KafkaContainer (KRaft)
    otherwise ───────────────────► the project's local broker (streams.local.kafka) on the TEST ports
                                   19192/19193, so that a demo broker on 19092 is never disturbed

The local broker is *leased*: started if not running, shared with concurrent test sessions, and stopped when
the last session ends only if a test session started it (a broker started by ``carpass kafka up`` on the
test ports is left running). No broker is never a skip: the fixture fails with the reason.

Tests share the broker, so each test makes its own topics with ``new_topic`` (unique names, deleted after).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.local.kafka import LocalKafka, LocalKafkaError
from streams.settings import Settings

TEST_KAFKA_PORT = 19192
TEST_KAFKA_CONTROLLER_PORT = 19193


def local_kafka_settings(**overrides: Any) -> Settings:
    """Settings of a cleared environment, with the local broker on the test ports (plus ``overrides``)."""
    base = Settings.from_env({})
    values: dict[str, Any] = {
        "local_kafka_port": TEST_KAFKA_PORT,
        "local_kafka_controller_port": TEST_KAFKA_CONTROLLER_PORT,
    }
    values.update(overrides)
    return dataclasses.replace(base, **values)


def artifacts_dir() -> Path:
    """Where tests keep what a person should look at (screenshots, logs of a failed scale test):
    ``$CARPASS_ARTIFACTS_DIR``, else ``tests/artifacts/`` (ignored by git). Created if missing."""
    path = Path(os.environ.get("CARPASS_ARTIFACTS_DIR") or Path(__file__).resolve().parent / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _docker_answers() -> str | None:
    """None when a Docker engine answers a ping (within ~2 s), else why not."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host and not Path("/var/run/docker.sock").exists():
        return "no DOCKER_HOST and no /var/run/docker.sock"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import docker

            client = docker.from_env(timeout=2)
            try:
                client.ping()
            finally:
                client.close()
    except Exception as exc:  # any failure means "no usable engine"
        return f"Docker engine did not answer: {exc}"
    return None


def _await_cluster(bootstrap: str, timeout_s: float = 20.0) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except Exception as exc:
        pytest.fail(f"KAFKA_BOOTSTRAP_SERVERS={bootstrap} does not answer: {exc}", pytrace=False)
    if not metadata.brokers:
        pytest.fail(f"KAFKA_BOOTSTRAP_SERVERS={bootstrap} lists no broker", pytrace=False)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of a real Kafka broker for the whole session (see the module docstring)."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if external:
        _await_cluster(external)
        yield external
        return
    why_no_docker = _docker_answers()
    with contextlib.ExitStack() as stack:
        if why_no_docker is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                from testcontainers.community.kafka import KafkaContainer

                container = stack.enter_context(KafkaContainer("confluentinc/cp-kafka:7.9.0").with_kraft())
            yield container.get_bootstrap_server()
            return
        try:
            lease = stack.enter_context(LocalKafka(local_kafka_settings()).lease(fresh=True))
        except LocalKafkaError as exc:
            pytest.fail(
                "no Kafka broker for the tests: KAFKA_BOOTSTRAP_SERVERS is not set, no Docker engine "
                f"({why_no_docker}), and the local broker could not start: {exc}",
                pytrace=False,
            )
        yield lease.bootstrap


@pytest.fixture(scope="session")
def local_kafka() -> Iterator[LocalKafka]:
    """The project's own local broker on the test ports, leased for the session (for tests of it)."""
    broker = LocalKafka(local_kafka_settings())
    try:
        with broker.lease():
            yield broker
    except LocalKafkaError as exc:
        pytest.fail(f"the local Kafka broker could not start: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap: str) -> Any:
    """A confluent-kafka ``AdminClient`` on the session's broker."""
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": kafka_bootstrap})


def unique_topic_name(prefix: str, test_name: str = "") -> str:
    """A topic name no other test (or session) uses: ``<prefix>-<test name>-<random hex>``."""
    slug = re.sub(r"[^a-zA-Z0-9._-]+", "-", test_name).strip("-")[:80]
    return "-".join(part for part in (prefix, slug, uuid.uuid4().hex[:10]) if part)


@pytest.fixture
def new_topic(kafka_admin: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., str]]:
    """Factory ``new_topic(prefix="t", partitions=1, config=None) -> name``: creates a unique topic and
    waits until it exists; every topic it made is deleted after the test."""
    from confluent_kafka.admin import NewTopic

    made: list[str] = []

    def create(prefix: str = "t", partitions: int = 1, config: dict[str, str] | None = None) -> str:
        name = unique_topic_name(prefix, request.node.name)
        futures = kafka_admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
            operation_timeout=15,
        )
        futures[name].result(timeout=20)
        made.append(name)
        return name

    yield create
    if made:
        for future in kafka_admin.delete_topics(made, operation_timeout=10).values():
            with contextlib.suppress(Exception):  # best effort: a leftover topic harms no other test
                future.result(timeout=15)
