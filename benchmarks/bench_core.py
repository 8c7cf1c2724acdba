"""Readings per second through the judgment core (``vehicle.decide``) on one core.

Realistic histories: each vehicle is registered, then read 10 to 20 times over its life (a reading every
1 to 9 months, 5,000 to 30,000 km a year), by a few garages and an inspection body, with the receipts'
checks on (work description, timeliness). A reading is mistyped (a digit too many, two digits swapped)
with probability 0.15 %, so that about 2 % of vehicles have an illogical series, as RDW found in its 2018
clean-up (RDW's reports); R10's Trusted Provider bar (< 0.5 % of a provider's readings) agrees in order.
Readings arrive in time order, like the live stream.
The figure counts readings only; the registrations are decided but not timed.

    .venv/bin/python benchmarks/bench_core.py            # 20,000 vehicles (about 300,000 readings)
    .venv/bin/python benchmarks/bench_core.py --quick    # CI: 500 vehicles, checks it still runs
                                                         # (writes only with --out FILE)

Writes ``benchmarks/results/core.json``.

Every figure is CPU time (``time.process_time``: other load on a shared machine is not counted, though it
still costs cache), the best of several runs. The headline figures run with Python's cyclic garbage
collector as configured by default; the same runs with the collector paused are reported beside them,
because in this benchmark the collector's share is large (the states of every vehicle stay resident and the
whole input is held in memory, so each full collection walks hundreds of thousands of objects). A worker can
recover most of it with ``gc.freeze()`` after start-up and higher ``gc.set_threshold`` values; the core
itself creates no reference cycles.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
from typing import Any

from benchlib import add_common_args, finish

from schemas.records import (
    OdometerReading,
    Origin,
    ProviderKind,
    RegistrationKind,
    VehicleRegistration,
)
from streams.domain import vehicle
from streams.domain.calendar import MS_PER_DAY
from streams.domain.policy import DEFAULT_POLICY
from streams.domain.state import VehicleState
from streams.domain.vehicle import decide

GOAL_PER_S = 200_000
TYPO_RATE = 0.0015
DEFAULT_VEHICLES = 20_000
_VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
_DAY_2012 = 15_340


def _vin(rng: random.Random) -> str:
    return "".join(rng.choice(_VIN_CHARS) for _ in range(17))


def _history(rng: random.Random, serial: int) -> tuple[VehicleRegistration, list[OdometerReading]]:
    vin = _vin(rng)
    first_day = _DAY_2012 + rng.randrange(0, 3 * 365)
    registration = VehicleRegistration(
        event_id=f"reg-{serial}",
        vin=vin,
        kind=RegistrationKind.FIRST_REGISTRATION,
        effective_at=first_day * MS_PER_DAY,
        first_registration_date=first_day,
        imported_used=False,
        make="Volkswagen",
        model="Golf",
        vehicle_category="M1",
        plate=f"1-ABC-{serial % 1000:03d}",
    )
    km_per_day = rng.uniform(5_000, 30_000) / 365
    garages = [f"04{rng.randrange(10**8):08d}" for _ in range(3)]
    day, km = first_day, rng.randrange(5, 50)
    readings = []
    for index in range(rng.randint(10, 20)):
        gap = rng.randint(30, 270)
        day += gap
        km += round(gap * km_per_day * rng.uniform(0.8, 1.2))
        observed = day * MS_PER_DAY + rng.randrange(7, 18) * 3_600_000
        inspection = index % 4 == 3
        value = km
        if rng.random() < TYPO_RATE:  # a typo: a digit too many, or two digits swapped
            text = str(km)
            swapped = int(text[0] + text[2] + text[1] + text[3:]) if len(text) >= 3 else km * 10
            value = km * 10 if rng.random() < 0.5 else swapped
        readings.append(
            OdometerReading(
                event_id=f"{serial}-{index}",
                vin=vin,
                odometer_value=value,
                observed_at=observed,
                submitted_at=observed + rng.randrange(60_000, 3_600_000),
                provider_id="0200000001" if inspection else rng.choice(garages),
                provider_kind=ProviderKind.INSPECTION_BODY if inspection else ProviderKind.GARAGE,
                origin=Origin.INSPECTION if inspection else Origin.WORKSHOP,
                work_description=None if inspection else "periodic service",
            )
        )
    return registration, readings


Fleet = list[tuple[VehicleRegistration, list[OdometerReading]]]


def _timed(fleet: Fleet, stream: list[OdometerReading], collect: bool = True) -> float:
    """CPU seconds to decide ``stream`` against the registered ``fleet`` (states in a dict, as in a table).

    ``collect=False`` pauses the cyclic garbage collector while timing (reference counting still frees).
    """
    states = {reg.vin: decide(VehicleState(reg.vin), reg, DEFAULT_POLICY).state for reg, _ in fleet}
    gc.collect()
    if not collect:
        gc.disable()
    try:
        started = time.process_time()
        for reading in stream:
            states[reading.vin] = decide(
                states[reading.vin], reading, DEFAULT_POLICY, reading.submitted_at
            ).state
        return time.process_time() - started
    finally:
        gc.enable()


def _slow_path(fleet: Fleet) -> tuple[float, float]:
    """(share of readings that ran the trend engine, share of vehicles with an open break at the end), from
    an untimed pass."""
    calls = 0
    real = vehicle.reevaluate  # type: ignore[attr-defined]

    def counting(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        return real(*args)

    states: dict[str, VehicleState] = {}
    vehicle.reevaluate = counting  # type: ignore[attr-defined,assignment]
    try:
        for registration, readings in fleet:
            state = decide(VehicleState(registration.vin), registration).state
            for reading in readings:
                state = decide(state, reading, DEFAULT_POLICY, reading.submitted_at).state
            states[registration.vin] = state
    finally:
        vehicle.reevaluate = real  # type: ignore[attr-defined]
    broken = sum(1 for state in states.values() if any(not a.is_marker for a in state.anomalies))
    return calls / sum(len(readings) for _, readings in fleet), broken / len(fleet)


def _fast_path_per_s(fleet: Fleet, rounds: int) -> float:
    """Appending one consistent reading to a hot 10-20-reading state, over and over: the O(1) path."""
    registration, readings = next((reg, rs) for reg, rs in fleet if all(r.odometer_value < 10**6 for r in rs))
    state = decide(VehicleState(registration.vin), registration).state
    for reading in readings[:-1]:
        state = decide(state, reading).state
    last = readings[-1]
    started = time.process_time()
    for _ in range(rounds):
        decide(state, last, DEFAULT_POLICY, last.submitted_at)
    return rounds / (time.process_time() - started)


def run(vehicles: int, repeats: int = 5, seed: int = 3) -> dict[str, object]:
    """Each figure is the best of ``repeats`` runs in CPU time (per core):

    * ``stream``: every reading of the fleet interleaved by submission time, as on the topic, with every
      state resident in a dict (a cold state per event: the slowest case);
    * ``per_vehicle``: each vehicle's readings in a row, its state hot, as after the agent decoded it;
    * ``fast_path``: one consistent reading appended to a hot realistic state;
    * the ``*_gc_paused`` twins: the same runs with the cyclic garbage collector paused while timing.
    """
    rng = random.Random(seed)
    fleet = [_history(rng, serial) for serial in range(vehicles)]
    by_vehicle = [r for _, readings in fleet for r in readings]
    stream = sorted(by_vehicle, key=lambda r: r.submitted_at)
    count = len(stream)
    slow_share, broken_share = _slow_path(fleet)
    figures: dict[str, float] = {}
    for name, order in (("stream", stream), ("per_vehicle", by_vehicle)):
        for suffix, collect in (("", True), ("_gc_paused", False)):
            figures[name + suffix] = count / min(_timed(fleet, order, collect) for _ in range(repeats))
    rounds = 20_000 if vehicles < 5_000 else 200_000
    figures["fast_path"] = max(_fast_path_per_s(fleet, rounds) for _ in range(repeats))
    return {
        "vehicles": vehicles,
        "readings": count,
        "slow_path_share": round(slow_share, 4),
        "vehicles_with_a_break_share": round(broken_share, 4),
        "stream_readings_per_s": round(figures["stream"]),
        "per_vehicle_readings_per_s": round(figures["per_vehicle"]),
        "fast_path_readings_per_s": round(figures["fast_path"]),
        "stream_gc_paused_readings_per_s": round(figures["stream_gc_paused"]),
        "per_vehicle_gc_paused_readings_per_s": round(figures["per_vehicle_gc_paused"]),
        "goal_readings_per_s": GOAL_PER_S,
        "timing": f"CPU time (process_time), best of {repeats}",
        "repeats": repeats,
    }


def _line(label: str, per_s: object, paused: object = None) -> str:
    assert isinstance(per_s, int)
    text = f"  {label:<28}{per_s:>9,} readings/s  {1e6 / per_s:5.2f} us/reading"
    if isinstance(paused, int):
        text += f"   (GC paused: {paused:>9,}/s, {1e6 / paused:5.2f} us)"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vehicles", type=int, default=DEFAULT_VEHICLES)
    add_common_args(parser)
    args = parser.parse_args(argv)
    vehicles = 500 if args.quick else args.vehicles
    load = os.getloadavg()[0]
    result = run(vehicles, repeats=1 if args.quick else 5)
    print(
        f"judgment core, one core, {result['readings']:,} readings of {vehicles:,} vehicles, "
        f"{result['timing']}, goal {GOAL_PER_S:,}/s:"
    )
    r = result
    for label, key in (("stream order, cold states", "stream"), ("per vehicle, hot state", "per_vehicle")):
        print(_line(label, r[f"{key}_readings_per_s"], r[f"{key}_gc_paused_readings_per_s"]))
    print(_line("fast path alone (hot)", r["fast_path_readings_per_s"]))
    print(
        f"  readings through find_breaks: {r['slow_path_share']:.2%}; "
        f"vehicles with an open break: {r['vehicles_with_a_break_share']:.2%}; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    finish(args, "core", result, load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
