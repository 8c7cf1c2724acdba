"""Pieces shared by the benchmarks (not a benchmark itself).

::

    fleet(vehicles, seed) ──► registrations + readings (realistic histories, 0.15 % typos)
    produce_all / produce_simulation ──► the contract topics under a fresh prefix (BenchRun)
    worker(env, log) ──► one ``carpass worker`` subprocess;  quix_peer(...) ──► the Quix Streams peer
    ReceiptTail ──► counts receipts written after it started (first and last arrival times)
    raw_limit / raw_core ──► the framework-free loops on the same topics
    CpuMeter ──► CPU seconds of given processes and of the whole machine over a run
    add_common_args / finish ──► --quick, --out, the machine stamp, the results file

Every benchmark is an entry point: it reads its settings once (``Settings.from_env``), uses
``CARPASS_KAFKA_BOOTSTRAP_SERVERS`` if set, else leases the local broker (``CARPASS_LOCAL_KAFKA_PORT``,
started if needed), and deletes the topics it made.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from schemas.catalog import key_of
from schemas.codec import decode_dict, encode
from schemas.records import (
    INPUT_TOPICS,
    OdometerReading,
    Origin,
    ProviderKind,
    ProviderRegistration,
    RegistrationKind,
    VehicleRegistration,
)
from streams.domain.calendar import MS_PER_DAY
from streams.kafka.admin import ensure_topics
from streams.kafka.clients import bootstrap_servers, producer_config
from streams.kafka.topics import PipelineTopics
from streams.local.kafka import LocalKafka
from streams.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
TYPO_RATE = 0.0015
_VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
_DAY_2012 = 15_340
NAMESPACE = uuid.UUID("6f1c1a40-5a1e-4c2b-9d7e-2f0c6a1b9e11")


# --- command line and results -------------------------------------------------------------------------------


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="CI size (seconds, tiny data): checks it still runs; writes only with --out")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="write the result JSON here (default: benchmarks/results/NAME.json, "
                             "not written in --quick mode)")  # fmt: skip


def command_line() -> str:
    """How this run was started, without ``--out`` (the command that reproduces a result)."""
    args, skip = [], False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
        elif arg == "--out":
            skip = True
        elif not arg.startswith("--out="):
            args.append(arg)
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(ROOT) if script.is_relative_to(ROOT) else script
    return " ".join([".venv/bin/python", str(shown), *args])


def machine(load_at_start: float | None = None) -> dict[str, Any]:
    """Where and when: Python, CPUs, the load average (at the start of the run and now), the UTC date."""
    stamp: dict[str, Any] = {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "date_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
    }
    if load_at_start is not None:
        stamp["load_average_1m_at_start"] = round(load_at_start, 2)
    return stamp


def finish(args: argparse.Namespace, name: str, result: dict[str, Any], load_at_start: float | None = None
           ) -> Path | None:  # fmt: skip
    """Stamp ``result`` (command, machine) and write it: to ``--out``, else to ``results/NAME.json``
    unless ``--quick``. Returns the path written, if any."""
    result = {"benchmark": name, "command": command_line(), **result, **machine(load_at_start)}
    target = args.out if args.out is not None else (None if args.quick else RESULTS / f"{name}.json")
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {target}", file=sys.stderr)
    return target


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def percentiles(values: Sequence[float], qs: Iterable[float]) -> dict[str, float]:
    """``{"p50": …}`` for each ``q`` in ``qs`` (fractions), rounded to 0.1."""
    ordered = sorted(values)
    if not ordered:
        return {}
    return {f"p{q * 100:g}": round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1) for q in qs}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- the data -----------------------------------------------------------------------------------------------


def fleet(vehicles: int, seed: int) -> tuple[list[VehicleRegistration], list[OdometerReading]]:
    """Registrations and readings (in observed order) of ``vehicles`` realistic histories: a registration,
    then 10 to 20 readings over 3 to 10 years by three garages and an inspection body; 0.15 % typos."""
    rng = random.Random(seed)
    registrations, readings = [], []
    for serial in range(vehicles):
        vin = "".join(rng.choice(_VIN_CHARS) for _ in range(17))
        first_day = _DAY_2012 + rng.randrange(0, 3 * 365)
        registrations.append(VehicleRegistration(
            event_id=str(uuid.uuid5(NAMESPACE, f"reg-{seed}-{serial}")), vin=vin,
            kind=RegistrationKind.FIRST_REGISTRATION, effective_at=first_day * MS_PER_DAY,
            first_registration_date=first_day, imported_used=False, make="Volkswagen", model="Golf",
            vehicle_category="M1", plate=f"1-ABC-{serial:03d}",
        ))  # fmt: skip
        km_per_day = rng.uniform(5_000, 30_000) / 365
        garages = [f"04{rng.randrange(10**8):08d}" for _ in range(3)]
        day, km = first_day, rng.randrange(5, 50)
        for index in range(rng.randint(10, 20)):
            gap = rng.randint(30, 270)
            day += gap
            km += round(gap * km_per_day * rng.uniform(0.8, 1.2))
            readings.append(_reading(rng, vin, f"{seed}-{serial}-{index}", day, km, index % 4 == 3, garages))
    readings.sort(key=lambda r: r.observed_at)
    return registrations, readings


def _reading(
    rng: random.Random, vin: str, name: str, day: int, km: int, inspection: bool, garages: list[str]
) -> OdometerReading:
    observed = day * MS_PER_DAY + rng.randrange(7 * 3600, 18 * 3600) * 1000 + rng.randrange(1000)
    value = km
    if rng.random() < TYPO_RATE:  # a digit too many, or two digits swapped
        text = str(km)
        swapped = int(text[0] + text[2] + text[1] + text[3:]) if len(text) >= 3 else km * 10
        value = km * 10 if rng.random() < 0.5 else swapped
    return OdometerReading(
        event_id=str(uuid.uuid5(NAMESPACE, name)), vin=vin, odometer_value=value, observed_at=observed,
        submitted_at=observed + rng.randrange(60_000, 3_600_000),
        provider_id="0200000001" if inspection else rng.choice(garages),
        provider_kind=ProviderKind.INSPECTION_BODY if inspection else ProviderKind.GARAGE,
        origin=Origin.INSPECTION if inspection else Origin.WORKSHOP,
        work_description=None if inspection else "periodic service",
    )  # fmt: skip


BENCH_PROVIDERS: dict[str, ProviderKind] = {"0200000001": ProviderKind.INSPECTION_BODY,
                                             "0300000007": ProviderKind.MANUFACTURER}  # fmt: skip
"""The fleet's inspection body and the connected-car feed of ``bench_pipeline``; its garages are random."""


