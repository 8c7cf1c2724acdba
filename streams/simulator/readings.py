"""One odometer reading of a simulated vehicle: what the dashboard shows, how the provider sends it, and the
faults that may slip in, each recorded in the ground truth.

::

    read(world, vehicle, day, provider, origin)
      ├─ value shown: counter km (- rollbacks, replacements) → miles / 5-digit display
      ├─ structural fault on this reading? ROLLBACK (first after a rollback) / COUNTER_WRAPPED
      ├─ else a wrong value? keying error (provider's typo rate), MILES_AS_KM, FEED_ZERO / FEED_STALE
      ├─ sent: by VIN or by plate (since 2023-07), on time or LATE, work described or not
      └─ resent? (resending.py) DUPLICATE / CONFLICTING_DUPLICATE (one of the two wrong); MALFORMED copy

Visibility of a wrong value (``Fault.visible``): the typed value, in km on the counter, lies outside
[previous true value - 100, next true value + 100] (RDW's 100 km tolerance); at an end of the counter's
history the missing side is replaced by a physical bound: more than max(1,500 km, 400 km per day) away from
the one neighbour. A value inside its neighbours is harmless and no detector can see it.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import date

from schemas.records import OdometerReading, Origin, PlateOdometerReading, ProviderKind, Unit
from streams.domain.calendar import MS_PER_DAY, day_of
from streams.simulator.faults import draw_keying_cause, keying_error
from streams.simulator.providers import Provider
from streams.simulator.resending import maybe_malformed, resend
from streams.simulator.truth import TOLERANCE_KM, Cause, Fault, FaultKind
from streams.simulator.world import MS_PER_MINUTE, PendingFault, Vehicle, World, at

KM_PER_MILE = 1.609344
FAR_KM_PER_DAY = 400
"""Sustained faster than this (146,000 km a year) is beyond any vehicle: a visible jump."""
FAR_FLOOR_KM = 1_500
DAY_2019_03_01 = day_of(date(2019, 3, 1))
DAY_2024_01_01 = day_of(date(2024, 1, 1))
_HAND_TYPED = frozenset({Origin.WORKSHOP, Origin.INSPECTION})

WORK = {
    "service": ("periodic service", "oil and filter change", "major service with timing belt"),
    "repair": (
        "brake pads and discs replaced",
        "battery replaced",
        "exhaust repaired",
        "clutch replaced",
        "suspension arm replaced",
        "air conditioning serviced",
    ),
    "body": ("bodywork repair after collision", "bumper replaced and painted", "windscreen replaced"),
    "tyres": ("summer/winter tyre swap", "four tyres replaced", "tyre repair and balancing"),
    "delivery": ("new vehicle delivery inspection",),
    "sale": ("preparation for sale",),
    "recall": ("recall campaign carried out",),
    "odometer": ("instrument cluster replaced",),
}


def shown(vehicle: Vehicle, counter_km: float) -> tuple[int, Unit]:
    """What the dashboard shows for ``counter_km`` (its own unit; 5-digit counters wrap at 100,000)."""
    if vehicle.miles:
        return int(counter_km / KM_PER_MILE), Unit.MILES
    value = int(counter_km)
    return (value % 100_000 if vehicle.five else value), Unit.KM


def read(
    world: World,
    vehicle: Vehicle,
    day: int,
    provider: Provider,
    origin: Origin,
    *,
    hour: float | None = None,
    work: str = "service",
    replaced: Fault | None = None,
    value_faults: bool = True,
) -> None:
    """Emit one reading of ``vehicle`` on ``day`` by ``provider`` and record its faults.

    ``replaced``: this is the first reading on a new counter; the ODOMETER_REPLACED fault given (without
    event id) is completed and recorded, and the R6 flag is set unless its cause is UNFLAGGED_REPLACEMENT.
    ``value_faults=False`` keeps the value right (used for readings whose role is structural).
    """
    rng, rates = world.rng, world.rates
    vehicle.advance(day, rng)
    observed_at = at(day, hour if hour is not None else rng.uniform(6.5, 16.5))
    observed_at = max(observed_at, vehicle.last_read_at + MS_PER_MINUTE)
    vehicle.last_read_at = observed_at
    counter_km = vehicle.counter_km
    true_value, unit = shown(vehicle, counter_km)
    value, sent_unit, fault_kind, cause = true_value, unit, None, None
    event_id = world.new_id()

    structural: Fault | None = None
    if replaced is not None:
        structural = dataclasses.replace(
            replaced, event_id=event_id, true_value=true_value, typed_value=value
        )
    elif vehicle.rollback is not None:
        structural = dataclasses.replace(
            vehicle.rollback,
            event_id=event_id,
            true_value=shown(vehicle, counter_km + (vehicle.rollback.rollback_km or 0))[0],
            typed_value=true_value,
            visible=vehicle.counter_max_km > counter_km + TOLERANCE_KM,
        )
        vehicle.rollback = None
    elif (
        vehicle.five
        and vehicle.last_counter_km is not None
        and int(counter_km) // 100_000 > int(vehicle.last_counter_km) // 100_000
    ):
        structural = Fault(
            FaultKind.COUNTER_WRAPPED,
            vehicle.vin,
            event_id,
            Cause.WRAP,
            True,
            true_value=true_value,
            typed_value=true_value,
            unit=unit,
        )
    elif value_faults:
        value, sent_unit, cause = _wrong_value(world, vehicle, provider, origin, true_value, unit)
        if cause is not None:
            fault_kind = FaultKind.SPIKE if _km(value, sent_unit) > _km(true_value, unit) else FaultKind.DIP

    late_days = 0
    if origin in _HAND_TYPED and rng.random() < rates.late:
        late_days = rng.randint(14, 60)
        submitted_at = observed_at + late_days * MS_PER_DAY + rng.randrange(8 * 3_600_000)
    else:
        submitted_at = _submitted_at(rng, origin, day, observed_at)
    by_plate = (
        origin is Origin.WORKSHOP
        and vehicle.plate is not None
        and day >= world.plate_readings_from
        and rng.random() < provider.plate_share
    )
    flagged = replaced is not None and replaced.cause is not Cause.UNFLAGGED_REPLACEMENT
    record = _record(
        world,
        vehicle,
        provider,
        origin,
        event_id,
        value,
        sent_unit,
        observed_at,
        submitted_at,
        by_plate,
        work,
        flagged,
    )
    resent: list[tuple[OdometerReading | PlateOdometerReading, Fault]] = []
    if origin in _HAND_TYPED and structural is None and fault_kind is None:
        record, resent = resend(world, vehicle, record, true_value, unit)
    world.emit(submitted_at, record)
    for twin, twin_fault in resent:
        world.emit(twin.submitted_at, twin)
        world.add_fault(twin_fault)
    maybe_malformed(world, vehicle, record)
    year = world.year_of(day)
    world.stats.readings_by_year[year] += 1
    if origin is Origin.CONNECTED_VEHICLE:
        world.stats.connected_by_year[year] += 1

    if structural is not None:
        world.add_fault(
            dataclasses.replace(structural, observed_at=observed_at, provider_id=provider.provider_id)
        )
    if late_days:
        world.add_fault(
            Fault(
                FaultKind.LATE,
                vehicle.vin,
                event_id,
                Cause.BACK_DATED,
                True,
                observed_at,
                provider.provider_id,
                delay_days=late_days,
            )
        )
    settle_pending(world, vehicle, counter_km, day)
    if fault_kind is not None and cause is not None:
        fault = Fault(
            fault_kind,
            vehicle.vin,
            event_id,
            cause,
            False,
            observed_at,
            provider.provider_id,
            _true_in(true_value, unit, sent_unit),
            value,
            sent_unit,
        )
        typed_km = counter_km + _km(value, sent_unit) - _km(true_value, unit)
        vehicle.pending.append(
            PendingFault(fault, typed_km, counter_km, day, vehicle.prev_true_km, vehicle.prev_day)
        )
    vehicle.prev_true_km, vehicle.prev_day = counter_km, day
    vehicle.counter_max_km = max(vehicle.counter_max_km, counter_km)
    vehicle.last_counter_km = counter_km
    if origin is Origin.CONNECTED_VEHICLE and cause is not Cause.FEED_ZERO:
        vehicle.last_connected_value = value  # what the feed sent: a stale feed repeats it


def _km(value: int, unit: Unit) -> float:
    return value * KM_PER_MILE if unit is Unit.MILES else float(value)


def _true_in(true_value: int, unit: Unit, sent_unit: Unit) -> int:
    """The right value in the unit the reading was sent in (MILES_AS_KM: the miles shown, as km)."""
    return round(true_value * KM_PER_MILE) if unit is Unit.MILES and sent_unit is Unit.KM else true_value


def _wrong_value(
    world: World, vehicle: Vehicle, provider: Provider, origin: Origin, true_value: int, unit: Unit
) -> tuple[int, Unit, Cause | None]:
    rng, rates = world.rng, world.rates
    if origin is Origin.CONNECTED_VEHICLE:
        roll = rng.random()
        if roll < rates.feed_zero and true_value > 0:
            return 0, unit, Cause.FEED_ZERO
        stale = vehicle.last_connected_value
        if roll < rates.feed_zero + rates.feed_stale and stale is not None and stale != true_value:
            return stale, unit, Cause.FEED_STALE
        return true_value, unit, None
    if origin not in _HAND_TYPED:
        return true_value, unit, None
    if unit is Unit.MILES and origin is Origin.WORKSHOP and rng.random() < rates.miles_as_km:
        return true_value, Unit.KM, Cause.MILES_AS_KM
    if rng.random() < rates.typo[provider.provider_id]:
        cause = draw_keying_cause(rng)
        typed = keying_error(true_value, cause, rng)
        if typed is not None and typed != true_value:
            return typed, unit, cause
    return true_value, unit, None


def settle_pending(world: World, vehicle: Vehicle, next_km: float | None, next_day: int | None) -> None:
    """Decide the visibility of the vehicle's wrong values now that the next reading (or none) is known."""
    for pending in vehicle.pending:
        typed, prev = pending.typed_km, pending.prev_km
        below = prev is not None and typed < prev - TOLERANCE_KM
        if next_km is not None and next_day is not None:
            above = typed > next_km + TOLERANCE_KM
            if prev is None:
                reach = max(FAR_FLOOR_KM, FAR_KM_PER_DAY * (next_day - pending.day))
                below = next_km - typed > reach
        elif prev is not None and pending.prev_day is not None:
            above = typed - prev > max(FAR_FLOOR_KM, FAR_KM_PER_DAY * (pending.day - pending.prev_day))
        else:
            above = False
        world.add_fault(dataclasses.replace(pending.fault, visible=below or above))
    vehicle.pending.clear()


