"""``simulate``: deterministic, in arrival order, valid contract records, calibrated volumes and rates."""

from __future__ import annotations

import io
import random
from collections import Counter
from datetime import date

import pytest

from schemas.codec import decode, encode
from schemas.errors import DecodeError
from schemas.jsonl import dumps
from schemas.records import (
    OdometerReading,
    Origin,
    PlateOdometerReading,
    ProviderRegistration,
    RegistrationKind,
    VehicleRegistration,
)
from streams.domain.intake import vin_is_valid
from streams.simulator.fleet import Simulation, SimulatorError, simulate
from streams.simulator.makes import MAKES, make_vin
from streams.simulator.plates import resolve_plates
from streams.simulator.truth import FaultKind
from streams.simulator.world import MalformedRecord, SimRecord


def arrival(record: SimRecord) -> int:
    if isinstance(record, OdometerReading | PlateOdometerReading):
        return record.submitted_at
    if isinstance(record, VehicleRegistration):
        return record.effective_at
    if isinstance(record, MalformedRecord):
        return record.arrival_at
    return record.changed_at


def jsonl_and_truth(vehicles: int, seed: int, **options: object) -> tuple[str, str]:
    simulation = simulate(vehicles, seed, **options)  # type: ignore[arg-type]
    lines = "".join(dumps(r) + "\n" for r in simulation if not isinstance(r, MalformedRecord))
    out = io.StringIO()
    simulation.truth.dump(out)
    return lines, out.getvalue()


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not() -> None:
    first = jsonl_and_truth(150, 42, fault_rate_multiplier=5.0)
    assert first == jsonl_and_truth(150, 42, fault_rate_multiplier=5.0)
    assert first[0] != jsonl_and_truth(150, 43, fault_rate_multiplier=5.0)[0]


def test_kafka_mode_adds_only_malformed_messages(boosted: tuple[list[SimRecord], Simulation]) -> None:
    records, _ = boosted
    plain = [r for r in simulate(400, 11, fault_rate_multiplier=20.0) if not isinstance(r, MalformedRecord)]
    assert [r for r in records if not isinstance(r, MalformedRecord)] == plain


def test_records_come_in_arrival_order_starting_with_the_providers(
    boosted: tuple[list[SimRecord], Simulation],
) -> None:
    records, _ = boosted
    times = [arrival(r) for r in records]
    assert times == sorted(times)
    assert isinstance(records[0], ProviderRegistration)


def test_every_record_is_a_valid_contract_record(boosted: tuple[list[SimRecord], Simulation]) -> None:
    records, _ = boosted
    for record in records:
        if isinstance(record, MalformedRecord):
            with pytest.raises(DecodeError):
                decode(record.value)
            continue
        assert decode(encode(record)) == record
        if not isinstance(record, ProviderRegistration | PlateOdometerReading):
            assert vin_is_valid(record.vin)


def test_every_vin_starts_with_a_registration_and_plate_readings_resolve(
    boosted: tuple[list[SimRecord], Simulation],
) -> None:
    records, _ = boosted
    registered: set[str] = set()
    for record in records:
        if isinstance(record, VehicleRegistration):
            assert record.kind is RegistrationKind.FIRST_REGISTRATION or record.vin in registered
            registered.add(record.vin)
    unresolved: list[PlateOdometerReading] = []
    events = list(resolve_plates(records, unresolved))
    assert unresolved == []
    assert sum(isinstance(r, PlateOdometerReading) for r in records) > 50
    assert len([e for e in events if isinstance(e, OdometerReading)]) == sum(
        isinstance(r, OdometerReading | PlateOdometerReading) for r in records
    )


def test_plates_move_between_vehicles(boosted: tuple[list[SimRecord], Simulation]) -> None:
    records, _ = boosted
    holders: dict[str, set[str]] = {}
    kinds: Counter[RegistrationKind] = Counter()
    for record in records:
        if isinstance(record, VehicleRegistration):
            kinds[record.kind] += 1
            if record.plate:
                holders.setdefault(record.plate, set()).add(record.vin)
    assert any(len(vins) > 1 for vins in holders.values())
    assert set(kinds) == set(RegistrationKind)


def test_every_fault_kind_is_injected_at_a_moderate_size(boosted: tuple[list[SimRecord], Simulation]) -> None:
    _, simulation = boosted
    counts = simulation.truth.counts()
    assert all(counts[kind.value] > 0 for kind in FaultKind), counts
    causes = {f.cause.value for f in simulation.truth.faults}
    assert {"EXTRA_DIGIT", "MISSING_DIGIT", "SWAPPED_DIGITS", "MISTYPED_DIGIT", "MILES_AS_KM"} <= causes
    assert {"FEED_ZERO", "FEED_STALE", "DOMESTIC_SALE", "IMPORT", "NEW_COUNTER", "USED_COUNTER"} <= causes