def register_providers(producer: Producer, topic: str, readings: Iterable[OdometerReading]) -> int:
    """Register (on ``topic``, ``providers.registry``) every provider of ``readings`` with the kind it
    claims, and :data:`BENCH_PROVIDERS`, active since 2000, as the registry would have them: the worker
    judges readings by the registry. Returns the count; flushed."""
    kinds = dict(BENCH_PROVIDERS)
    for reading in readings:
        kinds.setdefault(reading.provider_id, reading.provider_kind)
    for provider, kind in kinds.items():
        name = f"bench {kind.value.lower()}"
        record = ProviderRegistration(f"bench-provider-{provider}", provider, name, kind, ("45201",), True,
                                      946_684_800_000)  # fmt: skip
        _produce(producer, topic, provider.encode(), encode(record))
    producer.flush(60)
    return len(kinds)


def produce_all(producer: Producer, topic: str, records: Iterable[Any]) -> None:
    """Every record to ``topic``, keyed by VIN; flushed."""
    for record in records:
        _produce(producer, topic, record.vin.encode(), encode(record))
    producer.flush(60)


def produce_simulation(producer: Producer, prefix: str, records: Iterable[Any]) -> int:
    """A simulation's records on their contract topics (malformed ones as their raw bytes); flushed.
    Returns the count."""
    from streams.simulator import MalformedRecord

    count = 0
    for record in records:
        if isinstance(record, MalformedRecord):
            _produce(producer, prefix + record.topic, record.key.encode(), record.value)
        else:
            _produce(producer, prefix + INPUT_TOPICS[type(record)], key_of(record).encode(), encode(record))
        count += 1
    producer.flush(60)
    return count


def _produce(producer: Producer, topic: str, key: bytes, value: bytes) -> None:
    while True:
        try:
            producer.produce(topic, key=key, value=value)
            break
        except BufferError:
            producer.poll(0.05)
    producer.poll(0)


# --- the broker and one run's topics ------------------------------------------------------------------------