def _submitted_at(rng: random.Random, origin: Origin, day: int, observed_at: int) -> int:
    """When an on-time reading is sent: workshops within 24 h since 2019-03-01 (R2, "at once"; a DMS may
    batch until the next morning) and within 3 days before; inspection bodies within 30 minutes; connected
    feeds in the manufacturer's nightly batch."""
    draw = rng.random()
    if origin is Origin.CONNECTED_VEHICLE:
        return at(day + 1, 2.0 + 2.0 * draw)
    if origin is Origin.INSPECTION:
        return observed_at + int(draw * 30 * MS_PER_MINUTE)
    if day < DAY_2019_03_01 and draw < 0.4:
        return observed_at + int((1 + draw * 5) * MS_PER_DAY)
    if draw < 0.8:
        return observed_at + int((1 + draw * 110) * MS_PER_MINUTE)
    if draw < 0.95:
        return observed_at + int((2 + (draw - 0.8) * 40) * 3_600_000)
    return observed_at + int((14 + (draw - 0.95) * 160) * 3_600_000)


def _record(
    world: World,
    vehicle: Vehicle,
    provider: Provider,
    origin: Origin,
    event_id: str,
    value: int,
    unit: Unit,
    observed_at: int,
    submitted_at: int,
    by_plate: bool,
    work: str,
    replaced: bool,
) -> OdometerReading | PlateOdometerReading:
    rng = world.rng
    description = None
    if origin is Origin.WORKSHOP:
        day = observed_at // MS_PER_DAY
        share = provider.describes_work if day >= DAY_2024_01_01 else 0.3
        if rng.random() < share:
            description = rng.choice(WORK[work])
    digits = (
        5
        if vehicle.five and (provider.kind is ProviderKind.INSPECTION_BODY or provider.ticks_five_digits)
        else None
    )
    key = vehicle.vin
    if by_plate:
        assert vehicle.plate is not None
        key = vehicle.plate
    record_type: type[OdometerReading] | type[PlateOdometerReading]
    record_type = PlateOdometerReading if by_plate else OdometerReading
    return record_type(
        event_id,
        key,
        value,
        observed_at,
        submitted_at,
        provider.provider_id,
        provider.kind,
        origin,
        unit,
        replaced,
        digits,
        description,
    )
