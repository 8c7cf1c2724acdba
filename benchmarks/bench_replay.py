"""Replay: a fresh worker rebuilds every state and view from offset 0 of topics already filled; then
``carpass replay`` does it in bulk, in place and as a what-if.

A simulated fleet (``streams.simulator``, real fault rates, malformed messages included) is produced to
the input topics (the event store). Then one ``carpass worker`` **with projections** (certificate and
OK-label views, provider quality) starts with an empty state directory and a new application id (consumer
group, changelogs) and replays everything. It has caught up when its group has committed the end offset of
every input partition, then of the anomalies it wrote and then of the provider events (the counted
readings and anomalies the provider-quality view folds), and no vehicle's views wait any more (a worker
behind computes a vehicle's views once it has caught up: ``CARPASS_VIEWS_DEFER_AFTER_S``): the time from
the process start to that point, and without the start-up (up to its first receipt: imports, group join,
table recovery), gives events/s and readings/s.

Projection to the registry's history (310 million readings, Car-Pass reports): hours for one worker at the
measured per-worker rate, and with 12 partitions and 12 workers, **assuming linear scaling** (each worker
on its own cores and the broker not the bottleneck; this 2-core machine cannot show it: see
``bench_scaling.py``). Faust commits every few seconds, so the end is known to about 3 s.

Then, with the worker caught up, live readings at 500 a second (each vehicle's next reading, sent now) for
20 s: the time from each send to the first certificate view that shows it (#15: within 2 s).

Then, on the same topics, ``carpass replay`` (``streams.worker.replay``: the worker's batch step without
Faust, each VIN's state held decoded and stored once, views once per VIN), twice: **in place** for the live
replay's group once its worker is stopped (states and views written again, receipts and anomalies counted,
not sent: the rebuild after a rule fix or a corrupted view) and **what-if** into another prefix (receipts,
anomalies, states and views all written there: the same output as the live replay). Each is timed from its
own summary (the partitions' loop, without start-up) and by the process's CPU seconds.

    .venv/bin/python benchmarks/bench_replay.py            # 15,000 vehicles (~300,000 events)
    .venv/bin/python benchmarks/bench_replay.py --quick    # CI: 200 vehicles

Writes ``benchmarks/results/replay.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from typing import Any

from benchlib import (
    BenchRun,
    CpuMeter,
    ReceiptTail,
    add_common_args,
    bench_run,
    end_offsets,
    finish,
    free_port,
    group_committed,
    metrics_of,
    percentile,
    produce_simulation,
    worker,
)

from schemas.records import INPUT_TOPICS, VIEW_TOPICS, OdometerReading, PlateOdometerReading
from streams.simulator import simulate

REGISTRY_READINGS = 310_000_000
PARTITIONS_PROJECTED = 12



def projection(readings: int, replay_s: float, worker_cpu_s: float) -> dict[str, Any]:
    """Hours to replay the registry's 310 M readings, from the measured wall-clock rate and from the
    worker's CPU time (the rate it would reach with a core to itself), on one worker and on 12."""
    measured = readings / replay_s
    per_core = readings / worker_cpu_s
    hours = REGISTRY_READINGS / measured / 3600
    hours_core = REGISTRY_READINGS / per_core / 3600
    return {
        "registry_readings": REGISTRY_READINGS,
        "readings_per_s_measured": round(measured),
        "hours_one_worker": round(hours, 1),
        "partitions": PARTITIONS_PROJECTED,
        "hours_with_12_partitions": round(hours / PARTITIONS_PROJECTED, 1),
        "readings_per_cpu_second": round(per_core),
        "hours_one_worker_with_a_core_of_its_own": round(hours_core, 1),
        "hours_with_12_partitions_with_a_core_each": round(hours_core / PARTITIONS_PROJECTED, 1),
        "assumption": "the per-worker rate of this replay's mix (every topic, projections on) holds for the "
                      "whole history, and throughput scales linearly with partitions and workers (12 workers "
                      "with a core each, a broker that keeps up). 'measured' uses the wall-clock rate on "
                      "this shared machine; 'with a core of its own' divides by the worker's CPU seconds "
                      "instead (what it would do if nothing else ran on its core). Commit granularity adds "
                      "up to ~3 s to the measured time.",
    }  # fmt: skip


