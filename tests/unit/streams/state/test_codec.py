"""The stored form of a vehicle's state: lossless, compact, versioned, and loud about bytes it cannot read."""

from __future__ import annotations

import uuid
from dataclasses import fields, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.records import (
    AccidentInspectionState,
    AnomalyKind,
    Co2TestProcedure,
    Origin,
    ProviderKind,
    RecallState,
    RegistrationKind,
    SuspectedCause,
    Unit,
)
from streams.domain.state import (
    AccidentFact,
    ConfirmedReading,
    OpenAnomaly,
    RecallFact,
    RegistrationFacts,
    StoredReading,
    VehicleState,
)
from streams.state.codec import (
    ENCODED_FIELDS,
    VERSION,
    VERSION_CONFIRMED,
    StateCodecError,
    decode_state,
    encode_state,
)
from tests.unit.streams.domain.test_state import BUDGET_BYTES, realistic

VIN = "WVWZZZ1KZAW123456"
LONG = st.integers(-(2**63), 2**63 - 1)
TIME = st.integers(-(2**62), 2**62)
SMALL = st.integers(-(2**31), 2**31 - 1)

ids = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),  # not canonical: kept as text
    st.binary(min_size=6, max_size=6).map(lambda b: "E" + b.hex().upper()),  # error numbers
    st.text(max_size=40),
)
texts = st.text(max_size=30)
providers = st.one_of(st.integers(0, 9_999_999_999).map(lambda n: f"{n:010d}"), st.text(max_size=12))

readings = st.builds(
    StoredReading,
    event_id=ids,
    observed_at=TIME,
    value=st.one_of(st.integers(0, 2_000_000), LONG),
    unit=st.sampled_from(Unit),
    provider_id=providers,
    provider_kind=st.sampled_from(ProviderKind),
    origin=st.sampled_from(Origin),
    submitted_at=TIME,
    odometer_replaced=st.booleans(),
    counter_digits=st.none() | SMALL,
    error_numbers=st.lists(ids, max_size=3).map(tuple),
)
registrations = st.builds(
    RegistrationFacts,
    kind=st.sampled_from(RegistrationKind),
    effective_at=TIME,
    first_registration_date=SMALL,
    imported_used=st.booleans(),
    make=texts,
    model=texts,
    vehicle_category=texts,
    plate=st.none() | texts,
    first_registration_be_date=st.none() | SMALL,
    import_country=st.none() | texts,
    euro_norm=st.none() | texts,
    co2_g_km=st.none() | SMALL,
    co2_test_procedure=st.none() | st.sampled_from(Co2TestProcedure),
    fuel_type=st.none() | texts,
    electric_motor=st.none() | st.booleans(),
    electric_range_km=st.none() | SMALL,
    counter_digits=st.none() | SMALL,
)
recalls = st.builds(
    RecallFact, campaign_id=texts, manufacturer=texts, description=texts,
    status=st.sampled_from(RecallState), changed_at=TIME,
)  # fmt: skip
accidents = st.builds(AccidentFact, status=st.sampled_from(AccidentInspectionState), changed_at=TIME)


@st.composite
def states(draw: st.DrawFn) -> VehicleState:
    history = draw(st.lists(readings, max_size=8))
    known = [r.event_id for r in history]
    reference = st.sampled_from(known) | ids if known else ids
    anomalies = draw(
        st.lists(
            st.builds(
                OpenAnomaly,
                kind=st.sampled_from(AnomalyKind),
                blamed_event_id=st.none() | reference,
                related_event_ids=st.lists(reference, max_size=3).map(tuple),
                cause=st.none() | st.sampled_from(SuspectedCause),
                suggested_value=st.none() | LONG,
            ),
            max_size=3,
        )
    )
    return VehicleState(
        vin=draw(st.text(max_size=17)),
        readings=tuple(history),
        rejected=tuple(draw(st.lists(readings, max_size=3))),
        done_ids=tuple(draw(st.lists(ids, max_size=4))),
        electronic_closed=tuple(draw(st.lists(ids, max_size=3))),
        registration=draw(st.none() | registrations),
        recalls=tuple(draw(st.lists(recalls, max_size=2))),
        accident=draw(st.none() | accidents),
        anomalies=tuple(anomalies),
        confirmations=tuple(
            draw(st.lists(st.builds(ConfirmedReading, event_id=reference, confirmed_at=TIME), max_size=2))
        ),
    )


