"""The stored form of a vehicle's state: lossless, compact, versioned, and loud about bytes it cannot read.

Golden bytes (today's and older versions') are in ``test_golden.py``."""

from __future__ import annotations

import re
import statistics
import uuid
from dataclasses import fields, replace

import msgspec
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
    LEGACY_VERSIONS,
    VERSION,
    StateCodecError,
    decode_state,
    encode_state,
)
from streams.state.schema import StoredState
from tests.unit.streams.domain.test_state import BUDGET_BYTES, realistic
from tests.unit.streams.state.golden_states import GOLDEN, golden_bytes
from tests.unit.streams.state.legacy_writer import encode_v2

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


@settings(max_examples=300, deadline=None)
@given(states())
def test_any_state_an_older_worker_stored_still_reads(state: VehicleState) -> None:
    stored = encode_v2(state)  # the version-2 writer, frozen
    assert stored[0] in LEGACY_VERSIONS and decode_state(state.vin, stored) == state


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([*LEGACY_VERSIONS, VERSION]), st.binary(max_size=200))
def test_any_bytes_decode_to_a_state_or_raise_the_codec_error(version: int, junk: bytes) -> None:
    try:
        state = decode_state(VIN, bytes((version,)) + junk)
    except StateCodecError:
        return
    assert isinstance(state, VehicleState)


def test_a_state_stored_by_an_older_version_is_written_as_the_current_one() -> None:
    stored_before = golden_bytes("confirmed", 2)
    state = decode_state(VIN, stored_before)
    stored = encode_state(state)
    assert stored[0] == VERSION and decode_state(VIN, stored) == state


def test_an_empty_state_is_three_bytes() -> None:
    stored = encode_state(VehicleState(VIN))
    assert stored == bytes((VERSION, 0x91, 0x90))  # the version, then [sources: []]; every section unset
    assert decode_state(VIN, stored) == VehicleState(VIN)


def test_realistic_histories_fit_the_budget_on_average() -> None:
    # The budget is a mean over vehicles (tests/unit/streams/domain/test_state.py; benchmarks/bench_state.py
    # measures the benchmark fleet and the simulator's): about 400 B for 10 readings, 720 for 20.
    sizes = {count: len(encode_state(realistic(count))) for count in (10, 15, 20)}
    assert statistics.mean(sizes.values()) <= BUDGET_BYTES
    assert sizes[20] - sizes[10] <= 10 * 34  # 33 B a reading, and 1 for its work description (R1)


def test_a_typo_and_its_anomaly_cost_few_bytes() -> None:
    state = realistic(10, spike_at=6)
    assert state.anomalies and state.readings[6].error_numbers
    assert len(encode_state(state)) - len(encode_state(realistic(10))) <= 32  # the anomaly, two error numbers


def test_non_uuid_event_ids_and_millisecond_times_round_trip() -> None:
    state = realistic(3)
    odd = tuple(
        replace(r, event_id=f"legacy-{i}", observed_at=r.observed_at + 7, submitted_at=r.submitted_at + 999)
        for i, r in enumerate(state.readings)
    )
    changed = replace(state, readings=odd)
    assert decode_state(VIN, encode_state(changed)) == changed


def test_values_and_times_at_the_ends_of_64_bits_round_trip() -> None:
    reading = realistic(1).readings[0]
    extremes = (
        replace(reading, observed_at=-(2**63), submitted_at=-(2**62), value=2**63 - 1),
        replace(reading, event_id="b", observed_at=2**62, submitted_at=2**63 - 1, value=-(2**63)),
    )
    state = VehicleState(VIN, readings=extremes, rejected=extremes[::-1])
    assert decode_state(VIN, encode_state(state)) == state


def test_a_number_beyond_64_bits_is_refused_when_encoding() -> None:
    anomaly = OpenAnomaly(AnomalyKind.SPIKE, None, suggested_value=2**64)
    with pytest.raises(StateCodecError, match="64 bits"):
        encode_state(VehicleState(VIN, anomalies=(anomaly,)))


@pytest.mark.parametrize("version", [0, 4, 255])
def test_an_unknown_version_is_refused(version: int) -> None:
    stored = bytearray(encode_state(realistic(3)))
    stored[0] = version
    with pytest.raises(StateCodecError, match=f"version {version}; this worker reads 1, 2 and 3"):
        decode_state(VIN, bytes(stored))


@pytest.mark.parametrize("cut", [1, 2, 10, 50, -1])
def test_truncated_bytes_are_refused(cut: int) -> None:
    with pytest.raises(StateCodecError, match="truncated"):
        decode_state(VIN, encode_state(realistic(5))[:cut])


