"""Scaling: throughput with 1, 2 and 4 partitions and as many workers, on this machine.

For each N in ``--workers`` (default 1 2 4): the input topics get N partitions, the same batch of events
(``benchlib.fleet``) is produced to them first, then N ``carpass worker`` processes (one consumer group,
projections off) start together and drain it. The rate counts receipts per second once the group is
stable with N members (the time before, when the first workers hold every partition and rebalance as the
others join, is left out); if the group settles too late, from the first receipt to the last.

What limits it is measured, not guessed: the share of the machine's CPUs busy during the measured window
(``/proc/stat``, every process: workers, the broker, this benchmark's consumer, other users) and the CPU
seconds the workers used. On a machine with C cores, N workers cannot go faster than C busy cores allow.

    .venv/bin/python benchmarks/bench_scaling.py                 # 10,000 vehicles (~150,000 readings)
    .venv/bin/python benchmarks/bench_scaling.py --quick         # CI: 150 vehicles, 1 and 2 workers

Writes ``benchmarks/results/scaling.json``.
"""

from __future__ import annotations

import argparse
import contextlib
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
    broker,
    finish,
    fleet,
    free_port,
    group_members,
    produce_all,
    register_providers,
    worker,
)

from streams.settings import Settings

IDLE_S = 30.0
"""No new receipt for this long: the run is over (a lost event must not hang the benchmark)."""


def one(settings: Settings, workers: int, vehicles: int, seed: int) -> dict[str, Any]:
    with bench_run(workers, settings) as bench:
        return _one(bench, workers, vehicles, seed)


def _one(bench: BenchRun, workers: int, vehicles: int, seed: int) -> dict[str, Any]:
    registrations, readings = fleet(vehicles, seed)
    producer = bench.producer()
    produce_all(producer, bench.topics.registrations, registrations)
    register_providers(producer, bench.topics.providers, readings)
    produce_all(producer, bench.topics.readings, readings)
    group = bench.app_id(f"scale{workers}")
    tail = ReceiptTail(bench.bootstrap, bench.topics.receipts)
    window = CpuMeter()
    with contextlib.ExitStack() as stack:
        processes = []
        for i in range(workers):
            env = bench.env(group, bench.scratch / f"w{i}", free_port())
            processes.append(stack.enter_context(worker(env, bench.scratch / f"w{i}.log")))
        total = CpuMeter()  # from the first receipt
        total.start()
        stable_at, seen_at_stable = 0.0, 0
        deadline = time.monotonic() + 3600
        while tail.seen < len(readings) and time.monotonic() < deadline:
            before = tail.seen
            tail.count(len(readings), timeout_s=1.0, idle_s=600, alive=processes,
                       on_first=lambda: total.start([p.pid for p in processes]))
            if tail.seen > before:  # the meters end at the last receipt (within a second), not after it
                total.stop()
                if stable_at:
                    window.stop()
            if tail.seen and time.monotonic() - tail.last > IDLE_S:
                break  # receipts stopped short: counted as missing below, not waited for
            if any(p.poll() is not None for p in processes):
                raise SystemExit(f"a worker stopped; see {bench.scratch}")
            if not stable_at:
                state, members = group_members(bench.bootstrap, group)
                if state.upper() == "STABLE" and members == workers:
                    stable_at, seen_at_stable = time.monotonic(), tail.seen
                    window.start([p.pid for p in processes])
    tail.close()
    measured_from_stable = bool(stable_at) and seen_at_stable < 0.7 * len(readings) and tail.last > stable_at
    if measured_from_stable:
        rate = (tail.seen - seen_at_stable) / (tail.last - stable_at)
        meter = window
    else:
        rate, meter = tail.rate(), total
    worker_cpu = sum(meter.process_seconds.values())
    span = (tail.last - stable_at) if measured_from_stable else (tail.last - tail.first)
    print(f"{workers} worker(s): {rate:,.0f} readings/s, machine CPU busy {meter.machine_busy_share:.0%}",
          file=sys.stderr)  # fmt: skip
    return {
        "workers": workers,
        "partitions": workers,
        "readings": len(readings),
        "events": len(readings) + len(registrations),
        "readings_per_s": round(rate),
        "receipts": tail.seen,
        "receipts_missing": len(readings) - tail.seen,
        "measured_from": "group stable" if measured_from_stable else "first receipt",
        "receipts_before_stable": seen_at_stable,
        "machine_busy_share": round(meter.machine_busy_share, 3),
        "workers_cpu_seconds": round(worker_cpu, 1),
        "workers_cores_used": round(worker_cpu / span, 2) if span > 0 else None,
        "readings_per_worker_cpu_second": efficiency(len(readings), seen_at_stable if measured_from_stable
                                                     else 0, worker_cpu),
    }


def efficiency(readings: int, before_window: int, worker_cpu_s: float) -> int | None:
    """Readings decided per CPU second of the workers over the measured window (load-independent-ish)."""
    return round((readings - before_window) / worker_cpu_s) if worker_cpu_s > 0 else None


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_common_args(parser)
    parser.add_argument("--vehicles", type=int, default=None, help="default 10,000 (--quick: 150)")
    parser.add_argument("--workers", type=int, nargs="+", default=None, help="default 1 2 4 (--quick: 1 2)")
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    vehicles = args.vehicles or (150 if args.quick else 10_000)
    counts = args.workers or ([1, 2] if args.quick else [1, 2, 4])
    load = os.getloadavg()[0]
    with broker() as settings:
        runs = [one(settings, n, vehicles, args.seed) for n in counts]
    base = runs[0]["readings_per_s"]
    for entry in runs:
        entry["speedup"] = round(entry["readings_per_s"] / base, 2) if base else None
    cpus = os.cpu_count() or 1
    busiest = max(r["machine_busy_share"] for r in runs)
    result = {
        "vehicles": vehicles,
        "runs": runs,
        "limit": (
            f"CPU: this machine has {cpus} cores, shared by the workers, the Kafka broker (JVM), this "
            f"benchmark's consumer and any other job; the CPUs were up to {busiest:.0%} busy during the "
            f"measured windows and the workers together got "
            f"{', '.join(str(r['workers_cores_used']) for r in runs)} cores with "
            f"{', '.join(str(r['workers']) for r in runs)} workers. More workers than free cores only share "
            f"the same cores, and each adds its own per-process work (polling, commits, timers, smaller "
            f"batches per partition): readings per worker CPU second "
            f"{', '.join(str(r['readings_per_worker_cpu_second']) for r in runs)}. Workers scale across "
            f"machines (or cores that are free), not on {cpus} busy cores."
        ),
    }
    for entry in runs:
        print(f"{entry['workers']} worker(s): {entry['readings_per_s']:>7,} readings/s  x{entry['speedup']}  "
              f"CPU busy {entry['machine_busy_share']:.0%}  workers used {entry['workers_cores_used']} cores")
    finish(args, "scaling", result, load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
