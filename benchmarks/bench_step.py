"""Where each microsecond of an event goes in the vehicle agent's batch step, without Kafka.

The batch step of ``carpass worker`` (``streams.worker.vehicles.VehicleProcessor.process``) over the fleet of
``bench_peers`` (``benchlib.fleet``: a registration, then 10 to 20 readings per vehicle over years), in
batches of 1,000 in the order produced, on an in-memory store and sink (no I/O at all), with the codec the
worker builds without a schema registry (Avro single-object encoding). Two runs:

* **warm**: the decoded-state cache of the worker (``CARPASS_STATE_CACHE_VEHICLES``, 20,000): most VINs
  are found decoded, as in a replay or a benchmark that reads a vehicle's history in a burst;
* **cold**: no cache, every VIN decoded from its stored bytes: the norm for live national traffic, where a
  VIN is read a few times a year.

Each run gives the CPU time per event (``time.process_time``, best of ``--repeat``) and a breakdown from
one more run with every part timed by a wrapper (the wrappers' own cost is shown as such): Avro decode of
the inputs, the field bounds, reading the decoded-state cache, decoding stored states, the judgment,
encoding states, Avro encode of the outputs, metrics, and the rest (grouping by VIN, the in-memory store and
sink, the step's own loop). The rest of the worker (Kafka, RocksDB, the framework) is what ``bench_peers``
adds around it.

    .venv/bin/python benchmarks/bench_step.py             # 8,000 vehicles (~120,000 readings)
    .venv/bin/python benchmarks/bench_step.py --quick     # CI: 200 vehicles (writes only with --out)

Writes ``benchmarks/results/step.json``.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from typing import Any

from benchlib import add_common_args, finish, fleet
from prometheus_client import CollectorRegistry

from schemas.catalog import key_of
from schemas.codec import Codec, encode
from streams.kafka.topics import PipelineTopics
from streams.state.cache import StateCache
from streams.worker import vehicles
from streams.worker.batch import MemorySink, MemoryStore, RawMessage
from streams.worker.metrics import WorkerMetrics
from streams.worker.vehicles import VehicleProcessor

PARTS = ("input decode", "field bounds", "state cache", "state decode", "judgment", "state encode",
         "output encode", "metrics")  # fmt: skip


def messages(vehicles_n: int, seed: int, partitions: int, topics: PipelineTopics) -> list[RawMessage]:
    """The fleet's registrations then readings, as the worker would consume them (single-object Avro)."""
    registrations, readings = fleet(vehicles_n, seed)
    out: list[RawMessage] = []
    offsets = [0] * partitions
    for topic, records in ((topics.registrations, registrations), (topics.readings, readings)):
        for record in records:
            key = key_of(record).encode()
            partition = zlib.crc32(key) % partitions
            timestamp = getattr(record, "submitted_at", None) or getattr(record, "effective_at", 0)
            out.append(RawMessage(topic, partition, offsets[partition], key, encode(record), timestamp))
            offsets[partition] += 1
    return out


def processor(topics: PipelineTopics, cache: int) -> VehicleProcessor:
    return VehicleProcessor(codec=Codec(None), topics=topics, store=MemoryStore(), sink=MemorySink(),
                            metrics=WorkerMetrics.create(CollectorRegistry()), cache=StateCache(cache),
                            clock=lambda: 1.9e9)  # fmt: skip


def run_once(batch: Sequence[RawMessage], topics: PipelineTopics, cache: int, size: int) -> float:
    """CPU seconds of the step over ``batch`` in batches of ``size``, on a fresh processor."""
    step = processor(topics, cache)
    started = time.process_time()
    for start in range(0, len(batch), size):
        step.process(batch[start : start + size])
        step.outputs.sink.sent.clear()  # type: ignore[attr-defined]
    return time.process_time() - started


