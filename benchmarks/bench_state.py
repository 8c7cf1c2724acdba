"""The stored vehicle state: microseconds to encode and decode one state, and bytes per vehicle, version 3
(msgspec, ``streams.state.codec``) against version 2 (the hand-written codec it replaced), on one core.

The states are folded by the judgment core (``vehicle.decide``) from two fleets:

* ``benchmark``: the fleet of ``bench_pipeline.py`` and its 600-byte state goal (``benchlib.fleet``): a
  registration, then 10 to 20 readings by three garages and an inspection body, millisecond times, 0.15 %
  typos;
* ``simulator``: the Belgian fleet of ``streams.simulator`` over 10 years (every kind of provider, plates
  resolved, recalls, imports, faults at their real rates): more readings a vehicle (up to about 55).

Version 2 is the writer frozen in ``tests/unit/streams/state/legacy_writer.py`` and the legacy reader that
still decodes such bytes. Each figure is CPU time (``time.process_time``) per state, the best of five passes
over the fleet's states, for all of them and for those with 10 to 20 readings; every state is checked to
round-trip in both versions first.

    .venv/bin/python benchmarks/bench_state.py            # 2,000 vehicles a fleet
    .venv/bin/python benchmarks/bench_state.py --quick    # CI: 100 vehicles (writes only with --out FILE)

Writes ``benchmarks/results/state.json``.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ (the frozen version-2 writer)

import msgspec
from benchlib import add_common_args, finish, fleet, percentile

from schemas.records import ProviderRegistration
from streams.domain.offline import event_time
from streams.domain.state import VehicleState
from streams.domain.vehicle import VehicleEvent, decide
from streams.simulator import MalformedRecord, simulate
from streams.simulator.plates import resolve_plates
from streams.state.codec import decode_state, encode_state
from tests.unit.streams.state.legacy_writer import encode_v2

BUDGET_BYTES = 600
REPEATS = 5


def _fold(events: Sequence[VehicleEvent]) -> list[VehicleState]:
    states: dict[str, VehicleState] = {}
    for event in events:
        state = states.get(event.vin) or VehicleState(event.vin)
        states[event.vin] = decide(state, event, processed_at=event_time(event)).state
    return list(states.values())


def benchmark_fleet(vehicles: int, seed: int) -> list[VehicleState]:
    registrations, readings = fleet(vehicles, seed)
    return _fold([*registrations, *readings])


def simulator_fleet(vehicles: int, seed: int) -> list[VehicleState]:
    skipped = MalformedRecord | ProviderRegistration  # not VIN-keyed
    return _fold(list(resolve_plates(r for r in simulate(vehicles, seed) if not isinstance(r, skipped))))


def _best_us(fn: Callable[[Any], object], items: Sequence[Any]) -> float:
    """CPU microseconds per item, the best of :data:`REPEATS` passes."""
    best = float("inf")
    for _ in range(REPEATS):
        gc.collect()
        start = time.process_time()
        for item in items:
            fn(item)
        best = min(best, time.process_time() - start)
    return round(best / len(items) * 1e6, 2)


def _sizes(values: Sequence[bytes]) -> dict[str, float]:
    sizes = [float(len(v)) for v in values]
    return {"mean": round(statistics.mean(sizes), 1), "p50": percentile(sizes, 0.5),
            "p99": percentile(sizes, 0.99), "max": max(sizes)}  # fmt: skip


def _timings(states: Sequence[VehicleState]) -> dict[str, Any]:
    old = [(s.vin, encode_v2(s)) for s in states]
    new = [(s.vin, encode_state(s)) for s in states]
    return {
        "states": len(states),
        "encode_us": {"v2": _best_us(encode_v2, states), "v3": _best_us(encode_state, states)},
        "decode_us": {"v2": _best_us(lambda kv: decode_state(*kv), old),
                      "v3": _best_us(lambda kv: decode_state(*kv), new)},
    }  # fmt: skip


def without_work(state: VehicleState) -> VehicleState:
    """``state`` without its work descriptions (version 2 does not keep them; nor did version 3 before R1's
    maintenance book)."""
    def bare(readings: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(replace(r, work_description=None) if r.work_description else r for r in readings)

    return replace(state, readings=bare(state.readings), rejected=bare(state.rejected))


def as_v2_keeps(state: VehicleState) -> VehicleState:
    """What version 2 keeps of ``state``: no work descriptions, no ``restart`` on an anomaly (both later)."""
    anomalies = tuple(replace(a, restart=False) if a.restart else a for a in state.anomalies)
    return replace(without_work(state), anomalies=anomalies)


def measure(states: list[VehicleState]) -> dict[str, Any]:
    """Sizes and timings of one fleet's states, after checking that each round-trips in both versions
    (version 2 without what it cannot keep: ``as_v2_keeps``)."""
    old = [encode_v2(s) for s in states]
    new = [encode_state(s) for s in states]
    for state, v2, v3 in zip(states, old, new, strict=True):
        assert v2[0] in (1, 2) and v3[0] == 3, (v2[0], v3[0])
        assert decode_state(state.vin, v2) == as_v2_keeps(state), state.vin
        assert decode_state(state.vin, v3) == state, state.vin
    bare = [encode_state(without_work(s)) for s in states]
    typical = [s for s in states if 10 <= len(s.readings) <= 20]
    return {
        "vehicles": len(states),
        "readings_mean": round(statistics.mean(len(s.readings) for s in states), 1),
        "readings_max": max(len(s.readings) for s in states),
        "bytes": {"v2": _sizes(old), "v3": _sizes(new), "v3_without_maintenance_book": _sizes(bare)},
        "all": _timings(states),
        "10_to_20_readings": _timings(typical) if typical else None,
    }


def _print(name: str, result: dict[str, Any]) -> None:
    print(f"{name}: {result['vehicles']:,} vehicles, {result['readings_mean']} readings a vehicle "
          f"(max {result['readings_max']})")  # fmt: skip
    v2, v3 = result["bytes"]["v2"], result["bytes"]["v3"]
    print(f"  bytes a vehicle    v2 {v2['mean']:>7}  v3 {v3['mean']:>7}  "
          f"(p99 {v2['p99']:.0f} / {v3['p99']:.0f}; budget {BUDGET_BYTES} on average)")  # fmt: skip
    for subset in ("all", "10_to_20_readings"):
        t = result[subset]
        if t is None:
            continue
        for what in ("encode_us", "decode_us"):
            old, new = t[what]["v2"], t[what]["v3"]
            print(f"  {subset:<17} {what:<9} v2 {old:>7.2f}  v3 {new:>7.2f}  x{old / new:.2f} "
                  f"({t['states']} states)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=2_000, help="vehicles a fleet")
    add_common_args(parser)
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    vehicles = 100 if args.quick else args.vehicles
    fleets = {"benchmark": benchmark_fleet(vehicles, 7), "simulator": simulator_fleet(vehicles, 7)}
    results = {name: measure(states) for name, states in fleets.items()}
    for name, result in results.items():
        _print(name, result)
    result = {"budget_bytes": BUDGET_BYTES, "msgspec": msgspec.__version__, "fleets": results}
    finish(args, "state", result, load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
