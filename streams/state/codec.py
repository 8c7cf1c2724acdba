"""The stored form of a ``VehicleState`` (RocksDB value + changelog): a version byte, then MessagePack.

::

    VehicleState ──encode_state──► 3 + MessagePack of a StoredState ──decode_state(vin, ·)──► VehicleState
                                   1 | 2 + the hand-written layout ──┘  (read only: stored before version 3)

Version 3 is encoded and decoded by msgspec (C): the layout is the structs of :mod:`streams.state.schema`,
which also says how a field is added. This module only translates between the domain's frozen dataclasses
and those structs: enums to indexes, a reading's source ``(provider_id, provider_kind, origin)`` to an index
into a table written once per state, readings to columns of small deltas, event ids to 16 raw bytes, a
reference to a reading to its index; trailing fields at their defaults are left out. The VIN is the table
key, so it is not stored. A reading takes about 31 bytes (16 of them its id), the rest of a state 100-150:
about 400 bytes for a realistic 10-reading history, 720 for 20, within the 600-byte budget on average
(``tests/unit/streams/domain/test_state.py``; ``benchmarks/bench_state.py`` measures the benchmark and
simulator fleets and times it against the version-2 codec).

Versions 1 and 2 are read by :mod:`streams.state.legacy` and never written: a VIN's state is stored as
version 3 the next time it is written. Encoding is deterministic (lists only, in the state's order: a
replay stores the same bytes). :func:`decode_state` refuses unknown versions, truncated values, trailing
bytes and anything that does not match the schema with a :class:`StateCodecError`: the worker dead-letters
the VIN's events rather than judge a misread history.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import msgspec

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
from streams.domain.fastbuild import builder
from streams.domain.state import (
    AccidentFact,
    ConfirmedReading,
    OpenAnomaly,
    RecallFact,
    RegistrationFacts,
    StoredReading,
    VehicleState,
)
from streams.state.legacy.reader import LegacyFormatError, decode_legacy
from streams.state.schema import (
    Ids,
    ReadingExtras,
    Ref,
    StoredAccident,
    StoredAnomaly,
    StoredConfirmation,
    StoredReadings,
    StoredRecall,
    StoredRegistration,
    StoredState,
    to_array,
)

VERSION = 3
"""The version byte written by :func:`encode_state`."""
LEGACY_VERSIONS = (1, 2)
"""Versions still read (:mod:`streams.state.legacy`), never written."""


class StateCodecError(ValueError):
    """Stored bytes are not a vehicle state this version can read (unknown version, truncated, corrupt), or a
    state holds a number MessagePack cannot (beyond 64 bits)."""


def _members(enum: Any) -> tuple[tuple[Any, ...], dict[Any, int]]:
    """An enum's members in declaration order, and member -> index (append new members at the end only)."""
    values = tuple(enum)
    return values, {member: index for index, member in enumerate(values)}


_UNITS, _UNIT_INDEX = _members(Unit)
_KINDS, _KIND_INDEX = _members(ProviderKind)
_ORIGINS, _ORIGIN_INDEX = _members(Origin)
_REG_KINDS, _REG_KIND_INDEX = _members(RegistrationKind)
_CO2, _CO2_INDEX = _members(Co2TestProcedure)
_RECALLS, _RECALL_INDEX = _members(RecallState)
_ACCIDENTS, _ACCIDENT_INDEX = _members(AccidentInspectionState)
_ANOMALY_KINDS, _ANOMALY_KIND_INDEX = _members(AnomalyKind)
_CAUSES, _CAUSE_INDEX = _members(SuspectedCause)
_KM = Unit.KM
_2_32 = 1 << 32
_VERSION_BYTE = bytes((VERSION,))
_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(StoredState)
_new_state = builder(VehicleState)
_new_reading = builder(StoredReading)
_new_registration = builder(RegistrationFacts)

Source = tuple[str, ProviderKind, Origin]
_UUID_GROUPS = re.compile("(.{8})(.{4})(.{4})(.{4})(.{12})")


# --- ids ---------------------------------------------------------------------------------------------------


def _uuid_texts(raw: bytes) -> tuple[str, ...]:
    """Canonical UUID texts of 16-byte UUIDs back to back."""
    if len(raw) % 16:
        raise StateCodecError(f"{len(raw)} bytes of UUIDs")
    return tuple(map("-".join, _UUID_GROUPS.findall(raw.hex())))


def _number_texts(raw: bytes) -> tuple[str, ...]:
    """Error numbers (``E`` + 12 upper-case hex digits) of 6-byte numbers back to back."""
    if len(raw) % 6:
        raise StateCodecError(f"{len(raw)} bytes of error numbers")
    h = raw.hex().upper()
    return tuple("E" + h[k : k + 12] for k in range(0, len(h), 12))


