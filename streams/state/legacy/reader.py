"""The stored form of a ``VehicleState``: a compact, versioned binary encoding (RocksDB value + changelog).

::

    VehicleState ──encode_state──► version byte + sections ──decode_state(vin, ·)──► VehicleState (equal)

The VIN is the table key, so it is not stored. Everything else is, laid out for 10-20-reading histories
to fit in 400-600 bytes (``tests/unit/streams/state/test_codec.py`` measures it): numbers are varints,
times seconds-plus-optional-milliseconds, ids raw UUID or error-number bytes (:mod:`streams.state.binary`);
readings are packed column-wise with deltas (:mod:`streams.state.readings`); a reading's source
``(provider_id, provider_kind, origin)`` is an index into a table written once per state; an anomaly refers
to its blamed and related readings by their index in ``readings`` when it can; enums are indexes.

Layout of version 1 (``n`` = varint, ``t`` = time, ``s`` = text; a section is present iff its bit is)::

    version:1  sections:1 (bits: readings, rejected, done_ids, electronic_closed, registration, recalls,
                           accident, anomalies)
    [sources:n {provider origin*10+kind:1}*]  [readings: columns]  [rejected: columns]
    [done_ids:n {id}*]  [electronic_closed:n {id}*]  [registration: kind:1 effective_at:t ... optionals]
    [recalls:n {campaign:s manufacturer:s description:s status:1 changed_at:t}*]  [accident: status:1 t]
    [anomalies:n {kind:1 blamed:ref related:n {ref}* cause:1 suggested:n}*]

Encoding is deterministic (a replay stores the same bytes). Version 2 is version 1 followed by one more
section, written only when the state has confirmations (so every state without them keeps its version-1
bytes, and states stored before confirmations existed read unchanged)::

    version:2  <version 1 sections>  confirmations:n {reading:ref confirmed_at:t}*

A change of layout gets a new version byte;
:func:`decode_state` refuses versions it does not know with a :class:`StateCodecError`, as it refuses
truncated or trailing bytes: the worker dead-letters the VIN's events rather than judge a misread history.
"""

from __future__ import annotations

import struct