def test_each_fault_names_a_record_of_its_vehicle(boosted: tuple[list[SimRecord], Simulation]) -> None:
    records, simulation = boosted
    readings = {e.event_id: e for e in resolve_plates(records) if isinstance(e, OdometerReading)}
    for fault in simulation.truth.faults:
        if fault.kind is FaultKind.MALFORMED:
            continue
        reading = readings[fault.event_id]
        assert reading.vin == fault.vin
        if fault.typed_value is not None and fault.kind is not FaultKind.CONFLICTING_DUPLICATE:
            assert reading.odometer_value == fault.typed_value
        if fault.kind is FaultKind.ROLLBACK:
            assert fault.rollback_km is not None and fault.true_value is not None
            assert fault.true_value > reading.odometer_value
        if fault.kind is FaultKind.ODOMETER_REPLACED:
            assert reading.odometer_replaced is (fault.cause.value != "UNFLAGGED_REPLACEMENT")
        if fault.kind is FaultKind.LATE:
            assert reading.submitted_at - reading.observed_at >= 14 * 86_400_000


def test_volumes_and_fault_rates_match_the_calibration() -> None:
    """Real rates (multiplier 1): the registry's 2024 volumes and the configured per-reading rates."""
    simulation = simulate(1_500, 3)
    hand_typed = sum(
        isinstance(r, OdometerReading | PlateOdometerReading)
        and r.origin in (Origin.WORKSHOP, Origin.INSPECTION)
        for r in simulation
    )
    stats, truth = simulation.stats, simulation.truth
    assert 2.8 <= stats.readings_per_vehicle_year(2024) <= 3.7  # registry: 21.9 M / ~6.9 M vehicles
    assert 0.14 <= stats.connected_by_year[2024] / stats.readings_by_year[2024] <= 0.27  # registry: 20 %
    assert stats.connected_by_year[2022] < stats.connected_by_year[2023] < stats.connected_by_year[2024]
    counts = truth.counts()
    assert 0.004 <= counts["DUPLICATE"] / hand_typed <= 0.008  # configured 0.5 % (+ inspection resends)
    assert 0.007 <= counts["LATE"] / hand_typed <= 0.013  # configured 1 % of workshop and inspection readings
    typos = sum(
        f.cause.value in ("EXTRA_DIGIT", "MISSING_DIGIT", "SWAPPED_DIGITS", "MISTYPED_DIGIT")
        and f.kind is not FaultKind.CONFLICTING_DUPLICATE
        for f in truth.faults
    )
    assert 0.0005 <= typos / hand_typed <= 0.004  # provider mix: 0.08 % .. 1.5 %, mean ~0.16 %


def test_the_multiplier_scales_the_faults_not_the_fleet() -> None:
    real, boosted = simulate(300, 9), simulate(300, 9, fault_rate_multiplier=10.0)
    real_events, boosted_events = sum(1 for _ in real), sum(1 for _ in boosted)
    assert abs(real_events - boosted_events) < 0.05 * real_events
    assert sum(boosted.truth.counts().values()) > 5 * sum(real.truth.counts().values())


def test_a_vin_is_valid_with_its_check_digit() -> None:
    vin = make_vin(MAKES[0], 2019, 123_456, random.Random(1))
    assert vin_is_valid(vin) and vin.startswith("WVW") and vin[9] == "K"
    weights = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
    letters = (1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9)
    values = dict(zip("ABCDEFGHJKLMNPRSTUVWXYZ", letters, strict=True))
    total = sum((int(c) if c.isdigit() else values[c]) * w for c, w in zip(vin, weights, strict=True))
    assert vin[8] == ("X" if total % 11 == 10 else str(total % 11))


def test_truth_and_stats_are_known_only_after_the_run() -> None:
    simulation = simulate(5, 1)
    with pytest.raises(SimulatorError):
        simulation.truth  # noqa: B018
    list(simulation)
    assert simulation.truth.vehicles == 5
    with pytest.raises(SimulatorError):
        iter(simulation)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"vehicles": 0}, "at least one vehicle"),
        ({"fault_rate_multiplier": -1.0}, "negative"),
        ({"start": date(2005, 1, 1)}, "before the registry"),
        ({"start": date(2020, 1, 1), "end": date(2019, 1, 1)}, "empty"),
    ],
)
def test_impossible_parameters_are_refused(arguments: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"vehicles": 5, "seed": 1, **arguments}
    with pytest.raises(SimulatorError, match=message):
        simulate(**values)  # type: ignore[arg-type]