@contextlib.contextmanager
def broker() -> Iterator[Settings]:
    """The process settings, with a broker: the configured one, or the local broker leased for the run."""
    settings = Settings.from_env()
    with contextlib.ExitStack() as stack:
        if not settings.kafka_bootstrap_servers:
            lease = stack.enter_context(LocalKafka(settings).lease())
            settings = replace(settings, kafka_bootstrap_servers=str(lease.bootstrap))
        yield settings


@dataclass
class BenchRun:
    """One benchmark run's topics (a unique prefix), scratch directory and worker environments."""

    settings: Settings
    partitions: int = 4
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    scratch: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="carpass-bench-")))
    app_ids: list[str] = field(default_factory=list)
    keep_scratch: bool = False

    @property
    def bootstrap(self) -> str:
        return bootstrap_servers(self.settings)

    @property
    def prefix(self) -> str:
        return f"bench-{self.run_id}-"

    @property
    def topics(self) -> PipelineTopics:
        return PipelineTopics(self.prefix)

    def app_id(self, name: str) -> str:
        app_id = f"bench-{self.run_id}-{name}"
        self.app_ids.append(app_id)
        return app_id

    def env(self, app_id: str, data_dir: Path, port: int, **extra: str) -> dict[str, str]:
        """A worker's environment: this run's broker, prefix and partitions; its own group, state and port."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CARPASS_")}
        env.update({
            "CARPASS_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "CARPASS_TOPIC_PREFIX": self.prefix,
            "CARPASS_APP_ID": app_id, "CARPASS_DATA_DIR": str(data_dir), "CARPASS_WEB_PORT": str(port),
            "CARPASS_PARTITIONS": str(self.partitions), "CARPASS_CACHE_DIR": str(self.settings.cache_dir),
            "CARPASS_DEVELOPMENT": "1",
            "PYTHONPATH": str(ROOT),
        })  # fmt: skip
        env.update({f"CARPASS_{k.upper()}": v for k, v in extra.items()})
        return env

    def create_topics(self) -> None:
        ensure_topics(Settings.from_env(self.env("unused", self.scratch, 0)))

    def producer(self) -> Producer:
        return Producer(producer_config(self.settings, {"linger.ms": 5, "batch.size": 1_000_000}))

    def cleanup(self) -> None:
        """Delete every topic of the run (inputs, outputs, the workers' changelogs), and the scratch
        directory unless ``keep_scratch``."""
        if self.keep_scratch:
            print(f"kept {self.scratch} (worker logs)", file=sys.stderr)
        else:
            shutil.rmtree(self.scratch, ignore_errors=True)
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        mine = (self.prefix, *self.app_ids)
        names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(mine) or
                 any(app in t for app in self.app_ids)]  # fmt: skip
        if names:
            for future in admin.delete_topics(names, operation_timeout=10).values():
                with contextlib.suppress(Exception):
                    future.result(timeout=15)


@contextlib.contextmanager
def bench_run(partitions: int, settings: Settings | None = None) -> Iterator[BenchRun]:
    """A :class:`BenchRun` (on the broker of ``settings``, else :func:`broker`), its topics created, and
    deleted afterwards with its scratch directory (kept, and named, when the run fails)."""
    with contextlib.ExitStack() as stack:
        if settings is None:
            settings = stack.enter_context(broker())
        run = BenchRun(settings, partitions=partitions)
        try:
            run.create_topics()
            yield run
        except BaseException:
            run.keep_scratch = True  # the logs say what went wrong
            raise
        finally:
            run.cleanup()


def end_offsets(bootstrap: str, topics: Iterable[str]) -> dict[tuple[str, int], int]:
    """High watermark of every partition of ``topics``."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-ends-{uuid.uuid4().hex}"})
    try:
        out = {}
        for topic in topics:
            metadata = consumer.list_topics(topic, timeout=10).topics[topic]
            for partition in metadata.partitions:
                out[(topic, partition)] = _high_watermark(consumer, TopicPartition(topic, partition))
        return out
    finally:
        consumer.close()


