"""When things happen to a vehicle: the actions of its agenda and the intervals between them.

Intervals are drawn from the vehicle's own km rate and ``FleetConfig``; every function returns a day (days
since 1970-01-01) strictly after the one it is given, so an agenda never runs backwards.
"""

from __future__ import annotations

import random
from datetime import date

from streams.domain.calendar import date_of, day_of
from streams.simulator.world import Vehicle, World

(
    ENTER_NEW,
    IMPORT,
    SCRAP,
    ACCIDENT_PASS,
    ACCIDENT,
    ACCIDENT_REPAIR,
    REPLACEMENT,
    SERVICE,
    REPAIR,
    BODY,
    TYRES,
    INSPECTION,
    CONNECTED,
    RECALL,
    RECALL_CLOSE,
    PLATE_CHANGE,
    SALE,
) = range(17)
"""Actions, in the order they happen on one day."""

YEAR = 365.25
_CONNECTED_FEEDS_FROM = day_of(date(2020, 6, 1))
_CONNECTED_FEEDS_UNTIL = day_of(date(2024, 1, 1))


def feed_start_days(world: World, manufacturers: tuple[str, ...]) -> dict[str, int]:
    """The day each manufacturer group's connected-vehicle feed starts (mid-2020 to end of 2023, src: the
    registry's connected readings grew from 1.7 M in 2022 to 4.3 M in 2024)."""
    return {m: world.rng.randint(_CONNECTED_FEEDS_FROM, _CONNECTED_FEEDS_UNTIL) for m in manufacturers}


def exp_days(rng: random.Random, per_year: float) -> int:
    """Days to the next event of a Poisson process with ``per_year`` events a year (at least 1)."""
    if per_year <= 0:
        return 10**6
    return 1 + int(rng.expovariate(per_year) * YEAR)


def service_gap(vehicle: Vehicle, day: int, rng: random.Random) -> int:
    """Yearly (every 2 years after 8 years) or every ``service_interval_km``, whichever comes first."""
    years = 1.0 if vehicle.age_years(day) < 8 else 2.0
    by_km = 25_000 / max(vehicle.km_per_day, 1.0)
    return max(60, int(min(years * YEAR, by_km) * rng.uniform(0.95, 1.3)))


def next_tyres(vehicle: Vehicle, day: int, rng: random.Random, km_per_year: float) -> int:
    """Seasonal owners swap around 1 April and 20 October; others replace tyres every ~45,000 km."""
    if vehicle.seasonal_tyres:
        year = date_of(day).year
        for when_year, month, dom in ((year, 4, 1), (year, 10, 20), (year + 1, 4, 1)):
            when = day_of(date(when_year, month, dom)) + rng.randint(-20, 20)
            if when > day:
                return when
    return day + max(90, int(45_000 / max(km_per_year, 1.0) * YEAR * rng.uniform(0.8, 1.2)))


def next_inspection(vehicle: Vehicle, day: int) -> int:
    """The next periodic inspection on or after ``day``: from the 4th anniversary of the first registration,
    then yearly, a few weeks before the anniversary."""
    due = vehicle.first_day + int(4 * YEAR) - vehicle.index % 23
    while due < day:
        due += 365
    return due
