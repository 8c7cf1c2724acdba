"""Readings sent more than once: the same value again (DUPLICATE), another value the same day
(CONFLICTING_DUPLICATE), or a copy no consumer can decode (MALFORMED, Kafka mode only); each recorded in
the ground truth.
"""

from __future__ import annotations

import dataclasses

from schemas import topics
from schemas.records import OdometerReading, Origin, PlateOdometerReading, Unit
from streams.simulator.faults import MALFORMED_CAUSES, draw_keying_cause, keying_error, malformed_value
from streams.simulator.truth import TOLERANCE_KM, Cause, Fault, FaultKind
from streams.simulator.world import MS_PER_MINUTE, MalformedRecord, Vehicle, World


def resend(
    world: World,
    vehicle: Vehicle,
    record: OdometerReading | PlateOdometerReading,
    true_value: int,
    unit: Unit,
) -> tuple[
    OdometerReading | PlateOdometerReading, list[tuple[OdometerReading | PlateOdometerReading, Fault]]
]:
    """Maybe send the reading again that day: the same value (DUPLICATE) or, from a workshop, another
    (CONFLICTING_DUPLICATE: a keying error in the first or in the second sending, half and half; a provider
    that notices its typo resends the right value). Returns the first sending (its value may now be the wrong
    one) and the resendings."""
    rng = world.rng
    roll = rng.random()
    dup_p = world.rates.duplicate
    if roll >= dup_p + world.rates.conflicting_duplicate:
        return record, []
    again_at = record.submitted_at + rng.randint(5, 120) * MS_PER_MINUTE
    if roll < dup_p or record.origin is not Origin.WORKSHOP:  # inspection systems resend, never retype
        twin = dataclasses.replace(record, event_id=world.new_id(), submitted_at=again_at)
        fault = Fault(
            FaultKind.DUPLICATE,
            vehicle.vin,
            twin.event_id,
            Cause.RESUBMITTED,
            True,
            record.observed_at,
            record.provider_id,
            true_value,
            true_value,
            unit,
            (record.event_id,),
        )
        return record, [(twin, fault)]
    cause = draw_keying_cause(rng)
    typed = keying_error(true_value, cause, rng)
    if typed is None or typed == true_value:
        return record, []
    first_wrong = rng.random() < 0.5
    twin = dataclasses.replace(
        record,
        event_id=world.new_id(),
        submitted_at=again_at,
        odometer_value=true_value if first_wrong else typed,
    )
    if first_wrong:
        record = dataclasses.replace(record, odometer_value=typed)
    wrong, right = (record, twin) if first_wrong else (twin, record)
    fault = Fault(
        FaultKind.CONFLICTING_DUPLICATE,
        vehicle.vin,
        wrong.event_id,
        cause,
        abs(typed - true_value) > TOLERANCE_KM,
        record.observed_at,
        record.provider_id,
        true_value,
        typed,
        unit,
        (right.event_id,),
    )
    return record, [(twin, fault)]


def maybe_malformed(world: World, vehicle: Vehicle, record: OdometerReading | PlateOdometerReading) -> None:
    rng = world.rng
    if rng.random() >= world.rates.malformed:
        return
    cause = rng.choice(MALFORMED_CAUSES)
    value = malformed_value(record, cause, rng)
    if not world.malformed:
        return
    topic = topics.PLATE_READINGS if isinstance(record, PlateOdometerReading) else topics.READINGS
    key = record.plate if isinstance(record, PlateOdometerReading) else record.vin
    arrival = record.submitted_at + MS_PER_MINUTE
    world.emit(arrival, MalformedRecord(topic, key, value, arrival))
    world.add_fault(
        Fault(
            FaultKind.MALFORMED,
            vehicle.vin,
            record.event_id,
            cause,
            True,
            record.observed_at,
            record.provider_id,
            topic=topic,
            payload=value,
        )
    )