def _high_watermark(consumer: Any, tp: Any, within_s: float = 30.0) -> int:
    """``tp``'s high watermark; a retriable error (a leader not elected yet on a just-created topic, on a
    busy machine) is asked again for up to ``within_s``, then raised with what was waited for."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            _, high = consumer.get_watermark_offsets(tp, timeout=10)
            return int(high)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            moving = error is not None and error.name() == "NOT_LEADER_FOR_PARTITION"
            retriable = error is not None and (error.retriable() or moving)
            if not retriable or time.monotonic() > deadline:
                raise KafkaException(f"high watermark of {tp.topic}[{tp.partition}] after {within_s:.0f} s: "
                                     f"{exc}") from exc  # fmt: skip
            time.sleep(0.5)


def group_committed(
    bootstrap: str, group: str, partitions: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """The offsets ``group`` committed on ``partitions`` (-1 where none)."""
    wanted = [TopicPartition(t, p) for t, p in partitions]

    def ask() -> dict[tuple[str, int], int]:
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
        try:
            return {(tp.topic, tp.partition): tp.offset for tp in consumer.committed(wanted, timeout=10)}
        finally:
            consumer.close()

    return retried(f"the offsets group {group} committed", ask)


def group_members(bootstrap: str, group: str) -> tuple[str, int]:
    """(state, member count) of consumer group ``group``."""
    admin = AdminClient({"bootstrap.servers": bootstrap})

    def ask() -> tuple[str, int]:
        description = admin.describe_consumer_groups([group])[group].result(timeout=10)
        return str(description.state).rsplit(".", 1)[-1], len(description.members)

    return retried(f"the members of group {group}", ask)


T = TypeVar("T")


def retried(what: str, call: Callable[[], T], attempts: int = 4, wait_s: float = 1.0) -> T:
    """``call()``, asked again after a failure (a broker answering slowly on a busy machine timed a quick
    benchmark out); after ``attempts`` failures a ``RuntimeError`` saying what was asked and why it failed."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as exc:  # KafkaException, timeouts: the broker was slow to answer
            if attempt == attempts:
                raise RuntimeError(f"{what}: no answer after {attempts} tries; last: {exc}") from exc
            time.sleep(wait_s * attempt)
    raise AssertionError("unreachable")


# --- processes ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def worker(
    env: dict[str, str], log: Path, profile: Path | None = None, projections: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    """One ``carpass worker`` subprocess (without projections unless asked), stopped with SIGTERM."""
    command = [sys.executable]
    if profile is not None:
        command += ["-m", "cProfile", "-o", str(profile)]
    command += ["-m", "streams.cli", "worker", "--log-level", "warning"]
    if not projections:
        command.append("--without-projections")
    with _process(command, env, log) as process:
        yield process


