"""The version-2 writer of the stored state, frozen as it was before version 3 (commit 4d47037).

Not product code: nothing writes versions 1 and 2 any more. It produces old bytes for any state, so that
``test_codec.py`` can check that the legacy reader (``streams.state.legacy``) reads every state an older
worker could have stored, and ``benchmarks/bench_state.py`` can time the old codec against the new one.
Do not change it: it is the reference for what is in RocksDB and the changelogs.
"""

from __future__ import annotations

import struct
from typing import Any

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
from streams.domain.state import RegistrationFacts, StoredReading, VehicleState

VERSION, VERSION_CONFIRMED = 1, 2
Source = tuple[str, ProviderKind, Origin]
_ID_UUID, _ID_ERROR_NUMBER, _ID_TEXT = 0, 1, 2
_HEX_UPPER = frozenset("0123456789ABCDEF")
_MILES = Unit.MILES


def members(enum: Any) -> tuple[tuple[Any, ...], dict[Any, int]]:
    values = tuple(enum)
    return values, {member: index for index, member in enumerate(values)}


_KINDS, _KIND_INDEX = members(ProviderKind)
_ORIGINS, _ORIGIN_INDEX = members(Origin)
_REG_KINDS, _REG_KIND_INDEX = members(RegistrationKind)
_CO2, _CO2_INDEX = members(Co2TestProcedure)
_RECALLS, _RECALL_INDEX = members(RecallState)
_ACCIDENTS, _ACCIDENT_INDEX = members(AccidentInspectionState)
_ANOMALY_KINDS, _ANOMALY_KIND_INDEX = members(AnomalyKind)
_CAUSES, _CAUSE_INDEX = members(SuspectedCause)
_S_READINGS, _S_REJECTED, _S_DONE, _S_CLOSED, _S_REGISTRATION, _S_RECALLS, _S_ACCIDENT, _S_ANOMALIES = (
    1 << bit for bit in range(8)
)
_SOURCE_KINDS = 10


# --- primitives (streams/state/binary.py) ------------------------------------------------------------------


def varint(out: bytearray, n: int) -> None:
    """Unsigned LEB128 (``n >= 0``)."""
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def signed(out: bytearray, n: int) -> None:
    varint(out, (n << 1) if n >= 0 else ((-n << 1) - 1))


def put_time(out: bytearray, ms: int) -> None:
    seconds, millis = divmod(ms, 1000)
    zz = (seconds << 1) if seconds >= 0 else ((-seconds << 1) - 1)
    if millis:
        varint(out, (zz << 1) | 1)
        varint(out, millis)
    else:
        varint(out, zz << 1)


def put_text(out: bytearray, value: str) -> None:
    raw = value.encode()
    varint(out, len(raw))
    out += raw


def uuid_bytes(value: str) -> bytes | None:
    """16 bytes when ``value`` is a canonical (lower-case, hyphenated) UUID, else ``None``."""
    if len(value) != 36 or value[8] != "-" or value[13] != "-" or value[18] != "-" or value[23] != "-":
        return None
    digits = value.replace("-", "")
    if len(digits) != 32 or digits != digits.lower():
        return None
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        return None
    return raw if len(raw) == 16 else None  # fromhex skips whitespace


def uuid_text(raw: bytes) -> str:
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def put_id(out: bytearray, value: str) -> None:
    raw = uuid_bytes(value)
    if raw is not None:
        out.append(_ID_UUID)
        out += raw
    elif len(value) == 13 and value[0] == "E" and _HEX_UPPER.issuperset(value[1:]):
        out.append(_ID_ERROR_NUMBER)
        out += bytes.fromhex(value[1:])
    else:
        out.append(_ID_TEXT)
        put_text(out, value)


def put_provider(out: bytearray, value: str) -> None:
    """A 10-digit enterprise number as the varint ``2n``; anything else as ``2 length + 1`` + UTF-8."""
    if len(value) == 10 and value.isascii() and value.isdigit():
        varint(out, int(value) << 1)
    else:
        raw = value.encode()
        varint(out, (len(raw) << 1) | 1)
        out += raw


def put_opt_int(out: bytearray, value: int | None) -> None:
    if value is None:
        out.append(0)
    else:
        varint(out, ((value << 1) if value >= 0 else ((-value << 1) - 1)) + 1)


def put_opt_text(out: bytearray, value: str | None) -> None:
    if value is None:
        out.append(0)
    else:
        raw = value.encode()
        varint(out, len(raw) + 1)
        out += raw


def put_opt_enum(out: bytearray, value: Any, index: dict[Any, int]) -> None:
    out.append(0 if value is None else index[value] + 1)


def put_opt_bool(out: bytearray, value: bool | None) -> None:
    out.append(0 if value is None else 2 if value else 1)


# --- reading columns (streams/state/readings.py) ----------------------------------------------------------


class ColumnError(ValueError):
    """A column holds a number that does not fit in 64 bits."""