class Timed:
    """Wrappers that add each call's time to a part; installed for one run, then removed."""

    def __init__(self) -> None:
        self.spent = dict.fromkeys(PARTS, 0.0)
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, name: str, part: str) -> None:
        original = getattr(owner, name)
        spent, clock = self.spent, time.perf_counter

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                return original(*args, **kwargs)
            finally:
                spent[part] += clock() - started

        setattr(owner, name, timed)
        had = name in vars(owner) if hasattr(owner, "__dict__") else True
        self._undo.append(lambda: setattr(owner, name, original) if had else delattr(owner, name))

    def undo(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()


def breakdown(batch: Sequence[RawMessage], topics: PipelineTopics, cache: int, size: int) -> dict[str, float]:
    """Seconds per part of one run with every part timed (and the total of that run)."""
    step = processor(topics, cache)
    timed = Timed()
    timed.wrap(step.codec, "decode", "input decode")
    timed.wrap(step.codec, "encode", "output encode")
    timed.wrap(vehicles, "too_long", "field bounds")
    timed.wrap(step.cache, "get", "state cache")
    timed.wrap(step.cache, "put", "state cache")
    timed.wrap(vehicles, "decode_state", "state decode")
    timed.wrap(vehicles, "decide", "judgment")
    timed.wrap(vehicles, "encode_state", "state encode")
    timed.wrap(step.outputs, "count", "metrics")
    for histogram in (step.metrics.end_to_end_latency, step.metrics.state_bytes, step.metrics.batch_size,
                      step.metrics.batch_duration):  # fmt: skip
        timed.wrap(histogram, "observe", "metrics")
    try:
        started = time.perf_counter()  # the parts' clock: on a quiet machine, CPU time
        for start in range(0, len(batch), size):
            step.process(batch[start : start + size])
            step.outputs.sink.sent.clear()  # type: ignore[attr-defined]
        total = time.perf_counter() - started
    finally:
        timed.undo()
    return {**timed.spent, "total": total}


def measure(batch: Sequence[RawMessage], topics: PipelineTopics, cache: int, size: int, repeat: int
            ) -> dict[str, Any]:  # fmt: skip
    events = len(batch)
    best = min(run_once(batch, topics, cache, size) for _ in range(repeat))
    parts = breakdown(batch, topics, cache, size)
    per_event = {part: round(1e6 * parts[part] / events, 2) for part in PARTS}
    timed_total = 1e6 * parts["total"] / events
    plain = 1e6 * best / events
    per_event["rest"] = round(max(0.0, timed_total - sum(per_event.values())), 2)
    return {
        "cpu_us_per_event": round(plain, 2),
        "events_per_s_one_core": round(events / best),
        "parts_us_per_event": per_event,
        "timed_run_us_per_event": round(timed_total, 2),
        "wrappers_us_per_event": round(max(0.0, timed_total - plain), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_common_args(parser)
    parser.add_argument("--vehicles", type=int, default=None, help="default 8,000 (--quick: 200)")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000, help="events per batch (the worker's default)")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs, best kept (default 3; quick 1)")
    args = parser.parse_args()
    args.vehicles = args.vehicles or (200 if args.quick else 8_000)
    repeat = args.repeat or (1 if args.quick else 3)
    load = os.getloadavg()[0]
    topics = PipelineTopics("")
    batch = messages(args.vehicles, args.seed, 4, topics)
    print(f"{args.vehicles:,} vehicles, {len(batch):,} events; timing the step ...", file=sys.stderr)
    gc.collect()
    result: dict[str, Any] = {"vehicles": args.vehicles, "events": len(batch), "batch": args.batch}
    for name, cache in (("warm", 20_000), ("cold", 0)):
        figures = result[name] = measure(batch, topics, cache, args.batch, repeat)
        parts = ", ".join(f"{part} {us:.1f}" for part, us in figures["parts_us_per_event"].items())
        print(f"{name}: {figures['cpu_us_per_event']:.1f} µs/event "
              f"({figures['events_per_s_one_core']:,}/s on one core): {parts}", file=sys.stderr)  # fmt: skip
    finish(args, "step", result, load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