def _pack_ids(ids: Sequence[str]) -> Ids:
    """Canonical UUIDs (36 characters, lower-case hex, dashes at 8, 13, 18 and 23) as their bytes, else the
    texts. Checked on the joined texts by slices and one ``fromhex`` (no loop per id in Python)."""
    if not ids:
        return []
    n = len(ids)
    joined = "".join(ids)
    if len(joined) != 36 * n or joined != joined.lower():
        return list(ids)
    dashes = "-" * n
    if not (joined[8::36] == joined[13::36] == joined[18::36] == joined[23::36] == dashes):
        return list(ids)
    try:
        raw = bytes.fromhex(joined.replace("-", ""))  # skips whitespace: then fewer bytes than 16 an id
    except ValueError:
        return list(ids)
    return raw if len(raw) == 16 * n else list(ids)


def _pack_numbers(numbers: Sequence[str]) -> Ids:
    """Error numbers as their 6 bytes each (they read back as written: nothing else does), else the texts."""
    if not numbers:
        return []
    try:
        raw = bytes.fromhex("".join(number[1:] for number in numbers))
    except ValueError:
        return list(numbers)
    if len(raw) != 6 * len(numbers):  # e.g. "000": not 12 hex digits after the E
        return list(numbers)
    return raw if _number_texts(raw) == tuple(numbers) else list(numbers)


def _ids(stored: Ids) -> tuple[str, ...]:
    return _uuid_texts(stored) if isinstance(stored, bytes) else tuple(stored)


def _numbers(stored: Ids) -> tuple[str, ...]:
    return _number_texts(stored) if isinstance(stored, bytes) else tuple(stored)


# --- encoding ----------------------------------------------------------------------------------------------


def encode_state(state: VehicleState) -> bytes:
    """The stored bytes of ``state`` (without its VIN, the table key): the version byte and MessagePack.
    Raises :class:`StateCodecError` only for a number MessagePack cannot hold (beyond 64 bits), which no
    contract field can."""
    try:
        return _VERSION_BYTE + _ENCODER.encode(_stored(state, absolute_values=False))
    except OverflowError:
        pass  # a value jump beyond 64 bits (an absurd rejected reading): store the values themselves
    try:
        return _VERSION_BYTE + _ENCODER.encode(_stored(state, absolute_values=True))
    except OverflowError as exc:
        raise StateCodecError(f"a number of the state of {state.vin!r} is beyond 64 bits: {exc}") from exc


def _stored(state: VehicleState, absolute_values: bool) -> Any:
    """The MessagePack array of ``state`` (:func:`streams.state.schema.to_array`)."""
    sources: dict[Source, int] = {}
    readings = _columns(state.readings, sources, absolute_values) if state.readings else None
    rejected = _columns(state.rejected, sources, absolute_values) if state.rejected else None
    positions = (
        {reading.event_id: index for index, reading in enumerate(state.readings)}
        if state.anomalies or state.confirmations
        else {}
    )
    g = state.registration
    registration = None if g is None else to_array(StoredRegistration(
        _REG_KIND_INDEX[g.kind], g.effective_at, g.first_registration_date, g.imported_used, g.make, g.model,
        g.vehicle_category, g.plate, g.first_registration_be_date, g.import_country, g.euro_norm, g.co2_g_km,
        None if g.co2_test_procedure is None else _CO2_INDEX[g.co2_test_procedure], g.fuel_type,
        g.electric_motor, g.electric_range_km, g.counter_digits,
    ))  # fmt: skip
    recalls = [
        StoredRecall(r.campaign_id, r.manufacturer, r.description, _RECALL_INDEX[r.status], r.changed_at)
        for r in state.recalls
    ]
    anomalies = [
        to_array(StoredAnomaly(
            _ANOMALY_KIND_INDEX[a.kind],
            None if a.blamed_event_id is None else positions.get(a.blamed_event_id, a.blamed_event_id),
            [positions.get(related, related) for related in a.related_event_ids],
            None if a.cause is None else _CAUSE_INDEX[a.cause],
            a.suggested_value,
            a.restart,
        ))
        for a in state.anomalies
    ]  # fmt: skip
    accident = state.accident
    return to_array(
        StoredState(
            sources=[(_provider_number(p), _KIND_INDEX[k], _ORIGIN_INDEX[o]) for p, k, o in sources],
            readings=readings,
            registration=registration,
            recalls=recalls,
            anomalies=anomalies,
            accident=None if accident is None else StoredAccident(_ACCIDENT_INDEX[accident.status],
                                                                  accident.changed_at),
            rejected=rejected,
            done_ids=_pack_ids(state.done_ids),
            electronic_closed=_pack_numbers(state.electronic_closed),
            confirmations=[
                StoredConfirmation(positions.get(c.event_id, c.event_id), c.confirmed_at)
                for c in state.confirmations
            ],
        )
    )  # fmt: skip


