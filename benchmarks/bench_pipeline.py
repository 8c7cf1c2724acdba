"""One stream worker on the broker of this machine: issue 4 item 6.

* **sustained readings/s**: realistic histories (a registration, then 10 to 20 readings over 3 to 10
  years, by three garages and an inspection body; 0.15 % typos) are produced to the input topics first,
  then one ``carpass worker`` (a subprocess, without projections) drains them; the rate counts receipts
  from the first to the last (start-up and recovery excluded);
* **latency at a fixed open-loop load**: once drained, new readings for the same vehicles are sent at
  5,000/s whatever the worker does; latency is the time from a reading's ``submitted_at`` (its send
  time) to its receipt arriving at a consumer in this process (p50/p99);
* **the raw limit** on the same data, in the same run, with the worker stopped: one confluent-kafka loop
  that consumes, decodes with fastavro and puts into rocksdict, no framework; the ratio worker / raw;
* **state bytes per vehicle** read back from the worker's RocksDB files.

    .venv/bin/python benchmarks/bench_pipeline.py             # 20,000 vehicles (~300,000 readings)
    .venv/bin/python benchmarks/bench_pipeline.py --quick     # CI: 400 vehicles, 2 s of latency load
    .venv/bin/python benchmarks/bench_pipeline.py --profile   # also cProfile the worker (top functions)

Uses ``CARPASS_KAFKA_BOOTSTRAP_SERVERS`` if set, else the local broker (started if needed). Topics get a
unique prefix and are deleted at the end. Writes ``benchmarks/results/pipeline.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import pstats
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from schemas.codec import decode_dict, encode
from schemas.records import OdometerReading, Origin, ProviderKind, RegistrationKind, VehicleRegistration
from streams.domain.calendar import MS_PER_DAY
from streams.kafka_clients import bootstrap_servers, producer_config
from streams.kafka_local import LocalKafka
from streams.pipeline_topics import PipelineTopics, ensure_topics
from streams.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "pipeline.json"
GOALS = {"readings_per_s": 30_000, "p99_ms": 250, "ratio": 0.4, "state_bytes": 600}
TYPO_RATE = 0.0015
_VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
_DAY_2012 = 15_340
_NS = uuid.UUID("6f1c1a40-5a1e-4c2b-9d7e-2f0c6a1b9e11")


# --- data ------------------------------------------------------------------------------------------------


def fleet(vehicles: int, seed: int) -> tuple[list[VehicleRegistration], list[OdometerReading]]:
    """Registrations and readings (in observed order) of ``vehicles`` realistic histories."""
    rng = random.Random(seed)
    registrations, readings = [], []
    for serial in range(vehicles):
        vin = "".join(rng.choice(_VIN_CHARS) for _ in range(17))
        first_day = _DAY_2012 + rng.randrange(0, 3 * 365)
        registrations.append(VehicleRegistration(
            event_id=str(uuid.uuid5(_NS, f"reg-{seed}-{serial}")), vin=vin,
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
        event_id=str(uuid.uuid5(_NS, name)), vin=vin, odometer_value=value, observed_at=observed,
        submitted_at=observed + rng.randrange(60_000, 3_600_000),
        provider_id="0200000001" if inspection else rng.choice(garages),
        provider_kind=ProviderKind.INSPECTION_BODY if inspection else ProviderKind.GARAGE,
        origin=Origin.INSPECTION if inspection else Origin.WORKSHOP,
        work_description=None if inspection else "periodic service",
    )  # fmt: skip


def produce_all(producer: Producer, topic: str, records: list[Any]) -> None:
    for record in records:
        while True:
            try:
                producer.produce(topic, key=record.vin.encode(), value=encode(record))
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    producer.flush(60)


# --- the worker ------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def worker(
    env: dict[str, str], log: Path, profile: Path | None, projections: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    """``carpass worker`` (without projections unless ``projections``), stopped at the end."""
    command = [sys.executable]
    if profile is not None:
        command += ["-m", "cProfile", "-o", str(profile)]
    command += ["-m", "streams.cli", "worker", "--log-level", "warning"]
    if not projections:
        command.append("--without-projections")
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for_metric(port: int, series: str, wanted: float, process: subprocess.Popen[bytes]) -> None:
    """Poll the worker's /metrics until ``series`` reaches ``wanted``."""
    import urllib.request

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        url = f"http://127.0.0.1:{port}/metrics"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(series) and float(line.rsplit(" ", 1)[1]) >= wanted:
                    return
        time.sleep(0.5)
    raise SystemExit(f"the worker did not reach {series} >= {wanted}")


def count_receipts(
    consumer: Consumer, wanted: int, timeout_s: float, deadline_idle_s: float = 60.0
) -> tuple[float, float, int]:
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


