"""A vehicle's life as a sequence of dated actions (a small discrete-event simulation per vehicle).

::

    enter (new car / import / already on the road at the start)
      └─ agenda: service · repair · body repair · tyres · periodic inspection (from 4 years, yearly)
                 · connected feed (4 a year) · recall · accident · plate change · odometer replacement
                 · sale (rollback?, sale inspection, re-registration, new plate) · scrapping / export

Each action emits its records through :mod:`streams.simulator.readings` and ``World.emit`` and schedules
the next action of its kind (intervals: :mod:`streams.simulator.agenda`). This module holds the everyday
actions and the dispatch; entering, sales, rollbacks, replacements and leaving are in
:mod:`streams.simulator.ownership`.
"""

from __future__ import annotations

import heapq

from schemas.records import (
    AccidentInspectionState,
    AccidentInspectionStatus,
    Origin,
    ProviderKind,
    RecallState,
    RecallStatus,
    RegistrationKind,
)
from streams.simulator import ownership
from streams.simulator.agenda import (
    ACCIDENT,
    ACCIDENT_PASS,
    ACCIDENT_REPAIR,
    BODY,
    CONNECTED,
    ENTER_NEW,
    IMPORT,
    INSPECTION,
    PLATE_CHANGE,
    RECALL,
    RECALL_CLOSE,
    REPAIR,
    REPLACEMENT,
    SALE,
    SCRAP,
    SERVICE,
    TYRES,
    exp_days,
    next_inspection,
    next_tyres,
    service_gap,
)
from streams.simulator.readings import read, settle_pending
from streams.simulator.world import Vehicle, World, at

YEAR = 365.25
_RECALL_TOPICS = (
    "airbag inflator replacement",
    "brake hose inspection",
    "engine control software update",
    "seat belt anchorage check",
    "fuel pump replacement",
    "rear axle bolts tightening",
    "high-voltage battery inspection",
)


def schedule_start(world: World, vehicle: Vehicle, day: int, lifetime_end: int) -> None:
    """Fill the agenda of a vehicle that is on the road from ``day``."""
    rng, config = world.rng, world.config
    per_year = vehicle.km_per_day * YEAR
    on_road = vehicle.be_day < day  # already on the road: somewhere inside its service interval
    vehicle.schedule(
        day + (rng.randint(1, service_gap(vehicle, day, rng)) if on_road else rng.randint(300, 400)), SERVICE
    )
    vehicle.schedule(day + exp_days(rng, config.repairs_per_year), REPAIR)
    vehicle.schedule(day + exp_days(rng, config.body_repairs_per_year), BODY)
    vehicle.schedule(next_tyres(vehicle, day, rng, per_year), TYRES)
    vehicle.schedule(next_inspection(vehicle, day), INSPECTION)
    if vehicle.connected_from is not None:
        vehicle.schedule(max(day, vehicle.connected_from) + rng.randint(1, 91), CONNECTED)
    vehicle.schedule(max(day, vehicle.first_day + 365) + exp_days(rng, config.sales_per_year), SALE)
    vehicle.schedule(day + exp_days(rng, config.recalls_per_year), RECALL)
    vehicle.schedule(day + exp_days(rng, config.accidents_per_year), ACCIDENT)
    vehicle.schedule(day + exp_days(rng, config.plate_changes_per_year), PLATE_CHANGE)
    vehicle.schedule(day + exp_days(rng, world.rates.replacement_per_year), REPLACEMENT)
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


# --- everyday actions -------------------------------------------------------------------------------------