@settings(max_examples=300, deadline=None)
@given(states())
def test_any_state_round_trips(state: VehicleState) -> None:
    assert decode_state(state.vin, encode_state(state)) == state


@given(states())
def test_encoding_is_deterministic(state: VehicleState) -> None:
    # Replays must store the same bytes (the changelog of a replay equals the live one).
    assert encode_state(state) == encode_state(decode_state(state.vin, encode_state(state)))


def test_confirmations_are_a_version_2_tail_and_version_1_bytes_still_read() -> None:
    plain = realistic(5)
    stored_before = encode_state(plain)
    assert stored_before[0] == VERSION  # no confirmation: the bytes stored before confirmations existed
    mark = ConfirmedReading(plain.readings[2].event_id, 1_700_000_000_000)
    confirmed = replace(plain, confirmations=(mark,))
    stored = encode_state(confirmed)
    assert stored[0] == VERSION_CONFIRMED and stored[1:].startswith(stored_before[1:])
    assert len(stored) - len(stored_before) <= 1 + 1 + 6  # count, reading index, time in seconds
    assert decode_state(VIN, stored) == confirmed
    assert decode_state(VIN, stored_before) == plain
    with pytest.raises(StateCodecError, match="version 3"):
        decode_state(VIN, bytes((3,)) + stored[1:])


def test_an_empty_state_is_two_bytes() -> None:
    assert encode_state(VehicleState(VIN)) == bytes((VERSION, 0))
    assert decode_state(VIN, bytes((VERSION, 0))) == VehicleState(VIN)


@pytest.mark.parametrize("count", [10, 15, 20])
def test_a_realistic_history_fits_the_budget(count: int) -> None:
    state = realistic(count)
    stored = encode_state(state)
    assert len(stored) <= BUDGET_BYTES
    assert decode_state(state.vin, stored) == state


def test_a_history_with_a_typo_and_its_anomaly_stays_small() -> None:
    state = realistic(10, spike_at=6)
    assert state.anomalies and state.readings[6].error_numbers
    assert len(encode_state(state)) <= BUDGET_BYTES * 2 // 3


def test_non_uuid_event_ids_and_millisecond_times_round_trip() -> None:
    state = realistic(3)
    odd = tuple(
        replace(r, event_id=f"legacy-{i}", observed_at=r.observed_at + 7, submitted_at=r.submitted_at + 999)
        for i, r in enumerate(state.readings)
    )
    changed = replace(state, readings=odd)
    assert decode_state(VIN, encode_state(changed)) == changed


def test_an_unknown_version_is_refused() -> None:
    stored = bytearray(encode_state(realistic(3)))
    stored[0] = VERSION_CONFIRMED + 1
    with pytest.raises(StateCodecError, match="version"):
        decode_state(VIN, bytes(stored))


@pytest.mark.parametrize("cut", [1, 2, 10, 50, -1])
def test_truncated_bytes_are_refused(cut: int) -> None:
    with pytest.raises(StateCodecError):
        decode_state(VIN, encode_state(realistic(5))[:cut])


def test_trailing_bytes_and_empty_values_are_refused() -> None:
    with pytest.raises(StateCodecError, match="trailing"):
        decode_state(VIN, encode_state(realistic(2)) + b"\x00")
    with pytest.raises(StateCodecError, match="empty"):
        decode_state(VIN, b"")


def test_every_field_of_the_state_is_stored() -> None:
    # A field added to the state must be added to the codec (and its version bumped), not silently lost.
    for cls, stored in ENCODED_FIELDS.items():
        assert tuple(f.name for f in fields(cls)) == stored, cls.__name__


def test_event_ids_cost_sixteen_bytes() -> None:
    state = realistic(2)
    longer = replace(state, done_ids=(str(uuid.uuid4()),))
    assert len(encode_state(longer)) - len(encode_state(state)) == 1 + 1 + 16  # count, tag, bytes