_WIDTH_CODES = "BHIQ"
_WIDTH_LIMITS = (1 << 8, 1 << 16, 1 << 32, 1 << 64)
# Layout bits of a reading list.
_L_UUID_IDS, _L_OBSERVED_MS, _L_SUBMITTED_MS, _L_FLAGS, _L_ABSOLUTE_VALUES = 1, 2, 4, 8, 16
# Per-reading flags (only stored when some reading has one).
_R_MILES, _R_REPLACED, _R_DIGITS, _R_ERRORS = 1, 2, 4, 8
_structs: dict[str, struct.Struct] = {}


def _struct(fmt: str) -> struct.Struct:
    packer = _structs.get(fmt)
    if packer is None:
        if len(_structs) > 4096:  # one per (count, widths) seen; bounded all the same
            _structs.clear()
        packer = _structs[fmt] = struct.Struct(fmt)
    return packer


def _width(values: list[int]) -> int:
    top = max(values)
    for code, limit in enumerate(_WIDTH_LIMITS):
        if top < limit:
            return code
    raise ColumnError(f"a stored number ({top}) does not fit in 64 bits")


def _zz(n: int) -> int:
    return (n << 1) if n >= 0 else ((-n << 1) - 1)


def put_readings(
    out: bytearray, readings: tuple[StoredReading, ...], sources: dict[Source, int], delta: bool
) -> None:
    """Column-wise: seconds (zigzag deltas), values (zigzag deltas), sources, then the optional
    millisecond and flag columns, each packed at the narrowest of 1/2/4/8 bytes that holds the column."""
    varint(out, len(readings))
    if not readings:
        return
    observed_s: list[int] = []
    observed_ms: list[int] = []
    values: list[int] = []
    submitted_s: list[int] = []
    submitted_ms: list[int] = []
    source_col: list[int] = []
    flags_col: list[int] = []
    uuids: list[bytes] = []
    extras: list[StoredReading] = []
    previous_observed = previous_value = 0
    all_uuid = True
    for r in readings:
        observed = r.observed_at
        seconds, millis = divmod(observed - previous_observed, 1000)
        observed_s.append((seconds << 1) if seconds >= 0 else ((-seconds << 1) - 1))
        observed_ms.append(millis)
        change = r.value - previous_value
        values.append((change << 1) if change >= 0 else ((-change << 1) - 1))
        seconds, millis = divmod(r.submitted_at - observed, 1000)
        submitted_s.append((seconds << 1) if seconds >= 0 else ((-seconds << 1) - 1))
        submitted_ms.append(millis)
        source_col.append(sources[(r.provider_id, r.provider_kind, r.origin)])
        flags = 0
        if r.unit is _MILES:
            flags = _R_MILES
        if r.odometer_replaced:
            flags |= _R_REPLACED
        if r.counter_digits is not None:
            flags |= _R_DIGITS
        if r.error_numbers:
            flags |= _R_ERRORS
        if flags:
            extras.append(r)
        flags_col.append(flags)
        if all_uuid:
            raw = uuid_bytes(r.event_id)
            if raw is None:
                all_uuid = False
            else:
                uuids.append(raw)
        if delta:
            previous_observed, previous_value = observed, r.value
    layout = _L_UUID_IDS if all_uuid else 0
    if delta and max(values) >= _WIDTH_LIMITS[-1]:  # absurd values (rejected ones): no deltas
        layout |= _L_ABSOLUTE_VALUES
        values = [_zz(r.value) for r in readings]
    columns = [observed_s, values, submitted_s, source_col]
    widths = [_width(column) for column in columns]
    if any(observed_ms):
        layout |= _L_OBSERVED_MS
        columns.append(observed_ms)
        widths.append(1)
    if any(submitted_ms):
        layout |= _L_SUBMITTED_MS
        columns.append(submitted_ms)
        widths.append(1)
    if extras:
        layout |= _L_FLAGS
        columns.append(flags_col)
        widths.append(0)
    out.append(layout)
    out.append(widths[0] | widths[1] << 2 | widths[2] << 4 | widths[3] << 6)
    count = len(readings)
    fmt = "<" + "".join(f"{count}{_WIDTH_CODES[w]}" for w in widths)
    out += _struct(fmt).pack(*[n for column in columns for n in column])
    if all_uuid:
        out += b"".join(uuids)
    else:
        for r in readings:
            put_text(out, r.event_id)
    for r in extras:  # rare: R6/R7 flags, miles, error numbers
        if r.counter_digits is not None:
            signed(out, r.counter_digits)
        if r.error_numbers:
            varint(out, len(r.error_numbers))
            for number in r.error_numbers:
                put_id(out, number)


# --- the state (streams/state/codec.py) ------------------------------------------------------------------


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


def encode_v2(state: VehicleState) -> bytes:
    """The stored bytes of ``state`` (without its VIN, the table key). Raises ``ValueError``
    only for a number beyond 64 bits, which no contract field can hold."""
    try:
        return _encode(state)
    except ColumnError as exc:
        raise ValueError(str(exc)) from exc


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
