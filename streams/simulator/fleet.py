"""``simulate``: a deterministic Belgian fleet's events in arrival order, and the ground truth of its faults.

::

    simulate(vehicles, seed, years | start/end, fault_rate_multiplier)
      ├─ providers (providers.py) ─────────────────────────► ProviderRegistration …
      ├─ vehicles (makes.py: make, VIN, fuel, plate; ages 2006-2026; imports; 5-digit; miles)
      │    └─ registered before the window ────────────────► VehicleRegistration (effective in the past)
      └─ day by day, vehicle by vehicle (life.py, ownership.py, readings.py)
           └─ records ──► outbox (heap by arrival time) ──► yielded in order of submitted_at /
                                                             effective_at / changed_at
    after the last record: Simulation.truth (GroundTruth), Simulation.stats

Arrival order: a record is yielded once no later action can produce an earlier one (every action on day d
emits records that arrive on day d or later), so the stream is sorted by arrival time with ties in emission
order. Memory is O(vehicles + records in flight), not O(records): a million vehicles stream.

Determinism: one ``random.Random(seed)``, vehicles advanced in (day, index) order, ids drawn from it
(``uuid.UUID(int=rng.getrandbits(128), version=4)``); no clock, no global state. The events are the same in
JSON Lines and Kafka mode: MALFORMED messages are drawn in both and only emitted (and listed in the truth)
when ``malformed=True``.
"""

from __future__ import annotations

import dataclasses
import heapq
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

from schemas.records import ProviderKind, RegistrationKind
from streams.domain.calendar import MS_PER_DAY, date_of, day_of
from streams.simulator import agenda, life, ownership
from streams.simulator.config import FleetConfig
from streams.simulator.makes import MANUFACTURERS, make_vin, pick_make, technical_data
from streams.simulator.providers import build_providers, registrations
from streams.simulator.truth import GroundTruth, sorted_faults
from streams.simulator.world import SimRecord, Stats, Vehicle, World, at

REGISTRY_START = date(2006, 1, 1)
"""Car-Pass has recorded readings since 2006; no window starts earlier."""
DEFAULT_END = date(2026, 7, 1)
DEFAULT_YEARS = 10
_AGE_DECAY = 0.94
"""Fewer old vehicles: a registration year ``k`` years before the end weighs ``0.94 ** k`` (scrapping)."""
_IMPORT_COUNTRIES = (("NL", 0.37), ("DE", 0.32), ("FR", 0.2), ("LU", 0.05), ("IT", 0.03), ("ES", 0.03))
_MILES_COUNTRIES = ("GB", "US")
ProgressCallback = Callable[[int, int, int], None]
"""``progress(days_done, days_total, records_yielded)``."""


class SimulatorError(ValueError):
    """Parameters the simulator cannot run with, or a truth asked for before the run ended."""


@dataclass(frozen=True, slots=True)
class SimulationParams:
    vehicles: int
    seed: int
    start: date
    end: date
    fault_rate_multiplier: float
    malformed: bool


class Simulation:
    """One run: iterate it once for the records in arrival order; then read ``truth`` and ``stats``."""

    def __init__(
        self, params: SimulationParams, config: FleetConfig, progress: ProgressCallback | None
    ) -> None:
        self.params = params
        self.config = config
        self._progress = progress
        self._truth: GroundTruth | None = None
        self._stats: Stats | None = None
        self._started = False

    @property
    def truth(self) -> GroundTruth:
        """Every injected fault; available once the iteration has ended."""
        if self._truth is None:
            raise SimulatorError("the ground truth is known once every record has been read")
        return self._truth

    @property
    def stats(self) -> Stats:
        if self._stats is None:
            raise SimulatorError("the statistics are known once every record has been read")
        return self._stats

    def __iter__(self) -> Iterator[SimRecord]:
        if self._started:
            raise SimulatorError("a Simulation can be iterated once; call simulate() again")
        self._started = True
        return self._run()

    def _run(self) -> Iterator[SimRecord]:
        p = self.params
        rng = random.Random(p.seed)
        world = World(self.config, rng, build_providers(p.vehicles, self.config, rng), p.malformed)
        start_day, end_day = day_of(p.start), day_of(p.end)
        for record in registrations(world.providers, at(day_of(REGISTRY_START) - 1, 0.0), world.new_id):
            world.emit(record.changed_at, record)
        feeds = agenda.feed_start_days(world, MANUFACTURERS)
        fleet = [_new_vehicle(world, index, start_day, end_day, feeds) for index in range(p.vehicles)]
        due = [(v.agenda[0][0], v.index) for v in fleet if v.agenda and v.agenda[0][0] < end_day]
        heapq.heapify(due)
        outbox = world.outbox
        yielded = 0
        report_day = start_day
        while due:
            day, index = heapq.heappop(due)
            limit = day * MS_PER_DAY
            while outbox and outbox[0][0] < limit:
                yield heapq.heappop(outbox)[2]
                yielded += 1
            vehicle = fleet[index]
            life.run_day(world, vehicle, day)
            if vehicle.alive and vehicle.agenda and vehicle.agenda[0][0] < end_day:
                heapq.heappush(due, (vehicle.agenda[0][0], index))
            if self._progress is not None and day >= report_day + 30:
                report_day = day
                self._progress(day - start_day, end_day - start_day, yielded)
        for vehicle in fleet:
            life.finish(world, vehicle, end_day)
        while outbox:
            yield heapq.heappop(outbox)[2]
            yielded += 1
        if self._progress is not None:
            self._progress(end_day - start_day, end_day - start_day, yielded)
        faults = world.faults
        self._truth = GroundTruth(
            p.seed, p.vehicles, p.start, p.end, p.fault_rate_multiplier, p.malformed, sorted_faults(faults)
        )
        self._stats = world.stats