def latency_run(
    producer: Producer, consumer: Consumer, topic: str, last: dict[str, OdometerReading], rate: int,
    seconds: float, tag: str,
) -> list[float]:  # fmt: skip
    """Send ``rate`` readings/s for ``seconds``, open loop (on schedule whatever the worker does), cycling
    over the vehicles; each is the vehicle's next reading (a month and 1,200 km after its last, sent now by
    its connected-vehicle feed). Latencies (ms) from ``submitted_at`` to the receipt reaching us."""
    total = int(rate * seconds)
    vins = list(last)
    sent: dict[str, float] = {}
    latencies: list[float] = []
    start = time.time() + 0.2
    index = 0
    drain_until = start + seconds + 120.0
    while time.time() < drain_until and (index < total or len(latencies) < len(sent)):
        now = time.time()
        while index < total and start + index / rate <= now:
            previous = last[vins[index % len(vins)]]
            send_ms = int(time.time() * 1000)
            reading = OdometerReading(
                event_id=str(uuid.uuid5(_NS, f"{tag}-{index}")), vin=previous.vin,
                odometer_value=previous.odometer_value + 1_200,
                observed_at=previous.observed_at + 30 * MS_PER_DAY, submitted_at=send_ms,
                provider_id="0300000007", provider_kind=ProviderKind.MANUFACTURER,
                origin=Origin.CONNECTED_VEHICLE,
            )  # fmt: skip
            last[reading.vin] = reading
            producer.produce(topic, key=reading.vin.encode(), value=encode(reading))
            sent[reading.event_id] = send_ms / 1000.0
            index += 1
        producer.poll(0)
        for message in consumer.consume(1000, 0.001):
            if message.error() is None:
                _, datum = decode_dict(message.value())
                started = sent.get(datum["event_id"])
                if started is not None:
                    latencies.append((time.time() - started) * 1000.0)
    return latencies


def await_receipt(
    producer: Producer, consumer: Consumer, topic: str, last: dict[str, OdometerReading]
) -> None:
    """Send one reading and wait for its receipt: the restarted worker is consuming."""
    latency_run(producer, consumer, topic, last, rate=1, seconds=1.0, tag="probe")


# --- the raw limit and the stored state ------------------------------------------------------------------


def raw_limit(bootstrap: str, topics: list[str], events: int, directory: Path) -> float:
    """Events/s of consume -> fastavro decode -> rocksdict put, on the same topics."""
    from rocksdict import Options, Rdict

    db = Rdict(str(directory / "raw.db"), Options(raw_mode=True))
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"raw-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})  # fmt: skip
    consumer.subscribe(topics)
    seen, started = 0, 0.0
    deadline = time.monotonic() + 600
    while seen < events and time.monotonic() < deadline:
        for message in consumer.consume(2000, 0.5):
            if message.error() is not None:
                continue
            if not seen:
                started = time.perf_counter()
            _, datum = decode_dict(message.value())
            db[datum["vin"].encode()] = message.value()
            seen += 1
    elapsed = time.perf_counter() - started
    consumer.close()
    db.close()
    return seen / elapsed if elapsed > 0 else 0.0