from schemas.records import (
    AccidentInspectionState,
    AnomalyKind,
    Co2TestProcedure,
    Origin,
    ProviderKind,
    RecallState,
    RegistrationKind,
    SuspectedCause,
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
from streams.state.binary import (
    BinaryError,
    Reader,
    members,
    put_id,
    put_opt_bool,
    put_opt_enum,
    put_opt_int,
    put_opt_text,
    put_provider,
    put_text,
    put_time,
    read_opt_bool,
    read_opt_enum,
    read_opt_int,
    read_opt_text,
    signed,
    varint,
)
from streams.state.readings import ColumnError, Source, put_readings, read_readings

VERSION = 1
"""The layout written by :func:`encode_state` for a state without confirmations."""
VERSION_CONFIRMED = 2
"""Version 1 plus a trailing confirmations section (a state with ``confirmations``)."""


class StateCodecError(ValueError):
    """Stored bytes are not a vehicle state this version can read (unknown version, truncated, corrupt)."""


_KINDS, _KIND_INDEX = members(ProviderKind)
_ORIGINS, _ORIGIN_INDEX = members(Origin)
_REG_KINDS, _REG_KIND_INDEX = members(RegistrationKind)
_CO2, _CO2_INDEX = members(Co2TestProcedure)
_RECALLS, _RECALL_INDEX = members(RecallState)
_ACCIDENTS, _ACCIDENT_INDEX = members(AccidentInspectionState)
_ANOMALY_KINDS, _ANOMALY_KIND_INDEX = members(AnomalyKind)
_CAUSES, _CAUSE_INDEX = members(SuspectedCause)
_new_state = builder(VehicleState)


# --- sections ----------------------------------------------------------------------------------------------


def _put_registration(out: bytearray, g: RegistrationFacts) -> None:
    out.append(_REG_KIND_INDEX[g.kind])
    put_time(out, g.effective_at)
    signed(out, g.first_registration_date)
    out.append(1 if g.imported_used else 0)
    put_text(out, g.make)
    put_text(out, g.model)
    put_text(out, g.vehicle_category)
    put_opt_text(out, g.plate)
    put_opt_int(out, g.first_registration_be_date)
    put_opt_text(out, g.import_country)
    put_opt_text(out, g.euro_norm)
    put_opt_int(out, g.co2_g_km)
    put_opt_enum(out, g.co2_test_procedure, _CO2_INDEX)
    put_opt_text(out, g.fuel_type)
    put_opt_bool(out, g.electric_motor)
    put_opt_int(out, g.electric_range_km)
    put_opt_int(out, g.counter_digits)


def _read_registration(r: Reader) -> RegistrationFacts:
    return RegistrationFacts(
        kind=_REG_KINDS[r.byte()],
        effective_at=r.time(),
        first_registration_date=r.signed(),
        imported_used=r.byte() == 1,
        make=r.text(),
        model=r.text(),
        vehicle_category=r.text(),
        plate=read_opt_text(r),
        first_registration_be_date=read_opt_int(r),
        import_country=read_opt_text(r),
        euro_norm=read_opt_text(r),
        co2_g_km=read_opt_int(r),
        co2_test_procedure=read_opt_enum(r, _CO2),
        fuel_type=read_opt_text(r),
        electric_motor=read_opt_bool(r),
        electric_range_km=read_opt_int(r),
        counter_digits=read_opt_int(r),
    )


def _put_ref(out: bytearray, event_id: str | None, positions: dict[str, int]) -> None:
    """``0`` none, ``1`` + id, ``2 + i`` the reading at index ``i``."""
    if event_id is None:
        out.append(0)
        return
    position = positions.get(event_id)
    if position is None:
        out.append(1)
        put_id(out, event_id)
    else:
        varint(out, position + 2)


def _read_ref(r: Reader, readings: tuple[StoredReading, ...]) -> str | None:
    n = r.varint()
    if n == 0:
        return None
    if n == 1:
        return r.id()
    return readings[n - 2].event_id


def _put_anomalies(out: bytearray, state: VehicleState) -> None:
    varint(out, len(state.anomalies))
    positions = {reading.event_id: index for index, reading in enumerate(state.readings)}
    for a in state.anomalies:
        out.append(_ANOMALY_KIND_INDEX[a.kind])
        _put_ref(out, a.blamed_event_id, positions)
        varint(out, len(a.related_event_ids))
        for related in a.related_event_ids:
            _put_ref(out, related, positions)
        put_opt_enum(out, a.cause, _CAUSE_INDEX)
        put_opt_int(out, a.suggested_value)


def _read_anomalies(r: Reader, readings: tuple[StoredReading, ...]) -> tuple[OpenAnomaly, ...]:
    anomalies = []
    for _ in range(r.varint()):
        kind = _ANOMALY_KINDS[r.byte()]
        blamed = _read_ref(r, readings)
        related = tuple(_read_ref(r, readings) or "" for _ in range(r.varint()))
        anomalies.append(OpenAnomaly(kind, blamed, related, read_opt_enum(r, _CAUSES), read_opt_int(r)))
    return tuple(anomalies)


# --- the state ---------------------------------------------------------------------------------------------


# Which sections a stored state has (one bit each, in this order).
_S_READINGS, _S_REJECTED, _S_DONE, _S_CLOSED, _S_REGISTRATION, _S_RECALLS, _S_ACCIDENT, _S_ANOMALIES = (
    1 << bit for bit in range(8)
)
_SOURCE_KINDS = len(_KINDS)


def encode_state(state: VehicleState) -> bytes:
    """The stored bytes of ``state`` (without its VIN, the table key). Raises :class:`StateCodecError`
    only for a number beyond 64 bits, which no contract field can hold."""
    try:
        return _encode(state)
    except ColumnError as exc:
        raise StateCodecError(str(exc)) from exc


def _encode(state: VehicleState) -> bytes:
    present = (
        (_S_READINGS if state.readings else 0)
        | (_S_REJECTED if state.rejected else 0)
        | (_S_DONE if state.done_ids else 0)
        | (_S_CLOSED if state.electronic_closed else 0)
        | (_S_REGISTRATION if state.registration is not None else 0)
        | (_S_RECALLS if state.recalls else 0)
        | (_S_ACCIDENT if state.accident is not None else 0)
        | (_S_ANOMALIES if state.anomalies else 0)
    )
    out = bytearray((VERSION_CONFIRMED if state.confirmations else VERSION, present))
    if present & (_S_READINGS | _S_REJECTED):
        sources: dict[Source, int] = {}
        for reading in (*state.readings, *state.rejected):
            source = (reading.provider_id, reading.provider_kind, reading.origin)
            if source not in sources:
                sources[source] = len(sources)
        varint(out, len(sources))
        for provider_id, kind, origin in sources:
            put_provider(out, provider_id)
            out.append(_ORIGIN_INDEX[origin] * _SOURCE_KINDS + _KIND_INDEX[kind])
        if state.readings:
            put_readings(out, state.readings, sources, delta=True)
        if state.rejected:
            put_readings(out, state.rejected, sources, delta=False)
    for ids in (state.done_ids, state.electronic_closed):
        if ids:
            varint(out, len(ids))
            for value in ids:
                put_id(out, value)
    if state.registration is not None:
        _put_registration(out, state.registration)
    if state.recalls:
        varint(out, len(state.recalls))
        for recall in state.recalls:
            put_text(out, recall.campaign_id)
            put_text(out, recall.manufacturer)
            put_text(out, recall.description)
            out.append(_RECALL_INDEX[recall.status])
            put_time(out, recall.changed_at)
    if state.accident is not None:
        out.append(_ACCIDENT_INDEX[state.accident.status])
        put_time(out, state.accident.changed_at)
    if state.anomalies:
        _put_anomalies(out, state)
    if state.confirmations:
        positions = {reading.event_id: index for index, reading in enumerate(state.readings)}
        varint(out, len(state.confirmations))
        for confirmation in state.confirmations:
            _put_ref(out, confirmation.event_id, positions)
            put_time(out, confirmation.confirmed_at)
    return bytes(out)


def decode_state(vin: str, data: bytes) -> VehicleState:
    """The state stored as ``data`` under key ``vin``. Raises :class:`StateCodecError` only."""
    if not data:
        raise StateCodecError(f"empty stored state for {vin!r}")
    if data[0] not in (VERSION, VERSION_CONFIRMED):
        raise StateCodecError(
            f"stored state for {vin!r} has version {data[0]}; this worker reads {VERSION} and "
            f"{VERSION_CONFIRMED}"
        )
    r = Reader(data)
    r.pos = 1
    try:
        present = r.byte()
        readings: tuple[StoredReading, ...] = ()
        rejected: tuple[StoredReading, ...] = ()
        if present & (_S_READINGS | _S_REJECTED):
            sources: list[Source] = []
            for _ in range(r.varint()):
                provider_id = r.provider()
                origin, kind = divmod(r.byte(), _SOURCE_KINDS)
                sources.append((provider_id, _KINDS[kind], _ORIGINS[origin]))
            if present & _S_READINGS:
                readings = read_readings(r, sources, delta=True)
            if present & _S_REJECTED:
                rejected = read_readings(r, sources, delta=False)
        done_ids = tuple(r.id() for _ in range(r.varint())) if present & _S_DONE else ()
        closed = tuple(r.id() for _ in range(r.varint())) if present & _S_CLOSED else ()
        registration = _read_registration(r) if present & _S_REGISTRATION else None
        recalls = (
            tuple(
                RecallFact(r.text(), r.text(), r.text(), _RECALLS[r.byte()], r.time())
                for _ in range(r.varint())
            )
            if present & _S_RECALLS
            else ()
        )
        accident = AccidentFact(_ACCIDENTS[r.byte()], r.time()) if present & _S_ACCIDENT else None
        anomalies = _read_anomalies(r, readings) if present & _S_ANOMALIES else ()
        confirmations = (
            tuple(ConfirmedReading(_read_ref(r, readings) or "", r.time()) for _ in range(r.varint()))
            if data[0] == VERSION_CONFIRMED
            else ()
        )
    except (IndexError, UnicodeDecodeError, struct.error, BinaryError) as exc:
        raise StateCodecError(f"corrupt stored state for {vin!r}: {exc!r}") from exc
    if r.pos != len(data):
        raise StateCodecError(f"stored state for {vin!r} has {len(data) - r.pos} trailing bytes")
    state: VehicleState = _new_state(
        vin=vin, readings=readings, rejected=rejected, done_ids=done_ids, electronic_closed=closed,
        registration=registration, recalls=recalls, accident=accident, anomalies=anomalies,
        confirmations=confirmations,
    )
    return state


ENCODED_FIELDS: dict[type, tuple[str, ...]] = {
    VehicleState: (
        "vin", "readings", "rejected", "done_ids", "electronic_closed", "registration", "recalls",
        "accident", "anomalies", "confirmations",
    ),
    StoredReading: (
        "event_id", "observed_at", "value", "unit", "provider_id", "provider_kind", "origin",
        "submitted_at", "odometer_replaced", "counter_digits", "error_numbers",
    ),
    RegistrationFacts: (
        "kind", "effective_at", "first_registration_date", "imported_used", "make", "model",
        "vehicle_category", "plate", "first_registration_be_date", "import_country", "euro_norm",
        "co2_g_km", "co2_test_procedure", "fuel_type", "electric_motor", "electric_range_km",
        "counter_digits",
    ),
    RecallFact: ("campaign_id", "manufacturer", "description", "status", "changed_at"),
    AccidentFact: ("status", "changed_at"),
    OpenAnomaly: ("kind", "blamed_event_id", "related_event_ids", "cause", "suggested_value"),
    ConfirmedReading: ("event_id", "confirmed_at"),
}  # fmt: skip
"""The fields this version stores, per state class: a test compares them with the dataclasses, so a field
added to the state cannot be silently dropped from the stored form."""
