"""Our Faust worker against a Quix Streams peer and the framework-free loops, on the same events.

The same batch of events (``benchlib.fleet``: registrations, then realistic reading histories) is produced
once to the input topics (same partitions); then, one after the other, each system drains it from offset 0
with a fresh consumer group and empty state:

* **ours**: one ``carpass worker`` (Faust, RocksDB table + changelog, without projections);
* **quix**: ``benchmarks/peers/quix_app.py``, a Quix Streams 3 application running the same judgment core
  (``streams.domain``) with its own RocksDB state per VIN (+ changelog), producing receipts and anomalies;
* **raw_core**: the worker's own batch step (``worker.vehicles``) on a bare confluent-kafka consumer and
  producer with a rocksdict per partition (+ changelog), no framework: what the core costs without one;
* **raw_limit**: consume, Avro decode and a RocksDB put, nothing else: the ceiling of any Python consumer.

Throughput is receipts per second from the first receipt to the last (start-up excluded) for ours and
Quix, the loop's own clock for the raw ones; each system's CPU seconds per 1,000 events are measured too
(less sensitive to other load on a shared machine than the rate). Each system writes to the same output
topics; the receipts and anomalies it wrote are counted, so that doing less work would show.

    make bench-peers                                       # once: the peers' venv (.venv-peers)
    .venv/bin/python benchmarks/bench_peers.py             # 20,000 vehicles (~300,000 readings)
    .venv/bin/python benchmarks/bench_peers.py --quick     # CI: 300 vehicles

Writes ``benchmarks/results/peers.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from benchlib import (
    BenchRun,
    CpuMeter,
    ReceiptTail,
    add_common_args,
    bench_run,
    end_offsets,
    finish,
    fleet,
    free_port,
    peers_python,
    produce_all,
    quix_peer,
    raw_core,
    raw_limit,
    register_providers,
    worker,
)

DOES = {
    "ours": "carpass worker (faust-streaming 0.15 control plane, aiokafka): each fetch handed whole to the "
            "batch steps (no Faust stream), batches of up to 1,000 events, VIN state read and encoded once "
            "per VIN and batch (msgspec; decoded states cached: up to 20,000 vehicles, a hit skips the "
            "decode), RocksDB table + changelog (changelog first), receipts and anomalies via "
            "confluent-kafka, dead letters, Prometheus metrics per batch, plate agents idle; projections off",
    "quix": "Quix Streams 3.28 Application: the 2 input topics concatenated (Quix aligns them by "
            "timestamp), one stateful apply per message (state decoded and encoded per event: Quix's API), "
            "RocksDB state + changelog, receipts and anomalies to their topics by two branches; no dead "
            "letters (bad messages counted and dropped), no metrics, no plates, no projections",
    "raw_core": "no framework: confluent-kafka consumer (batches of 1,000) -> "
                "streams.worker.vehicles.VehicleProcessor (the worker's batch step: decode, judge, "
                "receipts/anomalies produced, state per VIN and batch, the same decoded-state cache) -> "
                "changelog then rocksdict; no offset commits, no group rebalancing, no web server",
    "raw_limit": "no framework, no judgment: confluent-kafka consumer -> fastavro decode -> rocksdict put; "
                 "no outputs, no changelog: the ceiling of a Python consumer of these topics",
}


def _drain(
    label: str, process: Any, tail: ReceiptTail, readings: int, timeout_s: float
) -> tuple[float, float, float]:
    """(readings/s, CPU s of the process from the first receipt to the last, machine busy share)."""
    cpu = CpuMeter()
    cpu.start()
    seen = tail.count(readings, timeout_s, idle_s=30.0, alive=[process],
                      on_first=lambda: cpu.start([process.pid]))  # fmt: skip
    cpu.stop()
    if not seen:
        raise SystemExit(f"{label}: no receipt (exit code {process.poll()}); see its log")
    if seen < readings:  # recorded in the result (receipts), not fatal: a lost event is a finding
        print(f"{label}: only {seen:,} of {readings:,} receipts", file=sys.stderr)
    rate = tail.rate()
    print(f"{label}: {rate:,.0f} readings/s", file=sys.stderr)
    return rate, cpu.process_seconds.get(process.pid, float("nan")), cpu.machine_busy_share


def _anomalies(run: BenchRun) -> int:
    return sum(end_offsets(run.bootstrap, [run.topics.anomalies]).values())


def run(args: argparse.Namespace) -> dict[str, Any]:
    peers_python()  # fail early, before producing anything
    with bench_run(args.partitions) as bench:
        return _run(args, bench)


def _run(args: argparse.Namespace, bench: BenchRun) -> dict[str, Any]:
    topics = bench.topics
    registrations, readings = fleet(args.vehicles, args.seed)
    events = len(registrations) + len(readings)
    print(f"{len(registrations):,} vehicles, {len(readings):,} readings; producing ...", file=sys.stderr)
    producer = bench.producer()
    produce_all(producer, topics.registrations, registrations)
    register_providers(producer, topics.providers, readings)
    produce_all(producer, topics.readings, readings)
    inputs = [topics.registrations, topics.readings]
    systems: dict[str, dict[str, Any]] = {}
    timeout = 3600.0

    def record(name: str, rate: float, cpu_s: float, busy: float, before: int, receipts: int) -> None:
        events_rate = rate * events / len(readings)
        systems[name] = {
            "readings_per_s": round(rate), "events_per_s": round(events_rate),
            "cpu_seconds_per_1k_events": round(1000 * cpu_s / events, 3),
            "machine_busy_share": round(busy, 3), "receipts": receipts,
            "anomalies": _anomalies(bench) - before, "does": DOES[name],
        }  # fmt: skip

    # ours
    before, tail = _anomalies(bench), ReceiptTail(bench.bootstrap, topics.receipts)
    env = bench.env(bench.app_id("faust"), bench.scratch / "faust", free_port())
    with worker(env, bench.scratch / "faust.log") as process:
        rate, cpu_s, busy = _drain("ours (Faust)", process, tail, len(readings), timeout)
    record("ours", rate, cpu_s, busy, before, tail.seen)
    tail.close()
    # Quix Streams
    before, tail = _anomalies(bench), ReceiptTail(bench.bootstrap, topics.receipts)
    with quix_peer(bench, bench.app_id("quix"), bench.scratch / "quix.log", inputs) as process:
        rate, cpu_s, busy = _drain("Quix Streams", process, tail, len(readings), timeout)
    record("quix", rate, cpu_s, busy, before, tail.seen)
    tail.close()
    # the framework-free loops, in this process
    before, tail = _anomalies(bench), ReceiptTail(bench.bootstrap, topics.receipts)
    busy_meter = CpuMeter()
    busy_meter.start()
    core_rate, core_cpu = raw_core(bench, inputs, events)
    busy_meter.stop()
    tail.count(len(readings), 60.0, idle_s=5.0)
    record("raw_core", core_rate * len(readings) / events, core_cpu, busy_meter.machine_busy_share, before,
           tail.seen)  # fmt: skip
    tail.close()
    print(f"raw core: {core_rate:,.0f} events/s", file=sys.stderr)
    busy_meter.start()
    limit_rate, limit_cpu = raw_limit(bench.bootstrap, inputs, events, bench.scratch)
    busy_meter.stop()
    record("raw_limit", limit_rate * len(readings) / events, limit_cpu, busy_meter.machine_busy_share, 0, 0)
    systems["raw_limit"]["anomalies"] = 0
    print(f"raw limit: {limit_rate:,.0f} events/s", file=sys.stderr)
    limit = systems["raw_limit"]["events_per_s"]
    for figures in systems.values():
        figures["ratio_to_raw_limit"] = round(figures["events_per_s"] / limit, 3) if limit else None
    return {
        "vehicles": len(registrations),
        "readings": len(readings),
        "events": events,
        "partitions": args.partitions,
        "order": "one after the other on the same filled topics, each from offset 0 with a new group and "
                 "empty state",
        "systems": systems,
        "quix_vs_ours": round(systems["quix"]["events_per_s"] / systems["ours"]["events_per_s"], 3),
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_common_args(parser)
    parser.add_argument("--vehicles", type=int, default=None, help="default 20,000 (--quick: 300)")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    args.vehicles = args.vehicles or (300 if args.quick else 20_000)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    result = run(args)
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    for name, figures in result["systems"].items():
        print(f"{name:<10} {figures['events_per_s']:>9,} events/s  "
              f"{figures['readings_per_s']:>9,} readings/s  "
              f"{figures['cpu_seconds_per_1k_events']:>6.3f} CPU s/1k events  "
              f"{figures['receipts']:>8,} receipts {figures['anomalies']:>6,} anomalies")  # fmt: skip
    finish(args, "peers", result, load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
