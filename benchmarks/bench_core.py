"""Readings per second through the judgment core (``vehicle.decide``) on one core: issue 3 item 6.

Realistic histories: each vehicle is registered, then read 10 to 20 times over its life (a reading every
1 to 9 months, 5,000 to 30,000 km a year), by a few garages and an inspection body, with the receipts'
checks on (work description, timeliness). A reading is mistyped (a digit too many, two digits swapped)
with probability 0.15 %, so that about 2 % of vehicles have an illogical series, as RDW found in its 2018
clean-up (domain.md); R10's Trusted Provider bar (< 0.5 % of a provider's readings) agrees in order.
Readings arrive in time order, like the live stream.
The figure counts readings only; the registrations are decided but not timed.

    .venv/bin/python benchmarks/bench_core.py            # 20,000 vehicles (about 300,000 readings)
    .venv/bin/python benchmarks/bench_core.py --quick    # CI: 500 vehicles, checks it still runs

Writes ``benchmarks/results/core.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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
RESULTS = Path(__file__).resolve().parent / "results" / "core.json"
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


def _command(vehicles: int) -> str:
    extra = "" if vehicles == DEFAULT_VEHICLES else f" --vehicles {vehicles}"
    return f"python benchmarks/bench_core.py{extra}"


Fleet = list[tuple[VehicleRegistration, list[OdometerReading]]]


def _timed(fleet: Fleet, stream: list[OdometerReading]) -> float:
    """CPU seconds to decide ``stream`` against the registered ``fleet`` (states in a dict, as in a table)."""
    states = {reg.vin: decide(VehicleState(reg.vin), reg, DEFAULT_POLICY).state for reg, _ in fleet}
    started = time.process_time()
    for reading in stream:
        states[reading.vin] = decide(states[reading.vin], reading, DEFAULT_POLICY, reading.submitted_at).state
    return time.process_time() - started


def _slow_path_share(fleet: Fleet) -> float:
    """The share of readings that ran the trend engine (untimed pass)."""
    calls = 0
    real = vehicle.reevaluate  # type: ignore[attr-defined]

    def counting(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        return real(*args)

    vehicle.reevaluate = counting  # type: ignore[attr-defined,assignment]
    try:
        _timed(fleet, [r for _, readings in fleet for r in readings])
    finally:
        vehicle.reevaluate = real  # type: ignore[attr-defined]
    return calls / sum(len(readings) for _, readings in fleet)


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


def run(vehicles: int, repeats: int = 3, seed: int = 3) -> dict[str, object]:
    """Three figures, each the best of ``repeats`` runs in CPU time (per core; a shared machine's other load
    does not count, though it still slows caches):

    * ``stream``: every reading of the fleet interleaved by submission time, as on the topic, with every
      state resident in a dict (a cold state per event: the slowest case);
    * ``per_vehicle``: each vehicle's readings in a row, its state hot, as after the agent decoded it;
    * ``fast_path``: one consistent reading appended to a hot realistic state (issue 3 item 6).
    """
    rng = random.Random(seed)
    fleet = [_history(rng, serial) for serial in range(vehicles)]
    by_vehicle = [r for _, readings in fleet for r in readings]
    stream = sorted(by_vehicle, key=lambda r: r.submitted_at)
    count = len(stream)
    stream_s = min(_timed(fleet, stream) for _ in range(repeats))
    per_vehicle_s = min(_timed(fleet, by_vehicle) for _ in range(repeats))
    fast = max(_fast_path_per_s(fleet, 20_000 if vehicles < 5_000 else 200_000) for _ in range(repeats))
    return {
        "benchmark": "core",
        "command": _command(vehicles),
        "vehicles": vehicles,
        "readings": count,
        "slow_path_share": round(_slow_path_share(fleet), 4),
        "stream_readings_per_s": round(count / stream_s),
        "per_vehicle_readings_per_s": round(count / per_vehicle_s),
        "fast_path_readings_per_s": round(fast),
        "goal_readings_per_s": GOAL_PER_S,
        "repeats": repeats,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vehicles", type=int, default=DEFAULT_VEHICLES)
    parser.add_argument("--quick", action="store_true", help="500 vehicles, no results file (CI)")
    args = parser.parse_args(argv)
    vehicles = 500 if args.quick else args.vehicles
    result = run(vehicles, repeats=1 if args.quick else 3)
    print(f"core, one core, {result['readings']:,} readings of {vehicles:,} vehicles, goal {GOAL_PER_S:,}/s:")
    print(f"  stream order, cold states : {result['stream_readings_per_s']:>9,} readings/s")
    print(f"  per vehicle, hot state    : {result['per_vehicle_readings_per_s']:>9,} readings/s")
    print(f"  fast path alone           : {result['fast_path_readings_per_s']:>9,} readings/s")
    print(f"  readings through find_breaks: {result['slow_path_share']:.2%}")
    print(f"reproduce: .venv/bin/{result['command']}")
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