@contextlib.contextmanager
def _process(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def peers_python() -> Path:
    """The Python of the peers' venv (``make bench-peers``), or a clear exit."""
    if not PEERS_PYTHON.exists():
        raise SystemExit(f"{PEERS_PYTHON} is missing: run `make bench-peers` first (Quix Streams lives in "
                         "its own venv, its pins clash with ours)")  # fmt: skip
    return PEERS_PYTHON


@contextlib.contextmanager
def quix_peer(
    run: BenchRun, group: str, log: Path, inputs: Sequence[str]
) -> Iterator[subprocess.Popen[bytes]]:
    """The Quix Streams peer (``benchmarks/peers/quix_app.py``) in the peers' venv, on ``inputs``."""
    command = [str(peers_python()), str(ROOT / "benchmarks" / "peers" / "quix_app.py"),
               "--bootstrap", run.bootstrap, "--group", group, "--state-dir", str(run.scratch / group),
               "--receipts", run.topics.receipts, "--anomalies", run.topics.anomalies, *inputs]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARPASS_", "Quix__"))}
    env["PYTHONPATH"] = str(ROOT)
    with _process(command, env, log) as process:
        yield process


def metrics_of(port: int) -> dict[str, float]:
    """A worker's /metrics samples, ``'name{labels}' -> value``; empty if it does not answer."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return {}
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def wait_for_metric(port: int, series: str, wanted: float, process: subprocess.Popen[bytes]) -> None:
    """Poll the worker's /metrics until ``series`` reaches ``wanted``."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        if metrics_of(port).get(series, 0.0) >= wanted:
            return
        time.sleep(0.5)
    raise SystemExit(f"the worker did not reach {series} >= {wanted}")


class CpuMeter:
    """CPU seconds used by given processes and by the whole machine between :meth:`start` and :meth:`stop`.

    Reads ``/proc`` (Linux): a process's utime + stime, the machine's busy jiffies in ``/proc/stat``."""

    def __init__(self) -> None:
        self.tick = os.sysconf("SC_CLK_TCK")
        self._machine = (0, 0)
        self._procs: dict[int, float] = {}
        self.process_seconds: dict[int, float] = {}
        self.machine_busy_share = float("nan")
        """Share of all CPUs busy (any process) between start and stop."""

    def _proc(self, pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return self._procs.get(pid, 0.0)
        return (int(fields[11]) + int(fields[12])) / self.tick

    def _stat(self) -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = values[3] + values[4]
        return sum(values) - idle, sum(values)

    def start(self, pids: Iterable[int] = ()) -> None:
        self._machine = self._stat()
        self._procs = {pid: self._proc(pid) for pid in pids}

    def sample(self) -> None:
        """Remember the processes' current CPU (call while they run: a reaped process has no /proc)."""
        for pid in self._procs:
            self.process_seconds[pid] = self._proc(pid) - self._procs[pid]

    def stop(self) -> None:
        self.sample()
        busy, total = self._stat()
        span = total - self._machine[1]
        self.machine_busy_share = (busy - self._machine[0]) / span if span else float("nan")


# --- receipts -----------------------------------------------------------------------------------------------


class ReceiptTail:
    """Counts the messages written to ``topic`` after it was created (assigned at the high watermarks)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        group = f"bench-tail-{uuid.uuid4().hex}"
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                                  "enable.auto.commit": False, "fetch.wait.max.ms": 5})  # fmt: skip
        ends = end_offsets(bootstrap, [topic])
        self.consumer.assign([TopicPartition(t, p, offset) for (t, p), offset in ends.items()])
        self.first = self.last = 0.0
        self.seen = 0

    def count(self, wanted: int, timeout_s: float, idle_s: float = 60.0,
              alive: Iterable[subprocess.Popen[bytes]] = (), on_first: Any = None) -> int:  # fmt: skip
        """Consume until ``wanted`` in all (or ``idle_s`` without any, or a process in ``alive`` died);
        ``on_first()`` is called when the first arrives."""
        idle_since = time.monotonic()
        end = idle_since + timeout_s
        processes = list(alive)
        while self.seen < wanted and time.monotonic() < end:
            messages = self.consumer.consume(2000, 0.2)
            now = time.monotonic()
            if not messages:
                if (self.seen and now - idle_since > idle_s) or any(p.poll() is not None for p in processes):
                    break
                continue
            idle_since = now
            good = sum(1 for m in messages if m.error() is None)
            if good and not self.seen:
                self.first = now
                if on_first is not None:
                    on_first()
            self.seen += good
            self.last = now
        return self.seen

    def rate(self) -> float:
        """Receipts per second from the first to the last."""
        span = self.last - self.first
        return (self.seen - 1) / span if span > 0 and self.seen > 1 else float("nan")

    def close(self) -> None:
        self.consumer.close()


def count_receipts(consumer: Consumer, wanted: int, timeout_s: float, deadline_idle_s: float = 60.0
                   ) -> tuple[float, float, int]:  # fmt: skip
    """Consume receipts until ``wanted``: (time of the first, time of the last, count)."""
    first = last = 0.0
    seen = 0
    idle_since = time.monotonic()
    end = time.monotonic() + timeout_s
    while seen < wanted and time.monotonic() < end:
        messages = consumer.consume(2000, 0.2)
        now = time.monotonic()
        if not messages:
            if seen and now - idle_since > deadline_idle_s:
                break
            continue
        idle_since = now
        good = sum(1 for m in messages if m.error() is None)
        if good and not seen:
            first = now
        seen += good
        last = now
    return first, last, seen


# --- the framework-free loops -------------------------------------------------------------------------------


def raw_limit(bootstrap: str, topics: list[str], events: int, directory: Path) -> tuple[float, float]:
    """(events/s, CPU s) of consume -> fastavro decode -> rocksdict put, on ``topics``: no judgment, no
    outputs, no changelog: the ceiling of any Python consumer of these topics on this machine."""
    from rocksdict import Options, Rdict

    db = Rdict(str(directory / "raw.db"), Options(raw_mode=True))
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"raw-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})  # fmt: skip
    consumer.subscribe(topics)
    seen, started, cpu = 0, 0.0, 0.0
    deadline = time.monotonic() + 600
    while seen < events and time.monotonic() < deadline:
        for message in consumer.consume(2000, 0.5):
            if message.error() is not None:
                continue
            if not seen:
                started, cpu = time.perf_counter(), time.process_time()
            _, datum = decode_dict(message.value())
            db[datum["vin"].encode()] = message.value()
            seen += 1
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    consumer.close()
    db.close()
    return (seen / elapsed if elapsed > 0 else 0.0), cpu


class _RocksStore:
    """:class:`streams.worker.batch.StateStore` on one rocksdict database per partition, written like the
    worker's table: the batch's states to the changelog topic first (flushed), then RocksDB."""

    def __init__(self, directory: Path, sink: Any, changelog: str) -> None:
        self.directory, self.sink, self.changelog = directory, sink, changelog
        self.dbs: dict[int, Any] = {}
        self.pending: dict[tuple[int, str], bytes] = {}

    def _db(self, partition: int) -> Any:
        from rocksdict import Options, Rdict

        db = self.dbs.get(partition)
        if db is None:
            db = self.dbs[partition] = Rdict(str(self.directory / f"p{partition}.db"), Options(raw_mode=True))
        return db

    def get(self, key: str, source: Any) -> bytes | None:
        pending = self.pending.get((source.partition, key))
        value: bytes | None = pending if pending is not None else self._db(source.partition).get(key.encode())
        return value

    def put(self, key: str, value: bytes, source: Any) -> None:
        self.pending[(source.partition, key)] = value

    def flush(self) -> None:
        if not self.pending:
            return
        for (partition, key), value in self.pending.items():
            self.sink.send(self.changelog, key.encode(), value, partition)
        self.sink.flush()
        for (partition, key), value in self.pending.items():
            self._db(partition)[key.encode()] = value
        self.pending.clear()

    def close(self) -> None:
        for db in self.dbs.values():
            db.close()


def raw_core(run: BenchRun, inputs: list[str], events: int, batch: int = 1000) -> tuple[float, float]:
    """(events/s, CPU s) of the worker's own batch step (``worker.vehicles.VehicleProcessor``: decode,
    judge, receipts and anomalies produced, state to a changelog topic then RocksDB) on a confluent-kafka
    consumer and a rocksdict per partition, without Faust: no offset commits, no rebalancing, one process."""
    from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]
    from prometheus_client import CollectorRegistry

    from streams.kafka.clients import build_codec
    from streams.state.cache import StateCache
    from streams.worker.batch import RawMessage
    from streams.worker.faust.adapters import KafkaSink
    from streams.worker.metrics import WorkerMetrics
    from streams.worker.vehicles import VehicleProcessor

    directory = run.scratch / "raw-core"
    directory.mkdir(exist_ok=True)
    app_id = run.app_id("raw-core")
    changelog = f"{app_id}-vehicles-changelog"
    admin = AdminClient({"bootstrap.servers": run.bootstrap})
    admin.create_topics([NewTopic(changelog, num_partitions=run.partitions, replication_factor=1,
                                  config={"cleanup.policy": "compact"})])[changelog].result(timeout=20)
    sink = KafkaSink(replace(run.settings, app_id=app_id))
    store = _RocksStore(directory, sink, changelog)
    processor = VehicleProcessor(codec=build_codec(run.settings), topics=run.topics, store=store, sink=sink,
                                 metrics=WorkerMetrics.create(CollectorRegistry()),
                                 cache=StateCache(run.settings.state_cache_vehicles))  # like the worker
    consumer = Consumer({"bootstrap.servers": run.bootstrap, "group.id": f"raw-core-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})  # fmt: skip
    consumer.subscribe(inputs)
    seen, started, cpu = 0, 0.0, 0.0
    deadline = time.monotonic() + 1200
    while seen < events and time.monotonic() < deadline:
        messages = [m for m in consumer.consume(batch, 0.5) if m.error() is None]
        if not messages:
            continue
        if not seen:
            started, cpu = time.perf_counter(), time.process_time()
        processor.process([RawMessage(m.topic(), m.partition(), m.offset(), m.key(), m.value(),
                                      m.timestamp()[1]) for m in messages])  # fmt: skip
        seen += len(messages)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    consumer.close()
    store.close()
    return (seen / elapsed if elapsed > 0 else 0.0), cpu


def state_sizes(data_dir: Path) -> list[int]:
    """Sizes of the vehicle states in a stopped worker's RocksDB files."""
    from rocksdict import AccessType, Options, Rdict

    sizes = []
    for path in sorted(data_dir.rglob("vehicles-*.db")):
        db = Rdict(str(path), Options(raw_mode=True), access_type=AccessType.read_only())
        sizes += [len(value) for key, value in db.items() if not key.startswith(b"__faust")]
        db.close()
    return sizes