def state_sizes(data_dir: Path) -> list[int]:
    from rocksdict import AccessType, Options, Rdict

    sizes = []
    for path in sorted(data_dir.rglob("vehicles-*.db")):
        db = Rdict(str(path), Options(raw_mode=True), access_type=AccessType.read_only())
        sizes += [len(value) for key, value in db.items() if not key.startswith(b"__faust")]
        db.close()
    return sizes


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# --- the run -----------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings.from_env()  # the benchmark is an entry point
    bootstrap = bootstrap_servers(settings)
    run_id = uuid.uuid4().hex[:8]
    prefix = f"bench-{run_id}-"
    topics = PipelineTopics(prefix)
    scratch = Path(tempfile.mkdtemp(prefix="carpass-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARPASS_")}
    env.update({
        "CARPASS_KAFKA_BOOTSTRAP_SERVERS": bootstrap, "CARPASS_TOPIC_PREFIX": prefix,
        "CARPASS_APP_ID": f"bench-{run_id}", "CARPASS_DATA_DIR": str(scratch / "worker"),
        "CARPASS_WEB_PORT": str(_free_port()), "CARPASS_PARTITIONS": str(args.partitions),
        "CARPASS_BATCH_MAX_EVENTS": str(args.batch), "CARPASS_BATCH_WITHIN_S": str(args.within),
    })  # fmt: skip
    bench_settings = Settings.from_env(env)
    ensure_topics(bench_settings)
    registrations, readings = fleet(args.vehicles, args.seed)
    print(f"{len(registrations):,} vehicles, {len(readings):,} readings; producing ...", file=sys.stderr)
    producer = Producer(producer_config(bench_settings, {"linger.ms": 5, "batch.size": 1_000_000}))
    produce_all(producer, topics.registrations, registrations)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{run_id}-receipts",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "fetch.wait.max.ms": 5})  # fmt: skip
    consumer.subscribe([topics.receipts])
    profile = scratch / "worker.prof" if args.profile else None
    port = int(env["CARPASS_WEB_PORT"])
    with worker(env, scratch / "worker.log", profile) as process:
        # Registrations first (as in life; otherwise readings overtake them and carry UNKNOWN_VEHICLE).
        wait_for_metric(port, 'carpass_events_in_total{origin="",topic="vehicle.registrations"}',
                        len(registrations), process)  # fmt: skip
        produce_all(producer, topics.readings, readings)
        first, last, seen = count_receipts(consumer, len(readings), timeout_s=3600)
        if seen < len(readings) or process.poll() is not None:
            log = scratch / "worker.log"
            raise SystemExit(f"worker stopped early: {seen}/{len(readings)} receipts; see {log}")
    drained_s = last - first
    rate = (seen - 1) / drained_s if drained_s > 0 else float("nan")
    events_rate = rate * (len(readings) + len(registrations)) / len(readings)
    print(f"sustained: {rate:,.0f} readings/s over {drained_s:.1f} s", file=sys.stderr)
    sizes = state_sizes(scratch / "worker")  # the worker is stopped: its RocksDB files can be opened
    latest = {r.vin: r for r in readings}
    sustainable = max(100, round(rate / 2 / 100) * 100)
    with worker(env, scratch / "worker-latency.log", None):
        await_receipt(producer, consumer, topics.readings, latest)
        latencies = latency_run(producer, consumer, topics.readings, latest, args.rate, args.seconds, "load")
        p50, p99 = _percentile(latencies, 0.5), _percentile(latencies, 0.99)
        print(f"at {args.rate}/s: p50 {p50:.0f} ms, p99 {p99:.0f} ms", file=sys.stderr)
        easy = latency_run(producer, consumer, topics.readings, latest, sustainable, args.seconds, "half")
    consumer.close()
    raw = raw_limit(bootstrap, [topics.registrations, topics.readings], len(readings) + len(registrations),
                    scratch)  # fmt: skip
    AdminClient({"bootstrap.servers": bootstrap}).delete_topics(
        [*topics.all_topics(), *(f"bench-{run_id}-{t}-changelog" for t in
                                 ("vehicles", "plates", "registration-plates"))])  # fmt: skip
    result = {
        "benchmark": "pipeline",
        "command": _command(args),
        "vehicles": len(registrations),
        "readings": len(readings),
        "partitions": args.partitions,
        "batch_max_events": args.batch,
        "batch_within_s": args.within,
        "readings_per_s": round(rate),
        "events_per_s": round(events_rate),
        "goal_readings_per_s": GOALS["readings_per_s"],
        "latency_load_per_s": args.rate,
        "latency_seconds": args.seconds,
        "latency_samples": len(latencies),
        "latency_p50_ms": round(_percentile(latencies, 0.50), 1),
        "latency_p99_ms": round(_percentile(latencies, 0.99), 1),
        "goal_p99_ms": GOALS["p99_ms"],
        "latency_half_load_per_s": sustainable,
        "latency_half_load_p50_ms": round(_percentile(easy, 0.50), 1),
        "latency_half_load_p99_ms": round(_percentile(easy, 0.99), 1),
        "raw_limit_events_per_s": round(raw),
        "ratio_to_raw": round(events_rate / raw, 3) if raw else None,
        "goal_ratio": GOALS["ratio"],
        "state_bytes_mean": round(sum(sizes) / len(sizes)) if sizes else None,
        "state_bytes_p99": _percentile([float(s) for s in sizes], 0.99) if sizes else None,
        "state_vehicles": len(sizes),
        "goal_state_bytes": GOALS["state_bytes"],
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    if profile is not None and profile.exists():
        stats = pstats.Stats(str(profile))
        stats.sort_stats("tottime").print_stats(25)
        result["profile"] = str(profile)
    return result


def _command(args: argparse.Namespace) -> str:
    return "python benchmarks/bench_pipeline.py" + (" --quick" if args.quick else "")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="CI size: checks that it still runs")
    parser.add_argument("--vehicles", type=int, default=None)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000, help="worker batch size (events)")
    parser.add_argument("--within", type=float, default=0.05, help="worker batch wait (s)")
    parser.add_argument("--rate", type=int, default=5000, help="open-loop load for the latency (readings/s)")
    parser.add_argument("--seconds", type=float, default=None, help="duration of the latency load")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--profile", action="store_true", help="run the worker under cProfile")
    parser.add_argument("--no-write", action="store_true", help="do not write the results file")
    args = parser.parse_args()
    args.vehicles = args.vehicles or (400 if args.quick else 20_000)
    args.seconds = args.seconds or (2.0 if args.quick else 20.0)
    settings = Settings.from_env()
    with contextlib.ExitStack() as stack:
        if not settings.kafka_bootstrap_servers:
            stack.enter_context(LocalKafka(settings).lease())
        result = run(args)
    print(json.dumps(result, indent=2))
    if not args.no_write and not args.quick:
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
