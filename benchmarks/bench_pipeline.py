"""One stream worker on the broker of this machine.

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
                                                              # (writes only with --out FILE)
    .venv/bin/python benchmarks/bench_pipeline.py --profile   # also cProfile the worker (top functions)

Uses ``CARPASS_KAFKA_BOOTSTRAP_SERVERS`` if set, else the local broker (started if needed). Topics get a
unique prefix and are deleted at the end. Writes ``benchmarks/results/pipeline.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import sys
import time
import uuid
from typing import Any

from benchlib import (
    NAMESPACE,
    BenchRun,
    add_common_args,
    bench_run,
    count_receipts,
    finish,
    fleet,
    free_port,
    percentile,
    percentiles,
    produce_all,
    raw_limit,
    register_providers,
    state_sizes,
    wait_for_metric,
    worker,
)
from confluent_kafka import Consumer, Producer

from schemas.codec import decode_dict, encode
from schemas.records import OdometerReading, Origin, ProviderKind
from streams.domain.calendar import MS_PER_DAY

GOALS = {"readings_per_s": 30_000, "p99_ms": 250, "ratio": 0.4, "state_bytes": 600}
CDF_POINTS = [q / 100 for q in range(1, 100)] + [0.995, 0.999]


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
                event_id=str(uuid.uuid5(NAMESPACE, f"{tag}-{index}")), vin=previous.vin,
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


# --- the run -----------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    with bench_run(args.partitions) as bench:
        return _run(args, bench)


def _run(args: argparse.Namespace, bench: BenchRun) -> dict[str, Any]:
    topics, bootstrap, scratch = bench.topics, bench.bootstrap, bench.scratch
    port = free_port()
    env = bench.env(bench.app_id("worker"), scratch / "worker", port,
                    batch_max_events=str(args.batch))  # fmt: skip
    registrations, readings = fleet(args.vehicles, args.seed)
    print(f"{len(registrations):,} vehicles, {len(readings):,} readings; producing ...", file=sys.stderr)
    producer = bench.producer()
    produce_all(producer, topics.registrations, registrations)
    register_providers(producer, topics.providers, readings)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{bench.prefix}receipts",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "fetch.wait.max.ms": 5})  # fmt: skip
    consumer.subscribe([topics.receipts])
    profile = scratch / "worker.prof" if args.profile else None
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
    with worker(env, scratch / "worker-latency.log"):
        await_receipt(producer, consumer, topics.readings, latest)
        latencies = latency_run(producer, consumer, topics.readings, latest, args.rate, args.seconds, "load")
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        print(f"at {args.rate}/s: p50 {p50:.0f} ms, p99 {p99:.0f} ms", file=sys.stderr)
        easy = latency_run(producer, consumer, topics.readings, latest, sustainable, args.seconds, "half")
    consumer.close()
    raw, _ = raw_limit(bootstrap, [topics.registrations, topics.readings],
                       len(readings) + len(registrations), scratch)  # fmt: skip
    result: dict[str, Any] = {
        "vehicles": len(registrations),
        "readings": len(readings),
        "partitions": args.partitions,
        "batch_max_events": args.batch,
        "readings_per_s": round(rate),
        "events_per_s": round(events_rate),
        "goal_readings_per_s": GOALS["readings_per_s"],
        "latency_load_per_s": args.rate,
        "latency_seconds": args.seconds,
        "latency_samples": len(latencies),
        "latency_p50_ms": round(percentile(latencies, 0.50), 1),
        "latency_p99_ms": round(percentile(latencies, 0.99), 1),
        "goal_p99_ms": GOALS["p99_ms"],
        "latency_half_load_per_s": sustainable,
        "latency_half_load_p50_ms": round(percentile(easy, 0.50), 1),
        "latency_half_load_p99_ms": round(percentile(easy, 0.99), 1),
        "latency_cdf_ms": percentiles(latencies, CDF_POINTS),
        "latency_half_load_cdf_ms": percentiles(easy, CDF_POINTS),
        "raw_limit_events_per_s": round(raw),
        "ratio_to_raw": round(events_rate / raw, 3) if raw else None,
        "goal_ratio": GOALS["ratio"],
        "state_bytes_mean": round(sum(sizes) / len(sizes)) if sizes else None,
        "state_bytes_p99": percentile([float(s) for s in sizes], 0.99) if sizes else None,
        "state_vehicles": len(sizes),
        "goal_state_bytes": GOALS["state_bytes"],
    }
    if profile is not None and profile.exists():
        stats = pstats.Stats(str(profile))
        stats.sort_stats("tottime").print_stats(25)
        bench.keep_scratch = True
        result["profile"] = str(profile)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_common_args(parser)
    parser.add_argument("--vehicles", type=int, default=None)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000, help="worker batch size (events)")
    parser.add_argument("--rate", type=int, default=5000, help="open-loop load for the latency (readings/s)")
    parser.add_argument("--seconds", type=float, default=None, help="duration of the latency load")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--profile", action="store_true", help="run the worker under cProfile")
    args = parser.parse_args()
    args.vehicles = args.vehicles or (400 if args.quick else 20_000)
    args.seconds = args.seconds or (2.0 if args.quick else 20.0)
    load = os.getloadavg()[0]
    result = run(args)
    print(json.dumps({k: v for k, v in result.items() if not k.endswith("_cdf_ms")}, indent=2))
    finish(args, "pipeline", result, load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
