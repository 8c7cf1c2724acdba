"""Run ``python -m streams.cli worker`` against the test broker, feed it, and read what it says.

Each test gets its own topic prefix, Faust app id (consumer group, changelog names), data directory and
web port, so tests sharing the broker never see each other's records; everything made is deleted after.

The workers judge readings by the registry of providers (``providers.registry``), as in production: each
test's topics start with :data:`TEST_PROVIDERS` registered there, every provider the tests send readings as
(``tests/integration/test_providers_registry.py`` is about the others).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from schemas.catalog import TOPICS, AnyRecord, key_of
from schemas.codec import decode, encode
from schemas.records import ProviderKind, ProviderRegistration
from streams.kafka.admin import ensure_topics
from streams.kafka.clients import producer_config
from streams.kafka.topics import PipelineTopics
from streams.settings import Settings
from tests.conftest import local_kafka_settings

ROOT = Path(__file__).resolve().parents[2]

TEST_PROVIDERS: dict[str, ProviderKind] = {
    "0412345678": ProviderKind.GARAGE,  # tests.unit.streams.domain.builders.GARAGE, examples/
    "0498765432": ProviderKind.GARAGE,  # builders.OTHER_GARAGE
    **{f"04{n:08d}": ProviderKind.GARAGE for n in range(7)},  # expected.py's garages, the gateway's busy one
    "0887654321": ProviderKind.INSPECTION_BODY,  # examples/
    "0200000001": ProviderKind.INSPECTION_BODY,  # benchlib's station
    "0455555555": ProviderKind.DEALER,  # examples/
    "0300000007": ProviderKind.MANUFACTURER,
}
"""The registry of providers of every test pipeline: registered (active) since 2000."""


def registrations_for(readings: Iterable[Any]) -> list[ProviderRegistration]:
    """The registry's record of each provider of ``readings`` (as the kind it claims, active since 2000),
    for a test with providers of its own."""
    return _registrations({r.provider_id: r.provider_kind for r in readings if hasattr(r, "provider_kind")})


def registered_test_providers() -> list[ProviderRegistration]:
    return _registrations(TEST_PROVIDERS)


def _registrations(kinds: dict[str, ProviderKind]) -> list[ProviderRegistration]:
    since = 946_684_800_000  # 2000-01-01
    return [
        ProviderRegistration(f"test-provider-{provider}", provider, f"test {kind.value.lower()}", kind,
                             ("45201",), True, since)
        for provider, kind in kinds.items()
    ]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Pipeline:
    """One test's topics and workers on the shared broker."""

    bootstrap: str
    data_dir: Path
    partitions: int = 4
    extra: dict[str, str] = field(default_factory=dict)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    killed: set[int] = field(default_factory=set)
    logs: list[Any] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"it-{self.run_id}-"

    @property
    def app_id(self) -> str:
        return f"it-{self.run_id}-worker"

    @property
    def topics(self) -> PipelineTopics:
        return PipelineTopics(self.prefix)

    def env(self, data_dir: Path, port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("CARPASS_") and k != "KAFKA_BOOTSTRAP_SERVERS"}  # fmt: skip
        env.update({
            "CARPASS_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "CARPASS_TOPIC_PREFIX": self.prefix,
            "CARPASS_APP_ID": self.app_id, "CARPASS_DATA_DIR": str(data_dir), "CARPASS_WEB_PORT": str(port),
            "CARPASS_PARTITIONS": str(self.partitions), "CARPASS_SESSION_TIMEOUT_S": "6",
            "CARPASS_DEVELOPMENT": "1", "PYTHONPATH": str(ROOT),
        })  # fmt: skip
        env.update(self.extra)
        return env

    def settings(self) -> Settings:
        return Settings.from_env(self.env(self.data_dir, 0))

    def create_topics(self) -> None:
        """The test's topics, the registry of providers holding :data:`TEST_PROVIDERS`."""
        ensure_topics(self.settings())
        Feeder(self).records(registered_test_providers())

    def start(self, name: str = "w", *, projections: bool = False) -> int:
        """Start a worker with its own data directory; its index (for :meth:`kill`, :meth:`metrics`).
        ``projections``: with ``projections.wiring`` (views, provider quality, the API)."""
        port = free_port()
        data = self.data_dir / f"{name}-{len(self.workers)}"
        log = open(self.data_dir / f"{name}-{len(self.workers)}.log", "wb")  # noqa: SIM115 (closed in stop_all)
        self.logs.append(log)
        command = [sys.executable, "-m", "streams.cli", "worker", "--without-projections",
                   "--log-level", "info"]  # fmt: skip
        if projections:
            command.remove("--without-projections")
        process = subprocess.Popen(command, env=self.env(data, port), cwd=ROOT, stdout=log, stderr=log)
        self.workers.append(process)
        self.ports.append(port)
        return len(self.workers) - 1

    def kill(self, index: int) -> None:
        """SIGKILL: no shutdown, no last commit."""
        self.killed.add(index)
        self.workers[index].send_signal(signal.SIGKILL)
        self.workers[index].wait(10)

    def stop_all(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        for log in self.logs:
            log.close()

    def metrics(self, index: int) -> dict[str, float]:
        """The worker's /metrics samples, ``'name{labels}' -> value``; empty if it does not answer."""
        url = f"http://127.0.0.1:{self.ports[index]}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                text = response.read().decode()
        except OSError:
            return {}
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples

    def wait_metric(self, index: int, series: str, at_least: float, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.metrics(index).get(series, 0.0) >= at_least:
                return
            self.assert_alive()
            time.sleep(0.2)
        raise AssertionError(f"worker {index}: {series} did not reach {at_least} in {timeout_s} s")

    def assert_alive(self) -> None:
        for index, process in enumerate(self.workers):
            if index not in self.killed and process.poll() is not None:
                log = next(self.data_dir.glob(f"*-{index}.log")).read_text(errors="replace")[-3000:]
                raise AssertionError(f"worker {index} exited with {process.returncode}:\n{log}")

    def cleanup(self) -> None:
        self.stop_all()
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        names = [t for t in admin.list_topics(timeout=10).topics if t.startswith((self.prefix, self.app_id))]
        if names:
            for future in admin.delete_topics(names, operation_timeout=10).values():
                with contextlib.suppress(Exception):
                    future.result(timeout=15)


@contextlib.contextmanager
def pipeline(bootstrap: str, data_dir: Path, partitions: int = 4, **extra: str) -> Iterator[Pipeline]:
    """A test's topics (``partitions`` each) and workers; ``extra``: settings of every worker
    (``api_keys_file="..."`` sets ``CARPASS_API_KEYS_FILE``)."""
    p = Pipeline(bootstrap, data_dir, partitions=partitions,
                 extra={f"CARPASS_{k.upper()}": v for k, v in extra.items()})  # fmt: skip
    try:
        p.create_topics()
        yield p
    finally:
        p.cleanup()


class Feeder:
    """Produces contract records (or raw bytes) to the prefixed topics, murmur2-partitioned."""

    def __init__(self, p: Pipeline) -> None:
        self.prefix = p.prefix
        self.producer = Producer(producer_config(local_kafka_settings(kafka_bootstrap_servers=p.bootstrap)))

    def records(self, records: Iterable[AnyRecord]) -> None:
        for record in records:
            topic = self.prefix + TOPICS[type(record)]
            self.producer.produce(topic, key=key_of(record).encode(), value=encode(record))
        assert self.producer.flush(15) == 0

    def raw(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        self.producer.produce(self.prefix + topic, key=key, value=value)
        assert self.producer.flush(15) == 0


def read_topic(
    bootstrap: str, topic: str, done: Callable[[list[Any]], bool], timeout_s: float = 60.0,
    check: Callable[[], None] | None = None,
) -> list[Any]:  # fmt: skip
    """Every message of ``topic`` from the start until ``done(messages)`` (raises after ``timeout_s``)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"read-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "fetch.wait.max.ms": 50})  # fmt: skip
    consumer.subscribe([topic])
    messages: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while not done(messages):
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: only {len(messages)} messages after {timeout_s} s")
            if check is not None:
                check()
            messages += [m for m in consumer.consume(500, 0.2) if m.error() is None]
    finally:
        consumer.close()
    return messages


def read_all(bootstrap: str, topic: str, idle_s: float = 2.0) -> list[Any]:
    """Every message of ``topic`` until none arrived for ``idle_s``."""
    last = [time.monotonic(), 0]

    def idle(messages: list[Any]) -> bool:
        if len(messages) != last[1]:
            last[:] = [time.monotonic(), len(messages)]
        return time.monotonic() - last[0] >= idle_s

    return read_topic(bootstrap, topic, idle, timeout_s=60.0)


def records_of(messages: Iterable[Any], kind: type) -> list[Any]:
    return [decode(m.value(), kind) for m in messages]
