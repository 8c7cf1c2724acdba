"""The per-VIN state stays compact: realistic 10-20-reading histories fit the stream's 600-byte budget on
average (the budget is a mean over the fleet, like the worker's state-size metric).

The stream stores one ``VehicleState`` per VIN (RocksDB + changelog) in the form of
``streams.state.codec``. The state keeps only what cannot be recomputed (see ``streams.domain.state``);
these tests hold the two together: if a field is added to the state, the budget is what keeps it from
growing copies of derivable data.
"""

from __future__ import annotations

import uuid
from dataclasses import fields

from schemas.records import OdometerReading, Origin, ProviderKind
from streams.domain.calendar import MS_PER_DAY
from streams.domain.state import StoredReading, VehicleState
from streams.domain.vehicle import decide
from streams.state.codec import decode_state, encode_state
from tests.unit.streams.domain.builders import VIN, registration

BUDGET_BYTES = 600


def realistic(count: int, spike_at: int | None = None) -> VehicleState:
    """A car read ``count`` times about twice a year by three garages and an inspection body."""
    state = decide(VehicleState(VIN), registration("2014-03-03", plate="1-ABC-123")).state
    garages = ["0412345678", "0498765432", "0455555555"]
    day, km = 16_140, 40
    for index in range(count):
        day += 150 + 37 * (index % 5)
        km += 5_800 + 411 * (index % 7)
        observed = day * MS_PER_DAY + 9 * 3_600_000 + 1_000 * index
        inspection = index % 4 == 3
        value = km * 10 if index == spike_at else km
        reading = OdometerReading(
            event_id=str(uuid.uuid5(uuid.NAMESPACE_DNS, f"reading-{index}")),
            vin=VIN,
            odometer_value=value,
            observed_at=observed,
            submitted_at=observed + 240_000 + 7_000 * index,
            provider_id="0200000101" if inspection else garages[index % 3],
            provider_kind=ProviderKind.INSPECTION_BODY if inspection else ProviderKind.GARAGE,
            origin=Origin.INSPECTION if inspection else Origin.WORKSHOP,
            work_description="periodic service",
        )
        state = decide(state, reading).state
    return state


def test_histories_of_ten_to_twenty_readings_fit_the_budget_on_average() -> None:
    states = [realistic(count) for count in range(10, 21)]
    assert len(states[-1].readings) == 20 and states[-1].anomalies == ()
    stored = [encode_state(state) for state in states]
    assert sum(map(len, stored)) / len(stored) <= BUDGET_BYTES
    assert [decode_state(VIN, value) for value in stored] == states


def test_a_ten_reading_history_with_a_typo_fits_easily() -> None:
    state = realistic(10, spike_at=6)
    assert len(state.anomalies) == 1 and state.readings[6].error_numbers
    assert len(encode_state(state)) <= BUDGET_BYTES * 4 // 5


def test_the_state_holds_no_derived_copies() -> None:
    # Points, segments, km, judgments and the seen-id index are derived; only these are stored.
    assert [f.name for f in fields(VehicleState)] == [
        "vin",
        "readings",
        "rejected",
        "done_ids",
        "electronic_closed",
        "registration",
        "recalls",
        "accident",
        "anomalies",
        "confirmations",
    ]
    assert "km" not in {f.name for f in fields(StoredReading)}


def test_a_registrations_order_key_is_its_time_then_every_field_as_text() -> None:
    from dataclasses import astuple

    from schemas.records import Co2TestProcedure, RegistrationKind
    from streams.domain.state import RegistrationFacts

    facts = RegistrationFacts(
        kind=RegistrationKind.RE_REGISTRATION, effective_at=5, first_registration_date=100,
        imported_used=True, make="Skoda", model="Octavia", vehicle_category="M1", plate="1-ABC-123",
        first_registration_be_date=None,
        import_country="NL", euro_norm="6d", co2_g_km=120, co2_test_procedure=Co2TestProcedure.WLTP,
        fuel_type="PETROL", electric_motor=False, electric_range_km=None, counter_digits=6,
    )  # fmt: skip
    expected = (5, tuple("" if v is None else str(v) for v in astuple(facts)))
    assert facts.order_key() == expected
    assert expected[1][:3] == ("RE_REGISTRATION", "5", "100") and expected[1][8] == ""