def _service(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    rng = world.rng
    if vehicle.age_years(day) < 4 and rng.random() < 0.6:
        provider = world.providers.pick(ProviderKind.DEALER, rng)
    elif rng.random() < 0.75:
        provider = vehicle.home
    else:
        provider = world.providers.pick(ProviderKind.GARAGE, rng)
    read(world, vehicle, day, provider, Origin.WORKSHOP, work="service")
    vehicle.schedule(day + service_gap(vehicle, day, rng), SERVICE)


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
    vehicle.schedule(day + exp_days(rng, world.config.repairs_per_year), REPAIR)


def _body(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    read(
        world,
        vehicle,
        day,
        world.providers.pick(ProviderKind.BODY_SHOP, world.rng),
        Origin.WORKSHOP,
        work="body",
    )
    vehicle.schedule(day + exp_days(world.rng, world.config.body_repairs_per_year), BODY)


def _tyres(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    rng = world.rng
    provider = world.providers.pick(ProviderKind.TYRE_CENTRE, rng) if rng.random() < 0.7 else vehicle.home
    read(world, vehicle, day, provider, Origin.WORKSHOP, work="tyres")
    vehicle.schedule(next_tyres(vehicle, day + 30, rng, vehicle.km_per_day * YEAR), TYRES)


def _inspection(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    read(world, vehicle, day, vehicle.station, Origin.INSPECTION)
    vehicle.schedule(next_inspection(vehicle, day + 30), INSPECTION)


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
        vehicle.schedule(
            day + rng.randint(30, 270),
            RECALL_CLOSE,
            number if roll < config.recall_completed_share else -number,
        )
    vehicle.schedule(day + exp_days(rng, config.recalls_per_year), RECALL)


def _recall_close(world: World, vehicle: Vehicle, day: int, number: int) -> None:
    if number > 0:
        dealer = world.providers.pick(ProviderKind.DEALER, world.rng)
        read(world, vehicle, day, dealer, Origin.WORKSHOP, work="recall")
    _recall_status(
        world, vehicle, day, abs(number), RecallState.COMPLETED if number > 0 else RecallState.WITHDRAWN
    )


def _recall_status(world: World, vehicle: Vehicle, day: int, number: int, status: RecallState) -> None:
    campaign = f"{vehicle.make.wmi}-{number:03d}"
    topic = _RECALL_TOPICS[number % len(_RECALL_TOPICS)]
    changed_at = at(day, 17.0)
    world.emit(
        changed_at,
        RecallStatus(
            world.new_id(),
            vehicle.vin,
            campaign,
            vehicle.make.manufacturer,
            f"{vehicle.make.name}: {topic}",
            status,
            changed_at,
        ),
    )


def _accident(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    rng = world.rng
    reported_at = at(day + rng.randint(1, 5), 15.0)
    world.emit(
        reported_at,
        AccidentInspectionStatus(
            world.new_id(), vehicle.vin, AccidentInspectionState.REQUIRED, _expert_id(vehicle), reported_at
        ),
    )
    if rng.random() < world.config.total_loss_share:
        vehicle.schedule(day + rng.randint(20, 60), SCRAP)
        return
    repaired = day + rng.randint(10, 40)
    vehicle.schedule(repaired, ACCIDENT_REPAIR)
    vehicle.schedule(repaired + rng.randint(1, 20), ACCIDENT_PASS)
    vehicle.schedule(day + exp_days(rng, world.config.accidents_per_year) + 60, ACCIDENT)


def _accident_repair(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    read(
        world,
        vehicle,
        day,
        world.providers.pick(ProviderKind.BODY_SHOP, world.rng),
        Origin.WORKSHOP,
        work="body",
    )


def _accident_pass(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    read(world, vehicle, day, vehicle.station, Origin.INSPECTION, hour=9.0)
    passed_at = at(day, 12.0)
    world.emit(
        passed_at,
        AccidentInspectionStatus(
            world.new_id(),
            vehicle.vin,
            AccidentInspectionState.PASSED,
            vehicle.station.provider_id,
            passed_at,
        ),
    )


def _plate_change(world: World, vehicle: Vehicle, day: int, _: int) -> None:
    old_plate, vehicle.plate = vehicle.plate, world.plate(day)
    world.release_plate(old_plate, day)
    effective_at = at(day, 9.0)
    world.emit(
        effective_at,
        ownership.registration(vehicle, RegistrationKind.PLATE_CHANGE, effective_at, world.new_id()),
    )
    vehicle.schedule(day + exp_days(world.rng, world.config.plate_changes_per_year), PLATE_CHANGE)


def _expert_id(vehicle: Vehicle) -> str:
    """The auto-expert's id: a handful of expert firms (not providers of readings)."""
    return f"EXPERT-{vehicle.index % 7:02d}"


_ACTIONS = {
    ENTER_NEW: ownership.enter_new,
    IMPORT: ownership.import_used,
    SCRAP: ownership.scrap,
    ACCIDENT_PASS: _accident_pass,
    ACCIDENT: _accident,
    ACCIDENT_REPAIR: _accident_repair,
    REPLACEMENT: ownership.replacement,
    SERVICE: _service,
    REPAIR: _repair,
    BODY: _body,
    TYRES: _tyres,
    INSPECTION: _inspection,
    CONNECTED: _connected,
    RECALL: _recall,
    RECALL_CLOSE: _recall_close,
    PLATE_CHANGE: _plate_change,
    SALE: ownership.sale,
}