def _provider_number(provider_id: str) -> int | str:
    """A 10-digit enterprise number as its int (5 bytes instead of 11), anything else as text."""
    return int(provider_id) if len(provider_id) == 10 and provider_id.isascii() and provider_id.isdigit() \
        else provider_id  # fmt: skip


def _columns(readings: tuple[StoredReading, ...], sources: dict[Source, int], absolute_values: bool) -> Any:
    """The MessagePack array of a list of readings (``StoredReadings``), column by column; ``sources`` gets
    the readings' new sources. One loop: faster here than a comprehension a column."""
    gap_high: list[int] = []
    gap_low: list[int] = []
    values: list[int] = []
    submitted: list[int] = []
    source_column: list[int] = []
    extras: list[Any] = []
    works: list[int] = []
    texts: dict[str, int] = {}
    previous_observed = previous_value = 0
    for index, r in enumerate(readings):
        high, low = divmod(r.observed_at - previous_observed, _2_32)
        gap_high.append(high)
        gap_low.append(low)
        values.append(r.value - previous_value)
        submitted.append(r.submitted_at - r.observed_at)
        source = (r.provider_id, r.provider_kind, r.origin)
        position = sources.get(source)
        if position is None:
            position = sources[source] = len(sources)
        source_column.append(position)
        if r.unit is not _KM or r.odometer_replaced or r.counter_digits is not None or r.error_numbers:
            extra = ReadingExtras(index, _UNIT_INDEX[r.unit], r.odometer_replaced, r.counter_digits,
                                  _pack_numbers(r.error_numbers))  # fmt: skip
            extras.append(to_array(extra))
        work = r.work_description
        if work is not None:
            number = texts.get(work)
            if number is None:
                number = texts[work] = len(texts) + 1
            if not works:
                works = [0] * index
            works.append(number)
        elif works:
            works.append(0)
        previous_observed = r.observed_at
        if not absolute_values:
            previous_value = r.value
    return to_array(StoredReadings(
        _pack_ids([r.event_id for r in readings]), gap_high, gap_low, values, submitted, source_column,
        extras, absolute_values, list(texts), works,
    ))  # fmt: skip


# --- decoding ----------------------------------------------------------------------------------------------


def decode_state(vin: str, data: bytes) -> VehicleState:
    """The state stored as ``data`` under key ``vin`` (any version this worker reads). Raises
    :class:`StateCodecError` only."""
    if not data:
        raise StateCodecError(f"empty stored state for {vin!r}")
    version = data[0]
    if version == VERSION:
        try:
            return _state(vin, _DECODER.decode(memoryview(data)[1:]))
        except (msgspec.DecodeError, IndexError, StateCodecError) as exc:
            raise StateCodecError(f"corrupt stored state for {vin!r}: {exc}") from exc
    if version in LEGACY_VERSIONS:
        try:
            return decode_legacy(vin, data)
        except LegacyFormatError as exc:
            raise StateCodecError(f"stored state for {vin!r} (version {version}): {exc}") from exc
    known = f"{', '.join(map(str, LEGACY_VERSIONS))} and {VERSION}"
    raise StateCodecError(f"stored state for {vin!r} has version {version}; this worker reads {known}")