def _caught_up(bootstrap: str, group: str, ends: dict[tuple[str, int], int]) -> bool:
    committed = group_committed(bootstrap, group, ends)
    return all(committed.get(tp, -1) >= end for tp, end in ends.items() if end > 0)


def _not_caught_up(bench: BenchRun, group: str, ends: dict[tuple[str, int], int], code: int | None) -> str:
    """What was waited for and how far it got, with the end of the worker's log (a CI failure's message)."""
    committed = group_committed(bench.bootstrap, group, ends)
    behind = []
    for (topic, p), end in sorted(ends.items()):
        done = committed.get((topic, p), -1)
        if end > 0 and done < end:
            behind.append(f"{topic}[{p}] {done}/{end}")
    log = bench.scratch / "replay.log"
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log.exists() else ""
    what = f"the replay worker exited with {code}" if code is not None else "timed out"
    return (f"{what} waiting for group {group} to commit the end of every input partition; not there yet "
            f"(committed/end): {', '.join(behind) or 'none'}; the worker's log ({log}) ends with:\n{tail}")


class PendingViewsTail:
    """The worker's ``views-pending`` changelog, read as it grows: which VINs' views still wait."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        from confluent_kafka import Consumer

        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-pending-{os.getpid()}",
                                  "auto.offset.reset": "earliest", "enable.auto.commit": False})  # fmt: skip
        self.consumer.subscribe([topic])
        self.last: dict[bytes, bool] = {}
        self.records = 0

    def waiting(self) -> int:
        """Read what came; how many VINs' views wait (their last changelog record is a mark)."""
        while messages := self.consumer.consume(5_000, timeout=0.5):
            for message in messages:
                if message.error() is None:
                    self.last[message.key()] = message.value() is not None
                    self.records += 1
        return sum(self.last.values())

    def close(self) -> None:
        self.consumer.close()


