"""The per-VIN state stays compact: a realistic 10-20-reading history fits the stream's 600-byte budget.

The stream stores one ``VehicleState`` per VIN (RocksDB + changelog); its binary codec belongs to the
pipeline. ``reference_size`` is the size of the straightforward encoding the layout was designed for (see
``streams.domain.state``): the VIN is the key; event ids are UUIDs (16 bytes); times are varints of
seconds since the previous reading (a flag bit says when milliseconds follow), values varints of the
difference with the previous reading; provider ids (10 digits) are interned in a table with their kind;
enums and flags are packed in a byte; error numbers are 6 bytes. If a field is added to the
state, add it here: the budget test is what keeps the state from growing copies of derivable data.
"""

from __future__ import annotations

import uuid
from dataclasses import fields
from enum import Enum

from schemas.records import OdometerReading, Origin, ProviderKind
from streams.domain.calendar import MS_PER_DAY
from streams.domain.state import OpenAnomaly, RegistrationFacts, StoredReading, VehicleState
from streams.domain.vehicle import decide
from tests.unit.streams.domain.builders import VIN, registration

BUDGET_BYTES = 600


def varint(value: int) -> int:
    value = value * 2 if value >= 0 else -value * 2 - 1  # zigzag
    return max(1, (value.bit_length() + 6) // 7)


def instant(delta_ms: int) -> int:
    seconds, millis = divmod(delta_ms, 1000)
    return varint(seconds) + (varint(millis) if millis else 0)


def text(value: str | None) -> int:
    return 1 if value is None else 1 + len(value.encode())


def event_id(value: str) -> int:
    try:
        uuid.UUID(value)
    except ValueError:
        return text(value)
    return 16


def reading_size(r: StoredReading, previous: StoredReading | None) -> int:
    size = event_id(r.event_id)
    size += instant(r.observed_at - (previous.observed_at if previous else 0))
    size += varint(r.value - (previous.value if previous else 0))
    size += instant(r.submitted_at - r.observed_at)
    size += 1  # unit, origin, replaced, counter digits, has error numbers
    size += 1  # provider index
    return size + (1 + 6 * len(r.error_numbers) if r.error_numbers else 0)


def registration_size(facts: RegistrationFacts | None) -> int:
    if facts is None:
        return 1
    size = 0
    for f in fields(facts):
        value = getattr(facts, f.name)
        if isinstance(value, Enum) or value is None or isinstance(value, bool):
            size += 1
        elif isinstance(value, str):
            size += text(value)
        else:
            size += instant(value) if f.name.endswith("_at") else varint(value)
    return size


def anomaly_size(a: OpenAnomaly) -> int:
    return (
        1
        + 1
        + 1
        + len(a.related_event_ids)
        + 1
        + (1 if a.suggested_value is None else varint(a.suggested_value))
    )


def reference_size(state: VehicleState) -> int:
    providers = {(r.provider_id, r.provider_kind) for r in (*state.readings, *state.rejected)}
    present = [getattr(state, f.name) for f in fields(state) if f.name != "vin"]
    size = 1 + sum(1 for value in present if isinstance(value, tuple) and value)  # bitmap, tuple lengths
    size += 1 + 6 * len(providers)  # the provider table
    previous = None
    for r in state.readings:
        size += reading_size(r, previous)
        previous = r
    size += sum(reading_size(r, None) for r in state.rejected)
    size += sum(event_id(i) for i in state.done_ids) + 6 * len(state.electronic_closed)
    size += registration_size(state.registration)
    size += sum(
        text(r.campaign_id) + text(r.manufacturer) + text(r.description) + 1 + 6 for r in state.recalls
    )
    size += 0 if state.accident is None else 7
    return size + sum(anomaly_size(a) for a in state.anomalies)


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


def test_a_twenty_reading_history_fits_the_budget() -> None:
    state = realistic(20)
    assert len(state.readings) == 20 and state.anomalies == ()
    assert reference_size(state) <= BUDGET_BYTES


def test_a_ten_reading_history_with_a_typo_fits_easily() -> None:
    state = realistic(10, spike_at=6)
    assert len(state.anomalies) == 1 and state.readings[6].error_numbers
    assert reference_size(state) <= BUDGET_BYTES * 2 // 3


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
    ]
    assert "km" not in {f.name for f in fields(StoredReading)}