def _state(vin: str, stored: StoredState) -> VehicleState:
    """Raises ``IndexError`` (an index out of its table) or :class:`StateCodecError`."""
    sources: list[Source] = [
        (p if isinstance(p, str) else f"{p:010d}", _KINDS[kind], _ORIGINS[origin])
        for p, kind, origin in stored.sources
    ]
    readings = () if stored.readings is None else _readings(stored.readings, sources)
    rejected = () if stored.rejected is None else _readings(stored.rejected, sources)
    g = stored.registration
    accident = stored.accident
    state: VehicleState = _new_state(
        vin=vin,
        readings=readings,
        rejected=rejected,
        done_ids=_ids(stored.done_ids),
        electronic_closed=_numbers(stored.electronic_closed),
        registration=None if g is None else _new_registration(
            kind=_REG_KINDS[g.kind], effective_at=g.effective_at,
            first_registration_date=g.first_registration_date, imported_used=g.imported_used, make=g.make,
            model=g.model, vehicle_category=g.vehicle_category, plate=g.plate,
            first_registration_be_date=g.first_registration_be_date, import_country=g.import_country,
            euro_norm=g.euro_norm, co2_g_km=g.co2_g_km,
            co2_test_procedure=None if g.co2_test_procedure is None else _CO2[g.co2_test_procedure],
            fuel_type=g.fuel_type, electric_motor=g.electric_motor, electric_range_km=g.electric_range_km,
            counter_digits=g.counter_digits,
        ),
        recalls=tuple(
            RecallFact(r.campaign_id, r.manufacturer, r.description, _RECALLS[r.status], r.changed_at)
            for r in stored.recalls
        ),
        accident=None if accident is None else AccidentFact(_ACCIDENTS[accident.status], accident.changed_at),
        anomalies=tuple(
            OpenAnomaly(
                _ANOMALY_KINDS[a.kind],
                _reading_id(a.blamed, readings),
                tuple(_reading_id(related, readings) or "" for related in a.related),
                None if a.cause is None else _CAUSES[a.cause],
                a.suggested_value,
                a.restart,
            )
            for a in stored.anomalies
        ),
        confirmations=tuple(
            ConfirmedReading(_reading_id(c.reading, readings) or "", c.confirmed_at)
            for c in stored.confirmations
        ),
    )  # fmt: skip
    return state


def _reading_id(ref: Ref, readings: tuple[StoredReading, ...]) -> str | None:
    return readings[ref].event_id if isinstance(ref, int) else ref


def _readings(stored: StoredReadings, sources: list[Source]) -> tuple[StoredReading, ...]:
    ids = _ids(stored.ids)
    gap_high, gap_low, values, submitted, source_column = (
        stored.gap_high, stored.gap_low, stored.values, stored.submitted, stored.sources
    )  # fmt: skip
    count = len(gap_high)
    if not len(ids) == len(gap_low) == len(values) == len(submitted) == len(source_column) == count:
        raise StateCodecError("reading columns of different lengths")
    new, km, absolute_values = _new_reading, _KM, stored.absolute_values
    if stored.works:
        if len(stored.works) != count:
            raise StateCodecError("work column of a different length")
        texts = (None, *stored.work_texts)
        works: Sequence[str | None] = [texts[n] for n in stored.works]
    else:
        works = (None,) * count
    out = []
    observed = value = 0
    columns = zip(ids, gap_high, gap_low, values, submitted, source_column, works, strict=False)  # checked
    for event_id, high, low, value_change, delay, source, work in columns:
        observed += (high << 32) + low
        value = value_change if absolute_values else value + value_change
        provider_id, kind, origin = sources[source]
        out.append(
            new(
                event_id=event_id, observed_at=observed, value=value, unit=km, provider_id=provider_id,
                provider_kind=kind, origin=origin, submitted_at=observed + delay, odometer_replaced=False,
                counter_digits=None, error_numbers=(), work_description=work,
            )
        )  # fmt: skip
    for extra in stored.extras:
        r = out[extra.index]
        out[extra.index] = new(
            event_id=r.event_id, observed_at=r.observed_at, value=r.value, unit=_UNITS[extra.unit],
            provider_id=r.provider_id, provider_kind=r.provider_kind, origin=r.origin,
            submitted_at=r.submitted_at, odometer_replaced=extra.odometer_replaced,
            counter_digits=extra.counter_digits, error_numbers=_numbers(extra.error_numbers),
            work_description=r.work_description,
        )  # fmt: skip
    return tuple(out)


ENCODED_FIELDS: dict[type, tuple[str, ...]] = {
    VehicleState: (
        "vin", "readings", "rejected", "done_ids", "electronic_closed", "registration", "recalls",
        "accident", "anomalies", "confirmations",
    ),
    StoredReading: (
        "event_id", "observed_at", "value", "unit", "provider_id", "provider_kind", "origin",
        "submitted_at", "odometer_replaced", "counter_digits", "error_numbers", "work_description",
    ),
    RegistrationFacts: (
        "kind", "effective_at", "first_registration_date", "imported_used", "make", "model",
        "vehicle_category", "plate", "first_registration_be_date", "import_country", "euro_norm",
        "co2_g_km", "co2_test_procedure", "fuel_type", "electric_motor", "electric_range_km",
        "counter_digits",
    ),
    RecallFact: ("campaign_id", "manufacturer", "description", "status", "changed_at"),
    AccidentFact: ("status", "changed_at"),
    OpenAnomaly: ("kind", "blamed_event_id", "related_event_ids", "cause", "suggested_value", "restart"),
    ConfirmedReading: ("event_id", "confirmed_at"),
}  # fmt: skip
"""The fields this version stores, per state class: a test compares them with the dataclasses, so a field
added to the state cannot be silently dropped from the stored form."""
