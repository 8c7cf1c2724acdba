"""A vehicle's life as a sequence of dated actions (a small discrete-event simulation per vehicle).

::

    enter (new car / import / already on the road at the start)
      └─ agenda: service · repair · body repair · tyres · periodic inspection (from 4 years, yearly)
                 · connected feed (4 a year) · recall · accident · plate change · odometer replacement
                 · sale (rollback?, sale inspection, re-registration, new plate) · scrapping / export

Each action emits its records through :mod:`streams.simulator.readings` and ``World.emit`` and schedules
the next action of its kind. Intervals are drawn from the vehicle's own km rate and ``FleetConfig``.
"""

from __future__ import annotations

import heapq
import random
from datetime import date

from schemas.records import (
    AccidentInspectionState,
    AccidentInspectionStatus,
    OdometerReading,
    Origin,
    ProviderKind,
    RecallState,
    RecallStatus,
    RegistrationKind,
    Unit,
    VehicleRegistration,
)
from streams.domain.calendar import date_of, day_of
from streams.simulator.readings import read, settle_pending, shown
from streams.simulator.truth import Cause, Fault, FaultKind
from streams.simulator.world import Vehicle, World, at

(ENTER_NEW, IMPORT, SCRAP, ACCIDENT_PASS, ACCIDENT, ACCIDENT_REPAIR, REPLACEMENT, SERVICE, REPAIR, BODY, TYRES,
 INSPECTION, CONNECTED, RECALL, RECALL_CLOSE, PLATE_CHANGE, SALE) = range(17)  # fmt: skip
"""Actions, in the order they happen on one day."""

YEAR = 365.25
ROLLBACK_MIN_COUNTER_KM = 60_000
"""Fraud pays on high-mileage cars: rollbacks are drawn at sales of cars over this."""
_RECALL_TOPICS = ("airbag inflator replacement", "brake hose inspection", "engine control software update",
                  "seat belt anchorage check", "fuel pump replacement", "rear axle bolts tightening",
                  "high-voltage battery inspection")  # fmt: skip
_CONNECTED_FEEDS_FROM = day_of(date(2020, 6, 1))
_CONNECTED_FEEDS_UNTIL = day_of(date(2024, 1, 1))


def feed_start_days(world: World, manufacturers: tuple[str, ...]) -> dict[str, int]:
    """The day each manufacturer group's connected-vehicle feed starts (mid-2020 to end of 2023, src: the
    registry's connected readings grew from 1.7 M in 2022 to 4.3 M in 2024)."""
    return {m: world.rng.randint(_CONNECTED_FEEDS_FROM, _CONNECTED_FEEDS_UNTIL) for m in manufacturers}


def registration(vehicle: Vehicle, kind: RegistrationKind, effective_at: int, event_id: str) -> VehicleRegistration:
    """The DIV record of ``vehicle`` as it is now (its current plate), of ``kind`` at ``effective_at``."""
    tech = vehicle.tech
    return VehicleRegistration(
        event_id=event_id,
        vin=vehicle.vin,
        kind=kind,
        effective_at=effective_at,
        first_registration_date=vehicle.first_day,
        imported_used=vehicle.imported,
        make=tech.make,
        model=tech.model,
        vehicle_category=tech.vehicle_category,
        plate=vehicle.plate if kind is not RegistrationKind.DEREGISTRATION else None,
        first_registration_be_date=vehicle.be_day if vehicle.imported else None,
        import_country=vehicle.country,
        euro_norm=tech.euro_norm,
        co2_g_km=tech.co2_g_km,
        co2_test_procedure=tech.co2_test_procedure,
        fuel_type=tech.fuel_type,
        electric_motor=tech.electric_motor,
        electric_range_km=tech.electric_range_km,
        counter_digits=5 if vehicle.five else None,
    )


