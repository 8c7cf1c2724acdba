"""A second local broker for one test module: a SASL_PLAINTEXT listener beside its PLAINTEXT one, with
whatever else the test needs in ``server.properties`` (a SASL mechanism, an authorizer). It runs on free
loopback ports with its own data directory (deleted after); the Kafka jars are the cached ones of
``CARPASS_CACHE_DIR``."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
from collections.abc import Iterator, Mapping

import pytest

from streams.local.kafka import HOST, LocalKafka, LocalKafkaError
from streams.settings import Settings
from tests.integration.worker_harness import free_port


@dataclasses.dataclass(frozen=True)
class Listeners:
    plaintext: str
    sasl: str


@contextlib.contextmanager
def sasl_broker(properties: Mapping[str, str], partitions: int = 2) -> Iterator[Listeners]:
    """A broker with PLAINTEXT and SASL_PLAINTEXT listeners and ``properties`` (the SASL mechanism's)."""
    port, controller, sasl = free_port(), free_port(), free_port()
    settings = dataclasses.replace(
        Settings.from_env({k: v for k, v in os.environ.items() if k == "CARPASS_CACHE_DIR"}),
        local_kafka_port=port, local_kafka_controller_port=controller, partitions=partitions,
    )  # fmt: skip
    broker = LocalKafka(settings, progress=lambda _: None, extra_properties={
        "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller},"
                     f"SASL_PLAINTEXT://{HOST}:{sasl}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{port},SASL_PLAINTEXT://{HOST}:{sasl}",
        "listener.security.protocol.map":
            "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        **properties,
    })  # fmt: skip
    try:
        broker.start(fresh=True)
    except LocalKafkaError as exc:
        pytest.fail(f"the SASL test broker could not start: {exc}", pytrace=False)
    try:
        yield Listeners(f"{HOST}:{port}", f"{HOST}:{sasl}")
    finally:
        broker.stop()
        shutil.rmtree(broker.data_dir, ignore_errors=True)
        (broker.data_dir.parent / f"{port}.lock").unlink(missing_ok=True)
        shutil.rmtree(broker.data_dir.parent / f"{port}.leases", ignore_errors=True)
