"""Ownership events of a vehicle: entering the fleet (new or imported, with its foreign history), sales
(with the rollbacks that come with some of them), odometer replacements, and leaving (scrapped or
exported); and the DIV registration record each of them sends.
"""

from __future__ import annotations

from schemas.records import OdometerReading, Origin, ProviderKind, RegistrationKind, Unit, VehicleRegistration
from streams.domain.calendar import date_of
from streams.simulator.agenda import REPLACEMENT, SALE, exp_days
from streams.simulator.readings import read, settle_pending, shown
from streams.simulator.truth import Cause, Fault, FaultKind
from streams.simulator.world import Vehicle, World, at


def registration(
    vehicle: Vehicle, kind: RegistrationKind, effective_at: int, event_id: str
) -> VehicleRegistration:
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


def enter_new(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    vehicle.plate = world.plate(day)
    world.emit(
        at(day, 8.0), registration(vehicle, RegistrationKind.FIRST_REGISTRATION, at(day, 8.0), world.new_id())
    )
    if world.rng.random() < world.config.delivery_reading_share:
        dealer = world.providers.pick(ProviderKind.DEALER, world.rng)
        read(world, vehicle, day, dealer, Origin.WORKSHOP, hour=13.0, work="delivery")


def import_used(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    """First Belgian registration of a used import: foreign history (RDW for NL, sometimes the
    manufacturer's), maybe a rollback abroad, the import inspection, then the registration."""
    rng = world.rng
    world.stats.imports += 1
    _foreign_history(world, vehicle, day)
    vehicle.advance(day, rng)
    if (
        not vehicle.five
        and vehicle.counter_km >= world.config.rollback_min_counter_km
        and rng.random() < world.rates.rollback_per_import
    ):
        _roll_back(world, vehicle, day, Cause.IMPORT)
    read(world, vehicle, day, vehicle.station, Origin.INSPECTION, hour=8.5, work="sale")
    vehicle.plate = world.plate(day)
    world.emit(
        at(day, 11.0),
        registration(vehicle, RegistrationKind.FIRST_REGISTRATION, at(day, 11.0), world.new_id()),
    )


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
        event_id, observed_at = world.new_id(), at(when, 10.0)
        world.emit(
            submitted_at,
            OdometerReading(
                event_id,
                vehicle.vin,
                value,
                observed_at,
                submitted_at,
                provider.provider_id,
                provider.kind,
                Origin.FOREIGN_HISTORY,
                unit,
            ),
        )
        last = vehicle.last_counter_km
        if vehicle.five and last is not None and int(km) // 100_000 > int(last) // 100_000:
            world.add_fault(
                Fault(
                    FaultKind.COUNTER_WRAPPED,
                    vehicle.vin,
                    event_id,
                    Cause.WRAP,
                    True,
                    observed_at,
                    provider.provider_id,
                    value,
                    value,
                    unit,
                )
            )
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
    vehicle.rollback = Fault(
        FaultKind.ROLLBACK, vehicle.vin, "", cause, False, unit=_unit(vehicle), rollback_km=size
    )


def replacement(world: World, vehicle: Vehicle, day: int, _: int) -> None:
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
    vehicle.schedule(day + exp_days(rng, world.rates.replacement_per_year), REPLACEMENT)


def sale(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    """A used sale: maybe a rollback, a dealer's reading, the sale inspection, then export or re-registration
    under the buyer's plate; the buyer drives differently."""
    rng, config = world.rng, world.config
    world.stats.domestic_sales += 1
    vehicle.advance(day, rng)
    if (
        not vehicle.five
        and vehicle.counter_km >= world.config.rollback_min_counter_km
        and rng.random() < world.rates.rollback_per_domestic_sale
    ):
        _roll_back(world, vehicle, day, Cause.DOMESTIC_SALE)
    if rng.random() < config.dealer_reading_share_of_sales:
        read(
            world,
            vehicle,
            day,
            world.providers.pick(ProviderKind.DEALER, rng),
            Origin.WORKSHOP,
            hour=9.0,
            work="sale",
        )
    if rng.random() < config.sale_inspection_share:
        vehicle.station = world.providers.pick(ProviderKind.INSPECTION_BODY, rng)
        read(world, vehicle, day, vehicle.station, Origin.INSPECTION, hour=11.0)
    if rng.random() < config.export_share_of_sales:
        leave(world, vehicle, day + 1)
        return
    old_plate, vehicle.plate = vehicle.plate, world.plate(day + 1)  # the seller keeps the old plate
    world.release_plate(old_plate, day)
    effective_at = at(day + 1, 9.0)
    world.emit(
        effective_at, registration(vehicle, RegistrationKind.RE_REGISTRATION, effective_at, world.new_id())
    )
    if rng.random() < 0.5:
        vehicle.km_per_day = vehicle.km_per_day * rng.lognormvariate(0.0, 0.35)
    if rng.random() < 0.7:
        vehicle.home = world.providers.pick(ProviderKind.GARAGE, rng)
    vehicle.schedule(day + 30 + exp_days(rng, config.sales_per_year), SALE)


def scrap(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    leave(world, vehicle, day)


def leave(world: World, vehicle: Vehicle, day: int) -> None:
    effective_at = at(day, 10.0)
    world.emit(
        effective_at, registration(vehicle, RegistrationKind.DEREGISTRATION, effective_at, world.new_id())
    )
    world.release_plate(vehicle.plate, day)
    vehicle.plate, vehicle.alive, vehicle.exit_day = None, False, day
    vehicle.agenda.clear()


def _unit(vehicle: Vehicle) -> Unit:
    return Unit.MILES if vehicle.miles else Unit.KM
