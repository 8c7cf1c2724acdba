"""Plate readings to VIN readings, for judging a simulated log offline (``domain.offline`` takes VIN-keyed
events only; the pipeline resolves plates itself).

A plate is resolved to the VIN registered to it **at the reading's ``observed_at``** (plates move between
vehicles, ``contracts.md``): the latest ``VehicleRegistration`` carrying that plate with ``effective_at <=
observed_at``, provided that vehicle still had that plate then (no later registration of the same VIN with
another plate, or a deregistration, before ``observed_at``). The log must be in arrival order, so a
registration comes before the plate readings it resolves (true of every simulation).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator

from schemas.records import (
    AccidentInspectionStatus,
    OdometerReading,
    PlateOdometerReading,
    RecallStatus,
    VehicleRegistration,
)
from streams.domain.vehicle import VehicleEvent


class PlateBook:
    """Who had which plate when, learned from registrations."""

    def __init__(self) -> None:
        self._by_plate: dict[str, list[tuple[int, str]]] = {}
        self._by_vin: dict[str, list[tuple[int, str | None]]] = {}

    def learn(self, registration: VehicleRegistration) -> None:
        plate = registration.plate
        at = registration.effective_at
        bisect.insort(self._by_vin.setdefault(registration.vin, []), (at, plate or ""))
        if plate:
            bisect.insort(self._by_plate.setdefault(plate, []), (at, registration.vin))

    def resolve(self, plate: str, observed_at: int) -> str | None:
        """The VIN that carried ``plate`` at ``observed_at`` (epoch ms), or ``None``."""
        holders = self._by_plate.get(plate)
        if not holders:
            return None
        position = bisect.bisect_right(holders, (observed_at, "\uffff")) - 1
        if position < 0:
            return None
        vin = holders[position][1]
        history = self._by_vin[vin]
        current = history[bisect.bisect_right(history, (observed_at, "\uffff")) - 1]
        return vin if current[1] == plate else None


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
            yield as_vin_reading(record, vin)


def as_vin_reading(record: PlateOdometerReading, vin: str) -> OdometerReading:
    """``record`` as the ``OdometerReading`` of ``vin`` (every other field unchanged)."""
    return OdometerReading(
        event_id=record.event_id,
        vin=vin,
        odometer_value=record.odometer_value,
        observed_at=record.observed_at,
        submitted_at=record.submitted_at,
        provider_id=record.provider_id,
        provider_kind=record.provider_kind,
        origin=record.origin,
        unit=record.unit,
        odometer_replaced=record.odometer_replaced,
        counter_digits=record.counter_digits,
        work_description=record.work_description,
    )
