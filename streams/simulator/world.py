"""The mutable context of one simulation run: its RNG, providers, output buffer, plate pool, faults and
statistics (``World``), and the state of each simulated vehicle (``Vehicle``).

Everything random comes from the one ``random.Random(seed)`` in ``World.rng``, drawn in a fixed order
(vehicles are advanced in (day, vehicle index) order), so a seed gives the same bytes every time. Outputs go
into a heap keyed by their arrival time; :mod:`streams.simulator.fleet` releases them in that order.
"""

from __future__ import annotations

import heapq
import random
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field

from schemas.records import (
    AccidentInspectionStatus,
    OdometerReading,
    PlateOdometerReading,
    ProviderRegistration,
    RecallStatus,
    VehicleRegistration,
)
from streams.domain.calendar import MS_PER_DAY, date_of, day_of
from streams.simulator.config import FleetConfig
from streams.simulator.makes import Make, TechnicalData, plate_for
from streams.simulator.providers import Provider, ProviderPool
from streams.simulator.truth import Fault


@dataclass(frozen=True, slots=True)
class MalformedRecord:
    """A Kafka message no consumer can decode (Kafka mode only): ``value`` goes to ``topic`` as is."""

    topic: str
    key: str
    value: bytes
    arrival_at: int
    """Epoch ms at which it is sent (its place in the arrival order)."""


SimRecord = (
    OdometerReading
    | PlateOdometerReading
    | VehicleRegistration
    | RecallStatus
    | AccidentInspectionStatus
    | ProviderRegistration
    | MalformedRecord
)
"""What a simulation yields."""


@dataclass(frozen=True, slots=True)
class PendingFault:
    """A wrong-value fault whose visibility waits for the next reading of the same counter."""

    fault: Fault
    typed_km: float
    true_km: float
    day: int
    prev_km: float | None
    prev_day: int | None


@dataclass(slots=True)
class Vehicle:
    """One vehicle's state. ``km`` is the true distance driven; the counter shows ``km - offset_km``
    (an odometer replacement or a rollback changes the offset), in miles for ``miles`` dashboards and modulo
    100,000 for ``five`` (5-digit) counters."""

    index: int
    vin: str
    make: Make
    tech: TechnicalData
    first_day: int
    be_day: int
    imported: bool
    country: str | None
    miles: bool
    five: bool
    connected_from: int | None
    km_per_day: float
    km: float
    km_day: int
    home: Provider
    station: Provider
    seasonal_tyres: bool
    enter_day: int
    plate: str | None = None
    offset_km: float = 0.0
    alive: bool = True
    exit_day: int | None = None
    agenda: list[tuple[int, int, int]] = field(default_factory=list)
    """(day, action, argument), a heap: what happens to the vehicle next."""
    last_read_at: int = 0
    """Observed time (ms) of the latest reading: later readings of the same day come after it."""
    counter_has_reading: bool = False
    counter_max_km: float = 0.0
    """Highest counter value (km) shown by a reading of the current counter: what a rollback hides."""
    last_counter_km: float | None = None
    prev_true_km: float | None = None
    prev_day: int | None = None
    last_connected_value: int | None = None
    rollback: Fault | None = None
    """A rollback waiting for the next reading, which it will blame (rollback_km set, event id empty)."""
    pending: list[PendingFault] = field(default_factory=list)

    def schedule(self, day: int, action: int, argument: int = 0) -> None:
        heapq.heappush(self.agenda, (day, action, argument))

    def advance(self, day: int, rng: random.Random) -> None:
        """Drive until ``day``: a day's distance varies, so each stretch gets lognormal noise."""
        gap = day - self.km_day
        if gap > 0:
            self.km += self.km_per_day * gap * rng.lognormvariate(0.0, 0.15)
            self.km_day = day

    def age_years(self, day: int) -> float:
        return (day - self.first_day) / 365.25

    @property
    def counter_km(self) -> float:
        return self.km - self.offset_km


