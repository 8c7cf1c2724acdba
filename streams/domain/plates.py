"""Who held a plate when (R1): a reading sent with a plate is judged on the VIN that held the plate at its
``observed_at``. The one rule, used by the worker's plate agent (``streams.worker.plates``), the offline
judge and the simulator's scoring (``streams.simulator.plates``).

::

    a VIN's registrations ──add_registration──► its timeline: (effective_at, event_id, plate | None) sorted
    timeline ──intervals_of──► plate -> the intervals [from, to) in which this VIN held it
    the intervals of every VIN on one plate ──holder_at(t)──► the VIN holding it at t, or None

The holder of plate P at t is, among the VINs whose intervals on P cover t, the one whose interval began
last (a plate handed to a new car ends the previous car's holding even if that car's own re-registration
has not arrived). Pure: no I/O.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from schemas.records import OdometerReading, PlateOdometerReading, RegistrationKind, VehicleRegistration

Interval = tuple[int, int | None]
Entry = tuple[int, str, str | None]
"""A timeline entry: (effective_at, event_id, plate or None once the vehicle is deregistered)."""


def add_registration(timeline: list[Entry], event: VehicleRegistration) -> list[Entry] | None:
    """The VIN's timeline with ``event``; ``None`` when it changes nothing (a redelivery, no plate)."""
    if event.plate is None and event.kind is not RegistrationKind.DEREGISTRATION:
        return None
    entry: Entry = (event.effective_at, event.event_id, None if event.kind is RegistrationKind.DEREGISTRATION
                    else event.plate)  # fmt: skip
    if any(existing[1] == event.event_id for existing in timeline):
        return None
    updated = list(timeline)
    bisect.insort(updated, entry, key=lambda e: (e[0], e[1]))
    return updated


def intervals_of(timeline: Sequence[Entry]) -> dict[str, list[Interval]]:
    """Plate -> the intervals ``[from, to)`` (``to`` None: still held) in which this VIN held it."""
    result: dict[str, list[Interval]] = {}
    current: str | None = None
    start = 0
    for effective_at, _, plate in timeline:
        if plate == current:
            continue
        if current is not None:
            result.setdefault(current, []).append((start, effective_at))
        current, start = plate, effective_at
    if current is not None:
        result.setdefault(current, []).append((start, None))
    return result


def holder_at(holders: dict[str, list[Interval]], at: int) -> str | None:
    """The VIN holding the plate at ``at``: of the covering intervals, the latest to begin."""
    best: tuple[int, str] | None = None
    for vin, intervals in holders.items():
        for start, end in intervals:
            if start <= at and (end is None or at < end) and (best is None or (start, vin) > best):
                best = (start, vin)
    return None if best is None else best[1]


def resolved_reading(plate_reading: PlateOdometerReading, vin: str) -> OdometerReading:
    """``plate_reading`` as the ``OdometerReading`` of ``vin`` (same event id, other fields unchanged)."""
    r = plate_reading
    return OdometerReading(
        event_id=r.event_id, vin=vin, odometer_value=r.odometer_value, observed_at=r.observed_at,
        submitted_at=r.submitted_at, provider_id=r.provider_id, provider_kind=r.provider_kind,
        origin=r.origin, unit=r.unit, odometer_replaced=r.odometer_replaced,
        counter_digits=r.counter_digits, work_description=r.work_description,
    )  # fmt: skip
