"""``carpass demo``: the whole product on one machine, from an empty broker to a quality report.

::

    local broker (carpass kafka up) ─► topics under a fresh prefix ─► worker subprocess (Faust, RocksDB)
    simulate(N, seed) ──Avro, bulk──► input topics ──► worker ──► receipts, anomalies, dead-letters, views
                      └─ last part paced at a fixed rate (latency measured without a backlog)
    consume receipts until every submission has one ─► throughput, latency p50/p99 (Kafka timestamps:
    input message → receipt message), anomalies by kind, quality against the ground truth (and the
    naive "lower than before" rule), a sample OK label and certificate from the worker's API

Everything it starts it stops again (worker; the broker if it started it) unless ``keep_running``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from schemas import topics
from schemas.catalog import key_of
from schemas.codec import decode, encode
from schemas.errors import DecodeError
from schemas.records import (
    INPUT_TOPICS,
    AnomalyEvent,
    CorrectionRequest,
    DeadLetter,
    OdometerReading,
    PlateOdometerReading,
    Receipt,
)
from streams.kafka.clients import admin_config, consumer_config, producer_config
from streams.settings import Settings
from streams.simulator import MalformedRecord, SimRecord, simulate
from streams.simulator.naive import NaiveDetector
from streams.simulator.plates import resolve_plates
from streams.simulator.score import QualityReport, score


class DemoError(RuntimeError):
    """The demo cannot go on; the message says why and what to do."""


Say = Callable[[str], None]


@dataclass
class DemoOptions:
    vehicles: int = 20_000
    seed: int = 1
    fault_rate_multiplier: float = 10.0
    paced_share: float = 0.1
    """Share of the records sent at ``paced_rate_per_s`` at the end: latency measured without a backlog ..."""
    paced_max_s: float = 30.0
    """... but no more than this many seconds of them."""
    paced_rate_per_s: int = 300
    timeout_s: float = 900.0
    keep_running: bool = False
    run_dir: Path = field(default_factory=lambda: Path("var") / "demo")


@dataclass
class DemoResult:
    submissions: int
    readings: int
    bulk_seconds: float
    throughput_per_s: float
    latency_p50_s: float
    latency_p99_s: float
    paced_latency_p50_s: float | None
    paced_latency_p99_s: float | None
    anomalies_by_kind: dict[str, int]
    dead_letters: int
    engine: QualityReport
    naive: QualityReport
    samples: dict[str, Any]
    urls: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("engine", "naive")}
        out["engine"] = self.engine.to_dict()
        out["naive"] = self.naive.to_dict()
        return out


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def _progress(say: Say, label: str, done: int, total: int, started: float) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    rate = done / max(time.perf_counter() - started, 1e-9)
    say(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} ({rate:,.0f}/s)")


class Demo:
    """One demo run. ``run()`` returns the measured result; ``close()`` stops what it started."""

    def __init__(self, settings: Settings, options: DemoOptions, say: Say) -> None:
        self.options = options
        self.say = say
        self.run_id = time.strftime("%Y%m%d-%H%M%S")
        self.prefix = settings.topic_prefix or f"demo-{self.run_id}."
        self.run_dir = options.run_dir / self.run_id
        self.settings = settings
        self._broker: Any = None
        self._worker: subprocess.Popen[bytes] | None = None
        self.api_key = secrets.token_urlsafe(24)
        self._receipt_consumer: Consumer | None = None
        self._receipts: dict[str, tuple[Receipt, int]] = {}

    # --- set-up -------------------------------------------------------------------------------------------

    def start_broker(self) -> str:
        if self.settings.kafka_bootstrap_servers:
            return self.settings.kafka_bootstrap_servers
        from streams.local.kafka import LocalKafka

        self.say(
            "starting the local Kafka broker (the first run downloads Apache Kafka from Maven Central) …\n"
        )
        broker = LocalKafka(self.settings)
        was_running = broker.status().running
        result = broker.start()
        if not was_running:
            self._broker = broker
        return str(result.bootstrap)

    def create_topics(self, bootstrap: str) -> int:
        from streams.kafka.admin import ensure_topics

        admin = AdminClient(admin_config(replace(self.settings, kafka_bootstrap_servers=bootstrap)))
        old = [
            t
            for t in admin.list_topics(timeout=10).topics
            if t.startswith("demo-") and not t.startswith(self.prefix)
        ]
        if old:  # earlier demo runs: delete in the background, nothing waits for it
            admin.delete_topics(old, operation_timeout=30)
        self.settings = replace(
            self.settings, kafka_bootstrap_servers=bootstrap, topic_prefix=self.prefix,
            app_id=f"{self.prefix}carpass-demo",
        )  # fmt: skip
        return ensure_topics(self.settings)

    def start_worker(self, partitions: int) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        keys = self.run_dir / "api-keys.json"
        keys.write_text(
            json.dumps({"keys": [{"name": "demo-operator", "role": "operator", "key": self.api_key}]})
        )
        keys.chmod(0o600)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CARPASS_")}
        env.update(
            {
                "CARPASS_KAFKA_BOOTSTRAP_SERVERS": self.settings.kafka_bootstrap_servers,
                "CARPASS_TOPIC_PREFIX": self.prefix,
                "CARPASS_APP_ID": self.settings.app_id,
                "CARPASS_DATA_DIR": str(self.run_dir / "state"),
                "CARPASS_API_KEYS_FILE": str(keys),
                "CARPASS_WEB_PORT": str(self.settings.web_port),
                "CARPASS_PARTITIONS": str(partitions),
                "CARPASS_CACHE_DIR": str(self.settings.cache_dir),
                "CARPASS_DEVELOPMENT": "1",  # a generated signing key and forward secret: this machine only
            }
        )
        log = (self.run_dir / "worker.log").open("wb")
        self._worker = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker", "--log-level", "warning"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self._worker.poll() is not None:
                raise DemoError(f"the worker exited at start-up; see {self.run_dir / 'worker.log'}")
            try:
                with urllib.request.urlopen(self.url("/metrics"), timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise DemoError(f"the worker's web server did not answer in 120 s; see {self.run_dir / 'worker.log'}")

    def url(self, path: str) -> str:
        return f"http://{self.settings.web_bind}:{self.settings.web_port}{path}"

    # --- the run --------------------------------------------------------------------------------------------

    def produce(self) -> tuple[list[SimRecord], dict[str, int], Any]:
        """Simulate and produce; returns the records (for scoring), counts and the simulation (truth)."""
        o = self.options
        simulation = simulate(
            o.vehicles, o.seed, fault_rate_multiplier=o.fault_rate_multiplier, malformed=True
        )
        self.say(
            f"simulating {o.vehicles:,} vehicles (seed {o.seed}, faults x{o.fault_rate_multiplier:g}) …\n"
        )
        records = list(simulation)
        submissions = sum(
            isinstance(r, (OdometerReading, PlateOdometerReading, CorrectionRequest)) for r in records
        )
        producer = Producer(producer_config(self.settings, {"linger.ms": 5, "batch.num.messages": 10000}))
        topic_of = {cls: self.prefix + name for cls, name in INPUT_TOPICS.items()}
        paced = min(int(len(records) * o.paced_share), int(o.paced_rate_per_s * o.paced_max_s))
        paced_from = len(records) - paced
        started = time.perf_counter()
        counts: Counter[str] = Counter()
        pace_start = 0.0
        bulk_ids: set[str] = set()
        for i, record in enumerate(records):
            if isinstance(record, MalformedRecord):
                producer.produce(self.prefix + record.topic, key=record.key.encode(), value=record.value)
                counts["malformed"] += 1
            else:
                producer.produce(topic_of[type(record)], key=key_of(record).encode(), value=encode(record))
                counts[type(record).__name__] += 1
                if i < paced_from and isinstance(record, (OdometerReading, CorrectionRequest)):
                    bulk_ids.add(record.event_id)
            if i == paced_from:
                producer.flush()
                # Plate readings may wait for a registration still to come: wait for the VIN-keyed ones.
                self.say(f"\nbulk load sent; waiting for its {len(bulk_ids):,} VIN-keyed receipts …\n")
                self.wait_receipts(bulk_ids)
                counts["bulk_done_ms"] = int(time.time() * 1000)
                self.wait_caught_up()  # the views and provider tallies too: latency without a backlog
                self.say(f"now {o.paced_rate_per_s:,}/s for the last {len(records) - i:,} records\n")
                pace_start = time.perf_counter()
                counts["paced_from_ms"] = int(time.time() * 1000)
            if i > paced_from:
                due = pace_start + (i - paced_from) / o.paced_rate_per_s
                while (now := time.perf_counter()) < due:
                    producer.poll(min(due - now, 0.01))
            if i % 5000 == 0:
                producer.poll(0)
                _progress(self.say, "producing", i + 1, len(records), started)
        producer.flush()
        _progress(self.say, "producing", len(records), len(records), started)
        self.say("\n")
        counts["submissions"] = submissions
        return records, dict(counts), simulation

    def collect(
        self, expected: int, plate_readings: int = 0
    ) -> tuple[list[tuple[Receipt, int]], list[AnomalyEvent], list[bytes]]:
        """Consume receipts until ``expected`` event ids have one; then the anomalies and dead letters."""
        self.wait_receipts(expected=expected, allow_missing=plate_readings)
        if self._receipt_consumer is not None:
            self._receipt_consumer.close()
            self._receipt_consumer = None
        anomalies = [a for a in self._drain(topics.ANOMALIES) if isinstance(a, AnomalyEvent)]
        letters = [r for r in self._drain(topics.DEAD_LETTERS) if isinstance(r, DeadLetter)]
        dead = [r.original_value for r in letters if r.original_value is not None]
        return list(self._receipts.values()), anomalies, dead

    def wait_caught_up(self) -> None:
        """Wait until the worker reports no lag on any topic it reads (its gauge is refreshed every 5 s):
        two readings of zero in a row."""
        deadline = time.monotonic() + self.options.timeout_s
        zeros = 0
        while zeros < 2:
            lag = self.worker_lag()
            zeros = zeros + 1 if lag == 0 else 0
            if lag:
                self.say(f"\rthe worker's projections are catching up: {lag:,} messages behind   ")
            if time.monotonic() > deadline:
                waited = f"{self.options.timeout_s:.0f} s"
                raise DemoError(f"the worker still lags {lag:,} messages after {waited}")
            if self._worker is not None and self._worker.poll() is not None:
                raise DemoError(f"the worker died; see {self.run_dir / 'worker.log'}")
            time.sleep(5.5 if zeros else 2.0)
        self.say("\n")

    def worker_lag(self) -> int | None:
        """The sum of the worker's ``carpass_consumer_lag_messages`` (None: not reported yet)."""
        try:
            with urllib.request.urlopen(self.url("/metrics"), timeout=5) as response:
                text = response.read().decode()
        except (urllib.error.URLError, OSError):
            return None
        values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                  if line.startswith("carpass_consumer_lag_messages{")]  # fmt: skip
        return round(sum(values)) if values else None

    def wait_receipts(self, ids: set[str] | None = None, expected: int = 0, allow_missing: int = 0) -> None:
        """Consume receipts (one consumer for the run) until every id in ``ids`` has one, or until
        ``expected`` distinct event ids have one."""
        if self._receipt_consumer is None:
            self._receipt_consumer = Consumer(consumer_config(self.settings, f"demo-reader-{self.run_id}"))
            self._receipt_consumer.subscribe([self.prefix + topics.RECEIPTS])
        consumer = self._receipt_consumer
        receipts = self._receipts
        started = time.perf_counter()
        done_before = len(receipts)
        if ids is not None:
            missing = ids - receipts.keys()
            expected = done_before + len(missing)
        deadline = time.monotonic() + self.options.timeout_s
        last_progress = time.monotonic()
        while missing if ids is not None else len(receipts) < expected:
            if (
                ids is None
                and len(receipts) >= expected - allow_missing
                and (time.monotonic() - last_progress > 20.0)
            ):
                self.say(
                    f"\n{expected - len(receipts):,} plate readings still wait for a registration "
                    "(bounded by CARPASS_PLATE_WAIT_S in event time); going on without them\n"
                )
                break
            if time.monotonic() > deadline:
                raise DemoError(
                    f"only {len(receipts):,} of {expected:,} receipts after {self.options.timeout_s:.0f} s"
                )
            if self._worker is not None and self._worker.poll() is not None:
                raise DemoError(f"the worker died; see {self.run_dir / 'worker.log'}")
            for message in consumer.consume(5000, timeout=0.5):
                value = message.value()
                if message.error() or value is None:
                    continue
                receipt = decode(value)
                if isinstance(receipt, Receipt):
                    if receipt.event_id not in receipts:
                        last_progress = time.monotonic()
                    receipts.setdefault(receipt.event_id, (receipt, message.timestamp()[1]))
                    if ids is not None:
                        missing.discard(receipt.event_id)
            _progress(self.say, "receipts ", len(receipts) - done_before, expected - done_before, started)
        self.say("\n")

    def _drain_raw(self, topic: str) -> list[bytes]:
        consumer = Consumer(consumer_config(self.settings, f"demo-drain-{self.run_id}-{topic}"))
        consumer.subscribe([self.prefix + topic])
        values: list[bytes] = []
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < 3.0:
            batch = consumer.consume(5000, timeout=0.5)
            if batch:
                idle_since = time.monotonic()
            for m in batch:
                value = m.value()
                if not m.error() and value is not None:
                    values.append(value)
        consumer.close()
        return values

    def _drain(self, topic: str) -> list[object]:
        out: list[object] = []
        for value in self._drain_raw(topic):
            try:
                out.append(decode(value))
            except DecodeError:
                continue
        return out

    def input_timestamps(self) -> dict[str, int]:
        """event_id → Kafka timestamp (ms) of its input message, for the submissions topics."""
        stamps: dict[str, int] = {}
        for topic in (topics.READINGS, topics.PLATE_READINGS, topics.CORRECTIONS):
            consumer = Consumer(consumer_config(self.settings, f"demo-ts-{self.run_id}-{topic}"))
            consumer.subscribe([self.prefix + topic])
            idle_since = time.monotonic()
            while time.monotonic() - idle_since < 3.0:
                batch = consumer.consume(5000, timeout=0.5)
                if batch:
                    idle_since = time.monotonic()
                for m in batch:
                    value = m.value()
                    if m.error() or value is None:
                        continue
                    try:
                        record = decode(value)
                    except DecodeError:
                        continue
                    stamps[getattr(record, "event_id", "")] = m.timestamp()[1]
            consumer.close()
        return stamps

    def api_get(self, path: str) -> Any:
        request = urllib.request.Request(self.url(path), headers={"Authorization": f"Bearer {self.api_key}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                body = response.read().decode()
        except urllib.error.HTTPError as exc:
            return {"status": exc.code, "error": exc.read().decode(errors="replace")[:300]}
        except (urllib.error.URLError, OSError) as exc:
            return {"error": str(exc)}
        try:
            return json.loads(body)
        except json.JSONDecodeError:
            return {"html_bytes": len(body)}

    def worker_alive(self) -> bool:
        return self._worker is not None and self._worker.poll() is None

    def close(self) -> None:
        if self.options.keep_running:
            return
        if self._worker is not None and self._worker.poll() is None:
            os.killpg(self._worker.pid, signal.SIGTERM)
            try:
                self._worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self._worker.pid, signal.SIGKILL)
                self._worker.wait()
        if self._broker is not None:
            self._broker.stop()


def score_run(
    records: list[SimRecord],
    simulation: Any,
    anomalies: list[AnomalyEvent],
    receipts: list[Receipt],
    dead: list[bytes],
) -> tuple[QualityReport, QualityReport]:
    """Score the stream's anomalies and the naive rule against the simulation's ground truth."""
    naive = NaiveDetector()
    vins: set[str] = set()
    clean = (r for r in records if not isinstance(r, MalformedRecord))
    for event in resolve_plates(clean):
        vins.add(event.vin)
        if isinstance(event, OdometerReading):
            naive.add(event)
    truth = simulation.truth
    engine = score(anomalies, truth, receipts=[r for r in receipts if r.issues], dead_letters=dead, vins=vins)
    baseline = score(naive.flags(), truth, vins=vins, kind_agnostic=True, detector="naive")
    return engine, baseline


def latencies(
    receipts: list[tuple[Receipt, int]], stamps: dict[str, int], after_index_ts: int | None
) -> tuple[list[float], list[float]]:
    """(all, paced) end-to-end latencies in seconds: receipt message time − input message time."""
    all_s: list[float] = []
    paced_s: list[float] = []
    for receipt, produced_ms in receipts:
        sent_ms = stamps.get(receipt.event_id)
        if sent_ms is None:
            continue
        value = (produced_ms - sent_ms) / 1000.0
        all_s.append(value)
        if after_index_ts is not None and sent_ms >= after_index_ts:
            paced_s.append(value)
    return sorted(all_s), sorted(paced_s)