@dataclass(slots=True)
class Stats:
    """Counts of one run, for the summary and the calibration tests."""

    records: Counter[str] = field(default_factory=Counter)
    readings_by_year: Counter[int] = field(default_factory=Counter)
    connected_by_year: Counter[int] = field(default_factory=Counter)
    vehicle_days_by_year: Counter[int] = field(default_factory=Counter)
    domestic_sales: int = 0
    imports: int = 0
    rollback_km_total: int = 0

    def add_alive(self, first_day: int, last_day: int) -> None:
        """Count the vehicle days ``first_day <= d < last_day`` per calendar year."""
        day = first_day
        while day < last_day:
            year = date_of(day).year
            year_end = (date_of(day).replace(year=year + 1, month=1, day=1) - date_of(0)).days
            upto = min(year_end, last_day)
            self.vehicle_days_by_year[year] += upto - day
            day = upto

    def readings_per_vehicle_year(self, year: int) -> float:
        days = self.vehicle_days_by_year.get(year, 0)
        return self.readings_by_year.get(year, 0) * 365.25 / days if days else 0.0


@dataclass(frozen=True, slots=True)
class FaultRates:
    """The fault probabilities of a run, scaled once (``FleetConfig.fault_p``): the hot path reads these."""

    late: float
    duplicate: float
    conflicting_duplicate: float
    miles_as_km: float
    feed_zero: float
    feed_stale: float
    malformed: float
    rollback_per_domestic_sale: float
    """Per sale of a car over ``FleetConfig.rollback_min_counter_km``."""
    rollback_per_import: float
    replacement_per_year: float
    typo: dict[str, float]
    """Provider id -> its scaled typo rate."""

    @classmethod
    def of(cls, config: FleetConfig, providers: ProviderPool) -> FaultRates:
        p = config.fault_p
        return cls(
            late=p(config.late_rate),
            duplicate=p(config.duplicate_rate),
            conflicting_duplicate=p(config.conflicting_duplicate_rate),
            miles_as_km=p(config.miles_as_km_rate),
            feed_zero=p(config.feed_zero_rate),
            feed_stale=p(config.feed_stale_rate),
            malformed=p(config.malformed_rate),
            rollback_per_domestic_sale=p(
                config.rollback_per_domestic_sale / config.rollback_eligible_sale_share
            ),
            rollback_per_import=p(config.rollback_per_import / config.rollback_eligible_import_share),
            replacement_per_year=p(config.replacement_per_year),
            typo={provider.provider_id: p(provider.typo_rate) for provider in providers.all},
        )


class World:
    """The shared context: configuration, RNG, providers, the output heap, the plate pool, faults, stats."""

    def __init__(
        self, config: FleetConfig, rng: random.Random, providers: ProviderPool, malformed: bool
    ) -> None:
        self.config = config
        self.rates = FaultRates.of(config, providers)
        self.plate_readings_from = day_of(config.plate_readings_from)
        self._years: dict[int, int] = {}
        self.rng = rng
        self.providers = providers
        self.malformed = malformed
        self.outbox: list[tuple[int, int, SimRecord]] = []
        self.faults: list[Fault] = []
        self.stats = Stats()
        self._sequence = 0
        self._plates_issued = 0
        self._released_plates: deque[tuple[int, str]] = deque()

    def new_id(self) -> str:
        """A fresh event id: a version-4 UUID drawn from the simulation's RNG."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def emit(self, arrival_at: int, record: SimRecord) -> None:
        """Queue ``record`` to be yielded at ``arrival_at`` (epoch ms; ties keep emission order)."""
        self._sequence += 1
        heapq.heappush(self.outbox, (arrival_at, self._sequence, record))
        self.stats.records[type(record).__name__] += 1

    def year_of(self, day: int) -> int:
        """The calendar year of ``day`` (cached: asked for every reading)."""
        year = self._years.get(day)
        if year is None:
            year = self._years[day] = date_of(day).year
        return year

    def add_fault(self, fault: Fault) -> None:
        self.faults.append(fault)

    def plate(self, day: int) -> str:
        """A plate for a (re-)registration on ``day``: one its owner released earlier (Belgian plates follow
        the owner) with ``plate_reuse_share``, else a fresh one."""
        pool = self._released_plates
        if pool and pool[0][0] < day and self.rng.random() < self.config.plate_reuse_share:
            return pool.popleft()[1]
        self._plates_issued += 1
        return plate_for(self._plates_issued, day)

    def release_plate(self, plate: str | None, day: int) -> None:
        if plate is not None:
            self._released_plates.append((day, plate))


MS_PER_MINUTE = 60_000


def at(day: int, hour: float) -> int:
    """Epoch ms of ``hour`` (UTC, fractional) on ``day``."""
    return day * MS_PER_DAY + int(hour * 3_600_000)