def schedule_start(world: World, vehicle: Vehicle, day: int, lifetime_end: int) -> None:
    """Fill the agenda of a vehicle that is on the road from ``day``."""
    rng, config = world.rng, world.config
    per_year = vehicle.km_per_day * YEAR
    on_road = vehicle.be_day < day  # already on the road: somewhere inside its service interval
    vehicle.schedule(day + (rng.randint(1, _service_gap(vehicle, day, rng)) if on_road else rng.randint(300, 400)),
                     SERVICE)  # fmt: skip
    vehicle.schedule(day + _exp_days(rng, config.repairs_per_year), REPAIR)
    vehicle.schedule(day + _exp_days(rng, config.body_repairs_per_year), BODY)
    vehicle.schedule(_next_tyres(vehicle, day, rng, per_year), TYRES)
    vehicle.schedule(_next_inspection(vehicle, day), INSPECTION)
    if vehicle.connected_from is not None:
        vehicle.schedule(max(day, vehicle.connected_from) + rng.randint(1, 91), CONNECTED)
    vehicle.schedule(max(day, vehicle.first_day + 365) + _exp_days(rng, config.sales_per_year), SALE)
    vehicle.schedule(day + _exp_days(rng, config.recalls_per_year), RECALL)
    vehicle.schedule(day + _exp_days(rng, config.accidents_per_year), ACCIDENT)
    vehicle.schedule(day + _exp_days(rng, config.plate_changes_per_year), PLATE_CHANGE)
    vehicle.schedule(day + _exp_days(rng, config.fault_p(config.replacement_per_year)), REPLACEMENT)
    vehicle.schedule(lifetime_end, SCRAP)


def run_day(world: World, vehicle: Vehicle, day: int) -> None:
    """Carry out every action of ``vehicle`` due on ``day`` (in action order)."""
    while vehicle.alive and vehicle.agenda and vehicle.agenda[0][0] == day:
        _, action, argument = heapq.heappop(vehicle.agenda)
        _ACTIONS[action](world, vehicle, day, argument)


def finish(world: World, vehicle: Vehicle, end_day: int) -> None:
    """Close the vehicle's books at the end of the run: pending visibilities, days on the road."""
    settle_pending(world, vehicle, None, None)
    world.stats.add_alive(vehicle.enter_day, vehicle.exit_day if vehicle.exit_day is not None else end_day)


# --- actions -----------------------------------------------------------------------------------------------