def simulate(
    vehicles: int,
    seed: int,
    *,
    years: int = DEFAULT_YEARS,
    start: date | None = None,
    end: date = DEFAULT_END,
    fault_rate_multiplier: float = 1.0,
    malformed: bool = False,
    config: FleetConfig | None = None,
    progress: ProgressCallback | None = None,
) -> Simulation:
    """A simulation of ``vehicles`` vehicles over ``[start, end)`` (default: the ``years`` before ``end``).

    Iterate the result once for the records (``SimRecord``) in arrival order; ``.truth`` then holds every
    injected fault and ``.stats`` the counts. Same arguments, same records and truth, byte for byte.
    ``malformed=True`` (Kafka mode) adds undecodable ``MalformedRecord`` messages and lists them in the truth.
    Raises ``SimulatorError`` for a window outside 2006-01-01 .. 2100, an empty window, or no vehicles.
    """
    if vehicles < 1:
        raise SimulatorError(f"at least one vehicle is needed, not {vehicles}")
    if fault_rate_multiplier < 0:
        raise SimulatorError(f"the fault-rate multiplier cannot be negative ({fault_rate_multiplier})")
    if start is None:
        start = date(end.year - years, end.month, min(end.day, 28) if end.month == 2 else end.day)
    if start < REGISTRY_START:
        raise SimulatorError(f"the window starts {start}, before the registry ({REGISTRY_START})")
    if end <= start or end.year > 2100:
        raise SimulatorError(f"the window {start} .. {end} is empty or too far in the future")
    config = dataclasses.replace(config or FleetConfig(), fault_rate_multiplier=fault_rate_multiplier)
    params = SimulationParams(vehicles, seed, start, end, fault_rate_multiplier, malformed)
    return Simulation(params, config, progress)


def _registration_day(rng: random.Random, end_day: int) -> int:
    """A Belgian first-registration day in [2006-01-01, end): recent years weigh more (older cars were
    scrapped)."""
    first = day_of(REGISTRY_START)
    while True:
        day = rng.randrange(first, end_day)
        if rng.random() < _AGE_DECAY ** ((end_day - day) / 365.25):
            return day


def _new_vehicle(world: World, index: int, start_day: int, end_day: int, feeds: dict[str, int]) -> Vehicle:
    """Vehicle ``index`` with its facts and agenda; one registered before the window gets its registration
    emitted now (it arrives first: its time is before the window)."""
    rng, config, providers = world.rng, world.config, world.providers
    be_day = _registration_day(rng, end_day)
    make = pick_make(rng)
    van = rng.random() < config.van_share
    imported = rng.random() < config.import_share
    country: str | None = None
    miles = False
    first_day = be_day
    if imported:
        first_day = be_day - rng.randint(365, 8 * 365)
        miles = rng.random() < config.trait_share(config.miles_share_of_imports)
        if miles:
            country = rng.choice(_MILES_COUNTRIES)
        else:
            names, weights = zip(*_IMPORT_COUNTRIES, strict=True)
            country = rng.choices(names, weights=weights)[0]
    five = (
        not miles
        and first_day < day_of(date(2010, 1, 1))
        and rng.random() < config.trait_share(config.five_digit_share_before_2010)
    )
    tech = technical_data(make, van, first_day, rng)
    vin = make_vin(make, date_of(first_day).year, index, rng)
    if rng.random() < (0.2 if tech.vehicle_category == "N1" else config.high_mileage_share / 2):
        km_per_year = rng.uniform(40_000, 60_000)
    else:
        km_per_year = rng.lognormvariate(0.0, config.sigma_km_per_year) * config.median_km_per_year
    year = date_of(first_day).year
    capable = (
        config.connected_share_2020 if year >= 2020 else config.connected_share_2017 if year >= 2017 else 0
    )
    connected_from = max(first_day, feeds[make.manufacturer]) if rng.random() < capable else None
    enter_day = max(start_day, be_day)
    if be_day < start_day or imported:
        km = km_per_year / 365.25 * (enter_day - first_day) * rng.uniform(0.8, 1.2)
    else:
        km = rng.uniform(5.0, 60.0)
    lifetime_end = first_day + int(
        (config.lifetime_min_years + rng.expovariate(1 / config.lifetime_mean_extra_years)) * 365.25
    )
    if lifetime_end <= enter_day + 30:  # memoryless beyond the minimum: an old car's remaining life
        lifetime_end = enter_day + 30 + int(rng.expovariate(1 / config.lifetime_mean_extra_years) * 365.25)
    vehicle = Vehicle(
        index=index,
        vin=vin,
        make=make,
        tech=tech,
        first_day=first_day,
        be_day=be_day,
        imported=imported,
        country=country,
        miles=miles,
        five=five,
        connected_from=connected_from,
        km_per_day=km_per_year / 365.25,
        km=km,
        km_day=enter_day,
        home=providers.pick(ProviderKind.GARAGE, rng),
        station=providers.pick(ProviderKind.INSPECTION_BODY, rng),
        seasonal_tyres=rng.random() < config.seasonal_tyre_share,
        enter_day=enter_day,
    )
    if be_day < start_day:
        vehicle.plate = world.plate(be_day)
        effective_at = at(be_day, 8.0)
        world.emit(
            effective_at,
            ownership.registration(
                vehicle, RegistrationKind.FIRST_REGISTRATION, effective_at, world.new_id()
            ),
        )
    else:
        vehicle.schedule(be_day, agenda.IMPORT if imported else agenda.ENTER_NEW)
    life.schedule_start(world, vehicle, enter_day, lifetime_end)
    return vehicle
