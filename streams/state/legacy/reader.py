"""The reader of stored states of versions 1 and 2, the hand-written binary layout written until version 3.

Nothing writes these versions any more; RocksDB and the changelogs still hold them until each VIN's state is
written again (as version 3). Frozen: ``tests/unit/streams/state/golden/*.v1.hex`` and ``*.v2.hex`` pin
what it reads, and a property test reads back any state from the old writer, kept frozen in
``tests/unit/streams/state/legacy_writer.py``.

Layout of version 1 (``n`` = varint, ``t`` = time, ``s`` = text; a section is present iff its bit is)::

    version:1  sections:1 (bits: readings, rejected, done_ids, electronic_closed, registration, recalls,
                           accident, anomalies)
    [sources:n {provider origin*10+kind:1}*]  [readings: columns]  [rejected: columns]
    [done_ids:n {id}*]  [electronic_closed:n {id}*]  [registration: kind:1 effective_at:t ... optionals]
    [recalls:n {campaign:s manufacturer:s description:s status:1 changed_at:t}*]  [accident: status:1 t]
    [anomalies:n {kind:1 blamed:ref related:n {ref}* cause:1 suggested:n}*]

Version 2 is version 1 followed by ``confirmations:n {reading:ref confirmed_at:t}*``. The primitives are in
:mod:`streams.state.legacy.binary`, the reading columns in :mod:`streams.state.legacy.readings`; a *ref* is
``0`` (none), ``1`` + id, or ``2 + i`` (the reading at index ``i``); enums are indexes.
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
from streams.state.legacy.binary import (
    BinaryError,
    Reader,
    read_opt_bool,
    read_opt_enum,
    read_opt_int,
    read_opt_text,
)
from streams.state.legacy.readings import Source, read_readings

VERSION = 1
"""A state without confirmations."""
VERSION_CONFIRMED = 2
"""Version 1 plus a trailing confirmations section."""

_KINDS = tuple(ProviderKind)
_ORIGINS = tuple(Origin)
_REG_KINDS = tuple(RegistrationKind)
_CO2 = tuple(Co2TestProcedure)
_RECALLS = tuple(RecallState)
_ACCIDENTS = tuple(AccidentInspectionState)
_ANOMALY_KINDS = tuple(AnomalyKind)
_CAUSES = tuple(SuspectedCause)
_SOURCE_KINDS = 10
"""The number of provider kinds when version 1 was written: a source's byte is ``origin * 10 + kind``."""
_new_state = builder(VehicleState)

# Which sections a stored state has (one bit each, in this order).
_S_READINGS, _S_REJECTED, _S_DONE, _S_CLOSED, _S_REGISTRATION, _S_RECALLS, _S_ACCIDENT, _S_ANOMALIES = (
    1 << bit for bit in range(8)
)


class LegacyFormatError(ValueError):
    """Bytes of version 1 or 2 that do not read (truncated, trailing bytes, an unknown tag)."""


def decode_legacy(vin: str, data: bytes) -> VehicleState:
    """The state stored as ``data`` (version 1 or 2, ``data[0]``) under key ``vin``. Raises
    :class:`LegacyFormatError` only."""
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
        raise LegacyFormatError(f"corrupt: {exc!r}") from exc
    if r.pos != len(data):
        raise LegacyFormatError(f"{len(data) - r.pos} trailing bytes")
    state: VehicleState = _new_state(
        vin=vin, readings=readings, rejected=rejected, done_ids=done_ids, electronic_closed=closed,
        registration=registration, recalls=recalls, accident=accident, anomalies=anomalies,
        confirmations=confirmations,
    )  # fmt: skip
    return state


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


def _read_ref(r: Reader, readings: tuple[StoredReading, ...]) -> str | None:
    n = r.varint()
    if n == 0:
        return None
    if n == 1:
        return r.id()
    return readings[n - 2].event_id


def _read_anomalies(r: Reader, readings: tuple[StoredReading, ...]) -> tuple[OpenAnomaly, ...]:
    anomalies = []
    for _ in range(r.varint()):
        kind = _ANOMALY_KINDS[r.byte()]
        blamed = _read_ref(r, readings)
        related = tuple(_read_ref(r, readings) or "" for _ in range(r.varint()))
        anomalies.append(OpenAnomaly(kind, blamed, related, read_opt_enum(r, _CAUSES), read_opt_int(r)))
    return tuple(anomalies)