def _enter_new(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    vehicle.plate = world.plate(day)
    world.emit(at(day, 8.0), registration(vehicle, RegistrationKind.FIRST_REGISTRATION, at(day, 8.0), world.new_id()))
    if world.rng.random() < world.config.delivery_reading_share:
        dealer = world.providers.pick(ProviderKind.DEALER, world.rng)
        read(world, vehicle, day, dealer, Origin.WORKSHOP, hour=13.0, work="delivery")


def _import(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    """First Belgian registration of a used import: foreign history (RDW for NL, sometimes the manufacturer's),
    maybe a rollback abroad, the import inspection, then the registration."""
    rng, config = world.rng, world.config
    world.stats.imports += 1
    _foreign_history(world, vehicle, day)
    if not vehicle.five and rng.random() < config.fault_p(config.rollback_per_import):
        _roll_back(world, vehicle, day, Cause.IMPORT)
    read(world, vehicle, day, vehicle.station, Origin.INSPECTION, hour=8.5, work="sale")
    vehicle.plate = world.plate(day)
    world.emit(at(day, 11.0), registration(vehicle, RegistrationKind.FIRST_REGISTRATION, at(day, 11.0), world.new_id()))


def _foreign_history(world: World, vehicle: Vehicle, day: int) -> None:
    """The readings of the vehicle's life abroad, sent at its Belgian registration: RDW's for NL imports
    (about one every 8 months: APK inspections and NAP garage readings), a manufacturer's quarterly connected
    readings for some other connected imports; none otherwise (R8)."""
    rng = world.rng
    manufacturer = world.providers.manufacturers[vehicle.make.manufacturer]
    if vehicle.country == "NL":
        provider, every, when = world.providers.rdw, 240, vehicle.first_day + 20
    elif vehicle.connected_from is not None and vehicle.connected_from < day and rng.random() < 0.3:
        provider, every, when = manufacturer, 91, max(vehicle.first_day + 20, vehicle.connected_from)
    else:
        return
    vehicle.advance(day, rng)
    span = max(1, day - vehicle.first_day)
    submitted_at = at(day, 7.5)
    km = 0.0
    while when < day - 10:
        km = max(km, vehicle.km * min(1.0, (when - vehicle.first_day) / span * rng.uniform(0.97, 1.03)))
        value, unit = shown(vehicle, km)
        world.emit(submitted_at, OdometerReading(world.new_id(), vehicle.vin, value, at(when, 10.0), submitted_at,
                                                 provider.provider_id, provider.kind, Origin.FOREIGN_HISTORY,
                                                 unit))  # fmt: skip
        world.stats.readings_by_year[date_of(when).year] += 1
        vehicle.counter_max_km = max(vehicle.counter_max_km, km)
        vehicle.prev_true_km, vehicle.prev_day, vehicle.last_counter_km = km, when, km
        when += every + rng.randint(-30, 30)


def _roll_back(world: World, vehicle: Vehicle, day: int, cause: Cause) -> None:
    """Turn the counter back; the next reading is blamed (ROLLBACK fault)."""
    rng, config = world.rng, world.config
    vehicle.advance(day, rng)
    counter = vehicle.counter_km
    size = rng.lognormvariate(0.0, config.rollback_sigma) * config.rollback_median_km
    size = int(max(10_000.0, min(size, 0.85 * counter, 450_000.0)))
    vehicle.offset_km += size
    world.stats.rollback_km_total += size
    vehicle.rollback = Fault(FaultKind.ROLLBACK, vehicle.vin, "", cause, False, unit=_unit(vehicle),
                             rollback_km=size)  # fmt: skip


def _service(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    rng = world.rng
    if vehicle.age_years(day) < 4 and rng.random() < 0.6:
        provider = world.providers.pick(ProviderKind.DEALER, rng)
    elif rng.random() < 0.75:
        provider = vehicle.home
    else:
        provider = world.providers.pick(ProviderKind.GARAGE, rng)
    read(world, vehicle, day, provider, Origin.WORKSHOP, work="service")
    vehicle.schedule(day + _service_gap(vehicle, day, rng), SERVICE)


def _repair(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    rng = world.rng
    roll = rng.random()
    if roll < 0.55:
        provider = vehicle.home
    elif roll < 0.85:
        provider = world.providers.pick(ProviderKind.FAST_FIT, rng)
    else:
        provider = world.providers.pick(ProviderKind.GARAGE, rng)
    read(world, vehicle, day, provider, Origin.WORKSHOP, work="repair")
    vehicle.schedule(day + _exp_days(rng, world.config.repairs_per_year), REPAIR)


def _body(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    read(world, vehicle, day, world.providers.pick(ProviderKind.BODY_SHOP, world.rng), Origin.WORKSHOP, work="body")
    vehicle.schedule(day + _exp_days(world.rng, world.config.body_repairs_per_year), BODY)


def _tyres(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    rng = world.rng
    provider = world.providers.pick(ProviderKind.TYRE_CENTRE, rng) if rng.random() < 0.7 else vehicle.home
    read(world, vehicle, day, provider, Origin.WORKSHOP, work="tyres")
    vehicle.schedule(_next_tyres(vehicle, day + 30, rng, vehicle.km_per_day * YEAR), TYRES)


def _inspection(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    read(world, vehicle, day, vehicle.station, Origin.INSPECTION)
    vehicle.schedule(_next_inspection(vehicle, day + 30), INSPECTION)


def _connected(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    feed = world.providers.manufacturers[vehicle.make.manufacturer]
    read(world, vehicle, day, feed, Origin.CONNECTED_VEHICLE, hour=world.rng.uniform(0.0, 23.0))
    vehicle.schedule(day + 91 + world.rng.randint(-10, 10), CONNECTED)


def _recall(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    rng, config = world.rng, world.config
    number = rng.randint(1, 999)
    _recall_status(world, vehicle, day, number, RecallState.OPEN)
    roll = rng.random()
    if roll < config.recall_completed_share + config.recall_withdrawn_share:
        vehicle.schedule(day + rng.randint(30, 270), RECALL_CLOSE, number if roll < config.recall_completed_share
                         else -number)  # fmt: skip
    vehicle.schedule(day + _exp_days(rng, config.recalls_per_year), RECALL)


def _recall_close(world: World, vehicle: Vehicle, day: int, number: int) -> None:
    if number > 0:
        dealer = world.providers.pick(ProviderKind.DEALER, world.rng)
        read(world, vehicle, day, dealer, Origin.WORKSHOP, work="recall")
    _recall_status(world, vehicle, day, abs(number), RecallState.COMPLETED if number > 0 else RecallState.WITHDRAWN)


def _recall_status(world: World, vehicle: Vehicle, day: int, number: int, status: RecallState) -> None:
    campaign = f"{vehicle.make.wmi}-{number:03d}"
    topic = _RECALL_TOPICS[number % len(_RECALL_TOPICS)]
    changed_at = at(day, 17.0)
    world.emit(changed_at, RecallStatus(world.new_id(), vehicle.vin, campaign, vehicle.make.manufacturer,
                                        f"{vehicle.make.name}: {topic}", status, changed_at))  # fmt: skip


def _accident(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    rng = world.rng
    reported_at = at(day + rng.randint(1, 5), 15.0)
    world.emit(reported_at, AccidentInspectionStatus(world.new_id(), vehicle.vin, AccidentInspectionState.REQUIRED,
                                                     _expert_id(vehicle), reported_at))  # fmt: skip
    if rng.random() < world.config.total_loss_share:
        vehicle.schedule(day + rng.randint(20, 60), SCRAP)
        return
    repaired = day + rng.randint(10, 40)
    vehicle.schedule(repaired, ACCIDENT_REPAIR)
    vehicle.schedule(repaired + rng.randint(1, 20), ACCIDENT_PASS)
    vehicle.schedule(day + _exp_days(rng, world.config.accidents_per_year) + 60, ACCIDENT)


def _accident_repair(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    read(world, vehicle, day, world.providers.pick(ProviderKind.BODY_SHOP, world.rng), Origin.WORKSHOP, work="body")


def _accident_pass(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    read(world, vehicle, day, vehicle.station, Origin.INSPECTION, hour=9.0)
    passed_at = at(day, 12.0)
    world.emit(passed_at, AccidentInspectionStatus(world.new_id(), vehicle.vin, AccidentInspectionState.PASSED,
                                                   vehicle.station.provider_id, passed_at))  # fmt: skip


def _plate_change(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    old_plate, vehicle.plate = vehicle.plate, world.plate(day)
    world.release_plate(old_plate, day)
    effective_at = at(day, 9.0)
    world.emit(effective_at, registration(vehicle, RegistrationKind.PLATE_CHANGE, effective_at, world.new_id()))
    vehicle.schedule(day + _exp_days(world.rng, world.config.plate_changes_per_year), PLATE_CHANGE)


def _replacement(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    """R6: a new (or used) instrument cluster; the first reading on it is the garage's own."""
    rng, config = world.rng, world.config
    vehicle.advance(day, rng)
    settle_pending(world, vehicle, None, None)
    used = rng.random() < 0.3
    start_km = rng.uniform(20_000, 150_000) if used else 0.0
    vehicle.offset_km = vehicle.km - start_km
    vehicle.counter_max_km, vehicle.last_counter_km = 0.0, None
    vehicle.prev_true_km, vehicle.prev_day, vehicle.rollback = None, None, None
    unflagged = rng.random() < config.unflagged_replacement_share
    cause = Cause.UNFLAGGED_REPLACEMENT if unflagged else (Cause.USED_COUNTER if used else Cause.NEW_COUNTER)
    fault = Fault(FaultKind.ODOMETER_REPLACED, vehicle.vin, "", cause, not unflagged, unit=_unit(vehicle))
    read(world, vehicle, day, vehicle.home, Origin.WORKSHOP, work="odometer", replaced=fault)
    vehicle.schedule(day + _exp_days(rng, config.fault_p(config.replacement_per_year)), REPLACEMENT)


def _sale(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    """A used sale: maybe a rollback, a dealer's reading, the sale inspection, then export or re-registration
    under the buyer's plate; the buyer drives differently."""
    rng, config = world.rng, world.config
    world.stats.domestic_sales += 1
    vehicle.advance(day, rng)
    if (
        not vehicle.five
        and vehicle.counter_km >= ROLLBACK_MIN_COUNTER_KM
        and rng.random() < config.fault_p(config.rollback_per_domestic_sale)
    ):
        _roll_back(world, vehicle, day, Cause.DOMESTIC_SALE)
    if rng.random() < config.dealer_reading_share_of_sales:
        read(world, vehicle, day, world.providers.pick(ProviderKind.DEALER, rng), Origin.WORKSHOP, hour=9.0,
             work="sale")  # fmt: skip
    if rng.random() < config.sale_inspection_share:
        vehicle.station = world.providers.pick(ProviderKind.INSPECTION_BODY, rng)
        read(world, vehicle, day, vehicle.station, Origin.INSPECTION, hour=11.0)
    if rng.random() < config.export_share_of_sales:
        _leave(world, vehicle, day + 1)
        return
    old_plate, vehicle.plate = vehicle.plate, world.plate(day + 1)  # the seller keeps the old plate
    world.release_plate(old_plate, day)
    effective_at = at(day + 1, 9.0)
    world.emit(effective_at, registration(vehicle, RegistrationKind.RE_REGISTRATION, effective_at, world.new_id()))
    if rng.random() < 0.5:
        vehicle.km_per_day = vehicle.km_per_day * rng.lognormvariate(0.0, 0.35)
    if rng.random() < 0.7:
        vehicle.home = world.providers.pick(ProviderKind.GARAGE, rng)
    vehicle.schedule(day + 30 + _exp_days(rng, config.sales_per_year), SALE)


def _scrap(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    _leave(world, vehicle, day)


def _leave(world: World, vehicle: Vehicle, day: int) -> None:
    effective_at = at(day, 10.0)
    world.emit(effective_at, registration(vehicle, RegistrationKind.DEREGISTRATION, effective_at, world.new_id()))
    world.release_plate(vehicle.plate, day)
    vehicle.plate, vehicle.alive, vehicle.exit_day = None, False, day
    vehicle.agenda.clear()


_ACTIONS = {
    ENTER_NEW: _enter_new, IMPORT: _import, SCRAP: _scrap, ACCIDENT_PASS: _accident_pass, ACCIDENT: _accident,
    ACCIDENT_REPAIR: _accident_repair, REPLACEMENT: _replacement, SERVICE: _service, REPAIR: _repair,
    BODY: _body, TYRES: _tyres, INSPECTION: _inspection, CONNECTED: _connected, RECALL: _recall,
    RECALL_CLOSE: _recall_close, PLATE_CHANGE: _plate_change, SALE: _sale,
}  # fmt: skip


# --- intervals ---------------------------------------------------------------------------------------------


def _exp_days(rng: random.Random, per_year: float) -> int:
    """Days to the next event of a Poisson process with ``per_year`` events a year (at least 1)."""
    if per_year <= 0:
        return 10**6
    return 1 + int(rng.expovariate(per_year) * YEAR)


def _service_gap(vehicle: Vehicle, day: int, rng: random.Random) -> int:
    """Yearly (every 2 years after 8 years) or every ``service_interval_km``, whichever comes first."""
    years = 1.0 if vehicle.age_years(day) < 8 else 2.0
    by_km = 25_000 / max(vehicle.km_per_day, 1.0)
    return max(60, int(min(years * YEAR, by_km) * rng.uniform(0.95, 1.3)))


def _next_tyres(vehicle: Vehicle, day: int, rng: random.Random, km_per_year: float) -> int:
    """Seasonal owners swap around 1 April and 20 October; others replace tyres every ~45,000 km."""
    if vehicle.seasonal_tyres:
        year = date_of(day).year
        for when_year, month, dom in ((year, 4, 1), (year, 10, 20), (year + 1, 4, 1)):
            when = day_of(date(when_year, month, dom)) + rng.randint(-20, 20)
            if when > day:
                return when
    return day + max(90, int(45_000 / max(km_per_year, 1.0) * YEAR * rng.uniform(0.8, 1.2)))


def _next_inspection(vehicle: Vehicle, day: int) -> int:
    """The next periodic inspection on or after ``day``: from the 4th anniversary of the first registration,
    then yearly, a few weeks before the anniversary."""
    due = vehicle.first_day + int(4 * YEAR) - vehicle.index % 23
    while due < day:
        due += 365
    return due


def _expert_id(vehicle: Vehicle) -> str:
    """The auto-expert's id: a handful of expert firms (not providers of readings)."""
    return f"EXPERT-{vehicle.index % 7:02d}"


def _unit(vehicle: Vehicle) -> Unit:
    return Unit.MILES if vehicle.miles else Unit.KM