def test_trailing_bytes_and_empty_values_are_refused() -> None:
    with pytest.raises(StateCodecError, match="trailing"):
        decode_state(VIN, encode_state(realistic(2)) + b"\x00")
    with pytest.raises(StateCodecError, match="empty"):
        decode_state(VIN, b"")
    for name, version in (("typical", 1), ("confirmed", 2)):
        with pytest.raises(StateCodecError, match=f"version {version}.*trailing"):
            decode_state(VIN, golden_bytes(name, version) + b"\x00")
        with pytest.raises(StateCodecError, match=f"version {version}.*corrupt"):
            decode_state(VIN, golden_bytes(name, version)[:-1])


def _stored(state: VehicleState) -> list[object]:
    """The MessagePack array of ``state``'s stored form, as plain lists, to tamper with."""
    return msgspec.msgpack.decode(encode_state(state)[1:])  # type: ignore[no-any-return]


def _store(fields: list[object]) -> bytes:
    return bytes((VERSION,)) + msgspec.msgpack.encode(fields)


def test_a_field_appended_by_a_newer_version_is_refused() -> None:
    state = GOLDEN["confirmed"]  # confirmations, the last section: the array is complete
    fields = _stored(state)
    assert len(fields) == len(msgspec.structs.fields(StoredState))
    assert decode_state(VIN, _store(fields)) == state
    with pytest.raises(StateCodecError, match="at most length"):
        decode_state(VIN, _store([*fields, 1]))


def test_trailing_sections_at_their_defaults_are_not_written() -> None:
    # How a field added later reads in bytes written before it, and costs nothing when unset
    # (streams/state/schema.py: to_array).
    state = realistic(10, spike_at=6)
    fields = _stored(state)
    assert len(fields) == 5  # sources, readings, registration, recalls (none), anomalies
    assert fields[3] == [] and len(fields[2]) == 8  # the registration's unset optional fields after the plate
    readings_only = _store(fields[:2])
    assert decode_state(VIN, readings_only) == VehicleState(VIN, readings=state.readings)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ((0, 0, 1), 99),  # a provider kind beyond the enum
        ((1, 5, 0), 99),  # a source beyond the table
        ((1, 5, 0), -1),  # a negative index
        ((1, 1, 0), "x"),  # a text where a number belongs
        ((1, 0), b"\x00" * 15),  # ids not a whole number of UUIDs
    ],
)
def test_indexes_and_types_that_do_not_fit_are_refused(path: tuple[int, ...], value: object) -> None:
    fields = _stored(realistic(3))
    target: object = fields
    for step in path[:-1]:
        target = target[step]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    with pytest.raises(StateCodecError, match="corrupt"):
        decode_state(VIN, _store(fields))


def test_reading_columns_of_different_lengths_are_refused() -> None:
    fields = _stored(realistic(3))
    fields[1][3].append(5)  # type: ignore[index]  # one value too many
    with pytest.raises(StateCodecError, match="different lengths"):
        decode_state(VIN, _store(fields))


def test_every_field_of_the_state_is_stored() -> None:
    # A field added to the state must be added to the codec (see streams/state/schema.py), not silently lost.
    for cls, stored in ENCODED_FIELDS.items():
        assert tuple(f.name for f in fields(cls)) == stored, cls.__name__


def test_event_ids_cost_sixteen_bytes() -> None:
    state = replace(realistic(2), done_ids=(str(uuid.uuid4()),))
    longer = replace(state, done_ids=(*state.done_ids, str(uuid.uuid4())))
    assert len(encode_state(longer)) - len(encode_state(state)) == 16


_CANONICAL = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_near_uuids = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
    st.uuids().map(lambda u: str(u).replace("-", "", 1) + "0"),  # a dash moved
    st.uuids().map(lambda u: str(u)[:-1] + " "),  # fromhex would skip the space
    st.uuids().map(lambda u: str(u)[:-1] + "g"),
    st.text(max_size=40),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_near_uuids, max_size=6))
def test_ids_are_packed_as_bytes_exactly_when_every_one_is_a_canonical_uuid(ids: list[str]) -> None:
    from streams.state.codec import _ids, _pack_ids

    packed = _pack_ids(ids)
    canonical = all(re.fullmatch(_CANONICAL, each) for each in ids)
    assert isinstance(packed, bytes) == (canonical and bool(ids))
    assert _ids(packed) == tuple(ids)


def test_an_error_number_that_is_not_twelve_hex_digits_is_stored_as_text() -> None:
    state = VehicleState(VIN, electronic_closed=("000", "E12", "EABCDEF012345"))
    assert decode_state(VIN, encode_state(state)) == state  # found by hypothesis: encoding raised
