"""Plate readings to VIN readings, for judging a simulated log offline (``domain.offline`` takes VIN-keyed
events only; the pipeline resolves plates itself).

A plate is resolved to the VIN that held it **at the reading's ``observed_at``** (plates move between
vehicles), by the rule the worker applies (:mod:`streams.domain.plates`). The log must be in arrival
order, so a registration comes before the plate readings it resolves (true of every simulation).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from schemas.records import (
    AccidentInspectionStatus,
    OdometerReading,
    PlateOdometerReading,
    RecallStatus,
    VehicleRegistration,
)
from streams.domain.plates import Entry, Interval, add_registration, holder_at, intervals_of, resolved_reading
from streams.domain.vehicle import VehicleEvent


class PlateBook:
    """Who had which plate when, learned from registrations, by the domain's rule
    (:mod:`streams.domain.plates`, the worker's too)."""

    def __init__(self) -> None:
        self._timelines: dict[str, list[Entry]] = {}
        self._holders: dict[str, dict[str, list[Interval]]] = {}

    def learn(self, registration: VehicleRegistration) -> None:
        before = self._timelines.get(registration.vin, [])
        after = add_registration(before, registration)
        if after is None:
            return
        self._timelines[registration.vin] = after
        old, new = intervals_of(before), intervals_of(after)
        for plate in old.keys() | new.keys():
            holders = self._holders.setdefault(plate, {})
            if plate in new:
                holders[registration.vin] = new[plate]
            else:
                holders.pop(registration.vin, None)

    def resolve(self, plate: str, observed_at: int) -> str | None:
        """The VIN that carried ``plate`` at ``observed_at`` (epoch ms), or ``None``."""
        return holder_at(self._holders.get(plate, {}), observed_at)


def resolve_plates(
    records: Iterable[object], unresolved: list[PlateOdometerReading] | None = None
) -> Iterator[VehicleEvent]:
    """The VIN-keyed events of ``records`` (arrival order), plate readings turned into ``OdometerReading``s.

    Provider registrations and malformed messages are left out (the judge has no use for them); a plate
    reading whose plate no vehicle carried at the time is appended to ``unresolved`` (when given) and left
    out.
    """
    book = PlateBook()
    for record in records:
        if isinstance(record, VehicleRegistration):
            book.learn(record)
            yield record
        elif isinstance(record, OdometerReading | RecallStatus | AccidentInspectionStatus):
            yield record
        elif isinstance(record, PlateOdometerReading):
            vin = book.resolve(record.plate, record.observed_at)
            if vin is None:
                if unresolved is not None:
                    unresolved.append(record)
                continue
            yield resolved_reading(record, vin)