def view_freshness(
    bench: BenchRun, records: list[Any], rate: int, seconds: float
) -> tuple[list[float], Counter[str]]:
    """Once caught up: send each vehicle's next reading (a month, at most up to now, and 1,200 km after its
    last, by the same provider, sent now), ``rate`` a second for ``seconds``, open loop; the time (ms) from
    each send to the first certificate view that holds the reading. Readings whose view never came are left
    out (the caller compares the counts); with the receipts' statuses of the readings sent (a refused
    reading is in no view)."""
    import uuid

    from confluent_kafka import Consumer, TopicPartition

    from schemas.codec import decode_dict, encode
    from streams.domain.calendar import MS_PER_DAY

    latest: dict[str, OdometerReading] = {}
    for record in records:
        if isinstance(record, OdometerReading) and record.observed_at >= getattr(latest.get(record.vin),
                                                                                 "observed_at", 0):
            latest[record.vin] = record
    vins = sorted(latest)
    consumer = Consumer({"bootstrap.servers": bench.bootstrap, "group.id": f"bench-views-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "fetch.wait.max.ms": 5})  # fmt: skip
    ends = end_offsets(bench.bootstrap, [bench.topics.certificates, bench.topics.receipts])
    consumer.assign([TopicPartition(t, p, offset) for (t, p), offset in ends.items()])
    ours: set[str] = set()
    statuses: Counter[str] = Counter()
    producer = bench.producer()
    sent: dict[str, float] = {}
    latencies: list[float] = []
    total, index = int(rate * seconds), 0
    start = time.time() + 0.2
    until = start + seconds + 30.0
    while time.time() < until and (index < total or sent):  # ``sent``: not yet seen in a view
        now = time.time()
        while index < total and start + index / rate <= now:
            last = latest[vins[index % len(vins)]]
            send_ms = int(time.time() * 1000)
            # a month later, but never in the future (a future reading is refused and shown in no view)
            observed = max(min(last.observed_at + 30 * MS_PER_DAY, send_ms - 60_000), last.observed_at + 1)
            reading = OdometerReading(
                event_id=str(uuid.uuid4()), vin=last.vin, odometer_value=last.odometer_value + 1_200,
                observed_at=observed, submitted_at=send_ms,
                provider_id=last.provider_id, provider_kind=last.provider_kind, origin=last.origin,
                work_description=last.work_description or "service",
            )  # fmt: skip
            latest[reading.vin] = reading
            producer.produce(bench.topics.readings, key=reading.vin.encode(), value=encode(reading))
            sent[reading.event_id] = send_ms / 1000.0
            ours.add(reading.event_id)
            index += 1
        producer.poll(0)
        for message in consumer.consume(1000, 0.005):
            if message.error() is None and message.value() is not None:
                _, view = decode_dict(message.value())
                if message.topic() == bench.topics.receipts:
                    if view["event_id"] in ours:
                        statuses[view["status"]] += 1
                    continue
                arrived = time.time()
                for shown in view["readings"]:
                    started = sent.pop(shown["event_id"], None)
                    if started is not None:
                        latencies.append((arrived - started) * 1000.0)
    producer.flush(10)
    consumer.close()
    return latencies, statuses


def bulk(bench: BenchRun, env: dict[str, str], readings: int, *extra: str) -> dict[str, Any]:
    """One ``carpass replay`` (``extra``: its options) on this run's topics: its summary, CPU and rates."""
    out = bench.scratch / f"bulk-{len(list(bench.scratch.glob('bulk-*')))}.json"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    command = [sys.executable, "-m", "streams.cli", "replay", "--quiet", "--json", str(out), *extra]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"carpass replay {' '.join(extra)} failed ({done.returncode}): "
                         f"{done.stderr[-2000:]}")
    summary = json.loads(out.read_text())
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    seconds = summary["seconds"]
    result = {
        "command": "carpass replay " + " ".join(extra),
        "mode": summary["mode"],
        "seconds": seconds,
        "seconds_with_startup": round(wall, 1),
        "events_per_s": round(summary["events"] / seconds),
        "readings_per_s": round(readings / seconds),
        "process_cpu_seconds": round(cpu, 1),
        "cpu_us_per_event": round(1e6 * cpu / summary["events"], 1),
        "vehicles": summary["vehicles"],
        "receipts": sum(summary["receipts"].values()),
        "receipts_sent": summary["mode"] == "what-if",
        "anomaly_events": sum(summary["anomalies"].values()),
        "hours_for_310m_readings_one_process": round(REGISTRY_READINGS * seconds / readings / 3600, 2),
        "minutes_for_310m_readings_12_processes": round(REGISTRY_READINGS * seconds / readings / 60 / 12, 1),
    }
    print(f"{result['command']}: {result['events_per_s']:,} events/s, {result['readings_per_s']:,} "
          f"readings/s, {result['cpu_us_per_event']} µs CPU an event", file=sys.stderr)  # fmt: skip
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    with bench_run(args.partitions) as bench:
        return _run(args, bench)


def _run(args: argparse.Namespace, bench: BenchRun) -> dict[str, Any]:
    records = list(simulate(args.vehicles, args.seed, malformed=True))
    kinds = Counter(type(r).__name__ for r in records)
    readings = sum(isinstance(r, OdometerReading | PlateOdometerReading) for r in records)
    print(f"{args.vehicles:,} vehicles: {len(records):,} events ({readings:,} readings); producing ...",
          file=sys.stderr)  # fmt: skip
    produce_simulation(bench.producer(), bench.prefix, records)
    inputs = sorted({bench.prefix + name for name in INPUT_TOPICS.values()})
    ends = end_offsets(bench.bootstrap, inputs)
    group = bench.app_id("replay")
    port = free_port()
    env = bench.env(group, bench.scratch / "replay-state", port)
    cpu = CpuMeter()
    tail = ReceiptTail(bench.bootstrap, bench.topics.receipts)
    started = time.monotonic()
    with worker(env, bench.scratch / "replay.log", projections=True) as process:
        cpu.start([process.pid])
        deadline = started + (120 if args.quick else 3600)  # quick: within the quick runs' 170 s, with a say
        while not _caught_up(bench.bootstrap, group, ends):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(_not_caught_up(bench, group, ends, process.poll()))
            tail.count(10**12, timeout_s=0.5, idle_s=0.5)  # notes when the first receipt comes out
        inputs_done = time.monotonic()
        for outputs in ([bench.topics.anomalies], [bench.topics.provider_events]):  # re-keyed, then folded
            outputs_end = end_offsets(bench.bootstrap, outputs)
            while not _caught_up(bench.bootstrap, group, outputs_end) and time.monotonic() < deadline:
                time.sleep(0.5)
        outputs_done = time.monotonic()
        pending = PendingViewsTail(bench.bootstrap, f"{group}-views-pending-changelog")
        while pending.waiting() and time.monotonic() < deadline:  # every view out, not only the receipts
            time.sleep(0.5)
        pending.close()
        done = time.monotonic()
        cpu.stop()
        samples = metrics_of(port)
        fresh_rate, fresh_s = 500, (3.0 if args.quick else 20.0)
        freshness, statuses = view_freshness(bench, records, fresh_rate, fresh_s)
    tail.close()
    up = tail.first  # start-up: from the process start to its first receipt (group joined, tables ready)
    replay_s, total_s = done - up, done - started
    per_worker = readings / replay_s
    hours_one = REGISTRY_READINGS / per_worker / 3600
    print(f"replay: {len(records) / replay_s:,.0f} events/s, {per_worker:,.0f} readings/s; 310 M readings: "
          f"{hours_one:,.1f} h on one worker, {hours_one / PARTITIONS_PROJECTED:,.1f} h on 12 "
          "(at the measured wall-clock rate)",
          file=sys.stderr)  # fmt: skip
    receipts = sum(v for k, v in samples.items() if k.startswith("carpass_receipts_total"))
    views = end_offsets(bench.bootstrap, [bench.prefix + name for name in VIEW_TOPICS])
    replayed = readings + int(fresh_rate * fresh_s)  # the live readings are on the topics too now
    in_place = bulk(bench, env, replayed)
    what_if = bulk(bench, env, replayed, "--to-prefix", bench.prefix + "whatif-")
    return {
        "vehicles": args.vehicles,
        "seed": args.seed,
        "events": len(records),
        "events_by_type": dict(kinds),
        "readings": readings,
        "partitions": args.partitions,
        "projections": True,
        "startup_seconds": round(up - started, 1),
        "inputs_done_seconds": round(inputs_done - up, 1),
        "views_live": {
            "readings_per_s": fresh_rate, "seconds": fresh_s, "sent": int(fresh_rate * fresh_s),
            "seen_in_a_view": len(freshness),
            "receipts_of_those_sent": dict(statuses),
            "p50_ms": round(percentile(freshness, 0.5), 1) if freshness else None,
            "p99_ms": round(percentile(freshness, 0.99), 1) if freshness else None,
            "max_ms": round(max(freshness), 1) if freshness else None,
            "share_within_2_s": round(sum(ms <= 2000 for ms in freshness) / max(1, len(freshness)), 4),
            "goal": "views current within 2 s of the reading at 500 readings/s live (#15)",
        },
        "outputs_done_seconds": round(outputs_done - up, 1),
        "views_waited": len(pending.last),
        "replay_seconds": round(replay_s, 1),
        "total_seconds_with_startup": round(total_s, 1),
        "events_per_s": round(len(records) / replay_s),
        "readings_per_s": round(per_worker),
        "events_per_s_with_startup": round(len(records) / total_s),
        "worker_cpu_seconds": round(cpu.process_seconds.get(process.pid, float("nan")), 1),
        "machine_busy_share": round(cpu.machine_busy_share, 3),
        "receipts": round(receipts),
        "views_published": {name: sum(n for (t, _), n in views.items() if t.endswith(name))
                            for name in VIEW_TOPICS},
        "projection": projection(readings, replay_s, cpu.process_seconds.get(process.pid, float("nan"))),
        "bulk": {
            "in_place": in_place,
            "what_if": what_if,
            "how_projected": "310 million readings at the measured readings/s of one process; 12 processes "
                             "(one per partition, each with a core of its own and a broker that keeps up) "
                             "divide the time by 12: not measurable on this 2-core machine",
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_common_args(parser)
    parser.add_argument("--vehicles", type=int, default=None, help="default 15,000 (--quick: 200)")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    args.vehicles = args.vehicles or (200 if args.quick else 15_000)
    load = os.getloadavg()[0]
    result = run(args)
    finish(args, "replay", result, load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
