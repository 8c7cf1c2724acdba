"""The stored form of a ``VehicleState``: a compact, versioned binary encoding (RocksDB value + changelog).

::

    VehicleState ──encode_state──► b"\\x01" + sections ──decode_state(vin, ·)──► VehicleState (equal)

The VIN is the table key, so it is not stored. Everything else is, in a layout built for 10-20-reading
histories to fit in about 400-600 bytes (``tests/unit/streams/test_state_codec.py`` measures it):

* integers are LEB128 varints, signed ones zigzagged; a *time* is stored as a zigzag varint of whole
  seconds shifted left by one, the low bit saying that a varint of the leftover milliseconds follows;
* readings are sorted, so each stores its ``observed_at`` and ``value`` as deltas from the previous one and
  its ``submitted_at`` as a delta from its own ``observed_at``;
* a reading's source ``(provider_id, provider_kind, origin)`` is an index into a table written once per
  state; a 10-digit provider id is stored as a number;
* ids are 16 raw bytes when they are canonical lower-case UUIDs (event ids) and 6 raw bytes when they are
  error numbers (``E`` + 12 upper-case hex digits); anything else is stored as text, so nothing is lost;
* an anomaly refers to its blamed and related readings by their index in ``readings`` when it can;
* enums are their index in the enum's declaration order (append new members at the end only).

Layout of version 1 (``n`` = varint, ``t`` = time, ``s`` = text = ``n`` length + UTF-8)::

    version:1  sources:n {provider_id kind:1 origin:1}*  readings:n {reading}*  rejected:n {reading}*
    done_ids:n {id}*  electronic_closed:n {id}*  registration:0|1 {...}  recalls:n {...}*
    accident:0|1 {status:1 changed_at:t}  anomalies:n {kind:1 blamed:ref related:n {ref}* cause suggested}
    reading = flags:1 id source:n observed:t(delta) value:n(zigzag delta) submitted:t(delta)
              [counter_digits:n] [error_numbers:n {id}*]

A change of layout gets a new version byte; :func:`decode_state` refuses versions it does not know with a
:class:`StateCodecError` (the worker then fails loudly rather than judging from a misread history).
"""

from __future__ import annotations

import struct
from enum import Enum
from typing import Any, TypeVar

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
    OpenAnomaly,
    RecallFact,
    RegistrationFacts,
    StoredReading,
    VehicleState,
)

VERSION = 1
"""The layout written by :func:`encode_state`."""

E = TypeVar("E", bound=Enum)


class StateCodecError(ValueError):
    """Stored bytes are not a vehicle state this version can read (unknown version, truncated, corrupt)."""


def _members(enum: type[E]) -> tuple[tuple[E, ...], dict[E, int]]:
    members = tuple(enum)
    return members, {member: index for index, member in enumerate(members)}


_UNITS, _UNIT_INDEX = _members(Unit)
_KINDS, _KIND_INDEX = _members(ProviderKind)
_ORIGINS, _ORIGIN_INDEX = _members(Origin)
_REG_KINDS, _REG_KIND_INDEX = _members(RegistrationKind)
_CO2, _CO2_INDEX = _members(Co2TestProcedure)
_RECALLS, _RECALL_INDEX = _members(RecallState)
_ACCIDENTS, _ACCIDENT_INDEX = _members(AccidentInspectionState)
_ANOMALY_KINDS, _ANOMALY_KIND_INDEX = _members(AnomalyKind)
_CAUSES, _CAUSE_INDEX = _members(SuspectedCause)
_MILES = Unit.MILES

# Reading flags.
_F_UUID, _F_MILES, _F_REPLACED, _F_DIGITS, _F_ERRORS = 1, 2, 4, 8, 16
# Id tags (see _put_id).
_ID_UUID, _ID_ERROR_NUMBER, _ID_TEXT = 0, 1, 2
_HEX_UPPER = frozenset("0123456789ABCDEF")

_new_reading = builder(StoredReading)
_new_state = builder(VehicleState)

# --- primitives --------------------------------------------------------------------------------------------


def _varint(out: bytearray, n: int) -> None:
    """Unsigned LEB128 (``n >= 0``)."""
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _signed(out: bytearray, n: int) -> None:
    _varint(out, (n << 1) if n >= 0 else ((-n << 1) - 1))


def _time(out: bytearray, ms: int) -> None:
    seconds, millis = divmod(ms, 1000)
    zz = (seconds << 1) if seconds >= 0 else ((-seconds << 1) - 1)
    if millis:
        _varint(out, (zz << 1) | 1)
        _varint(out, millis)
    else:
        _varint(out, zz << 1)


def _text(out: bytearray, value: str) -> None:
    raw = value.encode()
    _varint(out, len(raw))
    out += raw


def _uuid_bytes(value: str) -> bytes | None:
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


def _uuid_text(raw: bytes) -> str:
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _put_id(out: bytearray, value: str) -> None:
    raw = _uuid_bytes(value)
    if raw is not None:
        out.append(_ID_UUID)
        out += raw
    elif len(value) == 13 and value[0] == "E" and _HEX_UPPER.issuperset(value[1:]):
        out.append(_ID_ERROR_NUMBER)
        out += bytes.fromhex(value[1:])
    else:
        out.append(_ID_TEXT)
        _text(out, value)


def _put_provider(out: bytearray, value: str) -> None:
    """A 10-digit enterprise number as the varint ``2n``; anything else as ``2 length + 1`` + UTF-8."""
    if len(value) == 10 and value.isascii() and value.isdigit():
        _varint(out, int(value) << 1)
    else:
        raw = value.encode()
        _varint(out, (len(raw) << 1) | 1)
        out += raw


class _Reader:
    """A cursor over stored bytes; every read raises ``IndexError`` past the end (turned into
    :class:`StateCodecError` by :func:`decode_state`)."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def varint(self) -> int:
        data = self.data
        pos = self.pos
        byte = data[pos]
        pos += 1
        if byte < 0x80:
            self.pos = pos
            return byte
        result = byte & 0x7F
        shift = 7
        while True:
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                self.pos = pos
                return result
            shift += 7

    def signed(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def time(self) -> int:
        n = self.varint()
        zz = n >> 1
        ms = ((zz >> 1) ^ -(zz & 1)) * 1000
        return ms + self.varint() if n & 1 else ms

    def raw(self, size: int) -> bytes:
        end = self.pos + size
        if end > len(self.data):
            raise IndexError("truncated")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def byte(self) -> int:
        value = self.data[self.pos]
        self.pos += 1
        return value

    def text(self) -> str:
        return self.raw(self.varint()).decode()

    def id(self) -> str:
        tag = self.byte()
        if tag == _ID_UUID:
            return _uuid_text(self.raw(16))
        if tag == _ID_ERROR_NUMBER:
            return "E" + self.raw(6).hex().upper()
        if tag == _ID_TEXT:
            return self.text()
        raise StateCodecError(f"unknown id tag {tag}")

    def provider(self) -> str:
        n = self.varint()
        if n & 1:
            return self.raw(n >> 1).decode()
        return f"{n >> 1:010d}"


# --- optional values ---------------------------------------------------------------------------------------


def _opt_int(out: bytearray, value: int | None) -> None:
    if value is None:
        out.append(0)
    else:
        _varint(out, ((value << 1) if value >= 0 else ((-value << 1) - 1)) + 1)


def _read_opt_int(r: _Reader) -> int | None:
    n = r.varint()
    if n == 0:
        return None
    n -= 1
    return (n >> 1) ^ -(n & 1)


def _opt_text(out: bytearray, value: str | None) -> None:
    if value is None:
        out.append(0)
    else:
        raw = value.encode()
        _varint(out, len(raw) + 1)
        out += raw


def _read_opt_text(r: _Reader) -> str | None:
    n = r.varint()
    return None if n == 0 else r.raw(n - 1).decode()


def _opt_enum(out: bytearray, value: Any, index: dict[Any, int]) -> None:
    out.append(0 if value is None else index[value] + 1)


def _read_opt_enum(r: _Reader, members: tuple[E, ...]) -> E | None:
    n = r.byte()
    return None if n == 0 else members[n - 1]


def _opt_bool(out: bytearray, value: bool | None) -> None:
    out.append(0 if value is None else 2 if value else 1)


def _read_opt_bool(r: _Reader) -> bool | None:
    n = r.byte()
    return None if n == 0 else n == 2


# --- readings: columns packed with struct -----------------------------------------------------------------

Source = tuple[str, ProviderKind, Origin]

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
    raise StateCodecError(f"a stored number ({top}) does not fit in 64 bits")


def _zz(n: int) -> int:
    return (n << 1) if n >= 0 else ((-n << 1) - 1)


def _put_readings(
    out: bytearray, readings: tuple[StoredReading, ...], sources: dict[Source, int], delta: bool
) -> None:
    """Column-wise: seconds (zigzag deltas), values (zigzag deltas), sources, then the optional
    millisecond and flag columns, each packed at the narrowest of 1/2/4/8 bytes that holds the column."""
    _varint(out, len(readings))
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
            raw = _uuid_bytes(r.event_id)
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
            _text(out, r.event_id)
    for r in extras:  # rare: R6/R7 flags, miles, error numbers
        if r.counter_digits is not None:
            _signed(out, r.counter_digits)
        if r.error_numbers:
            _varint(out, len(r.error_numbers))
            for number in r.error_numbers:
                _put_id(out, number)


def _read_readings(r: _Reader, sources: list[Source], delta: bool) -> tuple[StoredReading, ...]:
    count = r.varint()
    if count == 0:
        return ()
    layout = r.byte()
    widths = r.byte()
    fmt = "<" + "".join(f"{count}{_WIDTH_CODES[(widths >> shift) & 3]}" for shift in (0, 2, 4, 6))
    if layout & _L_OBSERVED_MS:
        fmt += f"{count}H"
    if layout & _L_SUBMITTED_MS:
        fmt += f"{count}H"
    if layout & _L_FLAGS:
        fmt += f"{count}B"
    packer = _struct(fmt)
    numbers = packer.unpack(r.raw(packer.size))
    zeros = (0,) * count
    columns = [numbers[start : start + count] for start in range(0, len(numbers), count)]
    observed_s, values, submitted_s, source_col = columns[:4]
    rest = iter(columns[4:])
    observed_ms = next(rest) if layout & _L_OBSERVED_MS else zeros
    submitted_ms = next(rest) if layout & _L_SUBMITTED_MS else zeros
    flags_col = next(rest) if layout & _L_FLAGS else zeros
    if layout & _L_UUID_IDS:
        h = r.raw(16 * count).hex()
        hexes = [h[k : k + 32] for k in range(0, 32 * count, 32)]
        ids = [f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}" for x in hexes]
    else:
        ids = [r.text() for _ in range(count)]
    readings = []
    new = _new_reading
    km, miles = Unit.KM, _MILES
    observed = value = 0
    absolute_values = not delta or layout & _L_ABSOLUTE_VALUES
    for index in range(count):
        if not delta:
            observed = 0
        if absolute_values:
            value = 0
        n = observed_s[index]
        observed += ((n >> 1) ^ -(n & 1)) * 1000 + observed_ms[index]
        n = values[index]
        value += (n >> 1) ^ -(n & 1)
        n = submitted_s[index]
        provider_id, kind, origin = sources[source_col[index]]
        flags = flags_col[index]
        digits: int | None = None
        error_numbers: tuple[str, ...] = ()
        if flags:
            if flags & _R_DIGITS:
                digits = r.signed()
            if flags & _R_ERRORS:
                error_numbers = tuple(r.id() for _ in range(r.varint()))
        readings.append(
            new(
                ids[index],
                observed,
                value,
                miles if flags & _R_MILES else km,
                provider_id,
                kind,
                origin,
                observed + ((n >> 1) ^ -(n & 1)) * 1000 + submitted_ms[index],
                bool(flags & _R_REPLACED),
                digits,
                error_numbers,
            )
        )
    return tuple(readings)


# --- sections ----------------------------------------------------------------------------------------------


def _put_registration(out: bytearray, g: RegistrationFacts) -> None:
    out.append(_REG_KIND_INDEX[g.kind])
    _time(out, g.effective_at)
    _signed(out, g.first_registration_date)
    out.append(1 if g.imported_used else 0)
    _text(out, g.make)
    _text(out, g.model)
    _text(out, g.vehicle_category)
    _opt_text(out, g.plate)
    _opt_int(out, g.first_registration_be_date)
    _opt_text(out, g.import_country)
    _opt_text(out, g.euro_norm)
    _opt_int(out, g.co2_g_km)
    _opt_enum(out, g.co2_test_procedure, _CO2_INDEX)
    _opt_text(out, g.fuel_type)
    _opt_bool(out, g.electric_motor)
    _opt_int(out, g.electric_range_km)
    _opt_int(out, g.counter_digits)


def _read_registration(r: _Reader) -> RegistrationFacts:
    return RegistrationFacts(
        kind=_REG_KINDS[r.byte()],
        effective_at=r.time(),
        first_registration_date=r.signed(),
        imported_used=r.byte() == 1,
        make=r.text(),
        model=r.text(),
        vehicle_category=r.text(),
        plate=_read_opt_text(r),
        first_registration_be_date=_read_opt_int(r),
        import_country=_read_opt_text(r),
        euro_norm=_read_opt_text(r),
        co2_g_km=_read_opt_int(r),
        co2_test_procedure=_read_opt_enum(r, _CO2),
        fuel_type=_read_opt_text(r),
        electric_motor=_read_opt_bool(r),
        electric_range_km=_read_opt_int(r),
        counter_digits=_read_opt_int(r),
    )


def _put_ref(out: bytearray, event_id: str | None, positions: dict[str, int]) -> None:
    """``0`` none, ``1`` + id, ``2 + i`` the reading at index ``i``."""
    if event_id is None:
        out.append(0)
        return
    position = positions.get(event_id)
    if position is None:
        out.append(1)
        _put_id(out, event_id)
    else:
        _varint(out, position + 2)


def _read_ref(r: _Reader, readings: tuple[StoredReading, ...]) -> str | None:
    n = r.varint()
    if n == 0:
        return None
    if n == 1:
        return r.id()
    return readings[n - 2].event_id


def _put_anomalies(out: bytearray, state: VehicleState) -> None:
    _varint(out, len(state.anomalies))
    positions = {reading.event_id: index for index, reading in enumerate(state.readings)}
    for a in state.anomalies:
        out.append(_ANOMALY_KIND_INDEX[a.kind])
        _put_ref(out, a.blamed_event_id, positions)
        _varint(out, len(a.related_event_ids))
        for related in a.related_event_ids:
            _put_ref(out, related, positions)
        _opt_enum(out, a.cause, _CAUSE_INDEX)
        _opt_int(out, a.suggested_value)


def _read_anomalies(r: _Reader, readings: tuple[StoredReading, ...]) -> tuple[OpenAnomaly, ...]:
    anomalies = []
    for _ in range(r.varint()):
        kind = _ANOMALY_KINDS[r.byte()]
        blamed = _read_ref(r, readings)
        related = tuple(_read_ref(r, readings) or "" for _ in range(r.varint()))
        anomalies.append(OpenAnomaly(kind, blamed, related, _read_opt_enum(r, _CAUSES), _read_opt_int(r)))
    return tuple(anomalies)


# --- the state ---------------------------------------------------------------------------------------------


# Which sections a stored state has (one bit each, in this order).
_S_READINGS, _S_REJECTED, _S_DONE, _S_CLOSED, _S_REGISTRATION, _S_RECALLS, _S_ACCIDENT, _S_ANOMALIES = (
    1 << bit for bit in range(8)
)
_SOURCE_KINDS = len(_KINDS)


def encode_state(state: VehicleState) -> bytes:
    """The stored bytes of ``state`` (without its VIN, the table key)."""
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
    out = bytearray((VERSION, present))
    if present & (_S_READINGS | _S_REJECTED):
        sources: dict[Source, int] = {}
        for reading in (*state.readings, *state.rejected):
            source = (reading.provider_id, reading.provider_kind, reading.origin)
            if source not in sources:
                sources[source] = len(sources)
        _varint(out, len(sources))
        for provider_id, kind, origin in sources:
            _put_provider(out, provider_id)
            out.append(_ORIGIN_INDEX[origin] * _SOURCE_KINDS + _KIND_INDEX[kind])
        if state.readings:
            _put_readings(out, state.readings, sources, delta=True)
        if state.rejected:
            _put_readings(out, state.rejected, sources, delta=False)
    for ids in (state.done_ids, state.electronic_closed):
        if ids:
            _varint(out, len(ids))
            for value in ids:
                _put_id(out, value)
    if state.registration is not None:
        _put_registration(out, state.registration)
    if state.recalls:
        _varint(out, len(state.recalls))
        for recall in state.recalls:
            _text(out, recall.campaign_id)
            _text(out, recall.manufacturer)
            _text(out, recall.description)
            out.append(_RECALL_INDEX[recall.status])
            _time(out, recall.changed_at)
    if state.accident is not None:
        out.append(_ACCIDENT_INDEX[state.accident.status])
        _time(out, state.accident.changed_at)
    if state.anomalies:
        _put_anomalies(out, state)
    return bytes(out)


def decode_state(vin: str, data: bytes) -> VehicleState:
    """The state stored as ``data`` under key ``vin``. Raises :class:`StateCodecError` only."""
    if not data:
        raise StateCodecError(f"empty stored state for {vin!r}")
    if data[0] != VERSION:
        raise StateCodecError(f"stored state for {vin!r} has version {data[0]}; this worker reads {VERSION}")
    r = _Reader(data)
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
                readings = _read_readings(r, sources, delta=True)
            if present & _S_REJECTED:
                rejected = _read_readings(r, sources, delta=False)
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
    except (IndexError, UnicodeDecodeError, struct.error) as exc:
        raise StateCodecError(f"corrupt stored state for {vin!r}: {exc!r}") from exc
    if r.pos != len(data):
        raise StateCodecError(f"stored state for {vin!r} has {len(data) - r.pos} trailing bytes")
    state: VehicleState = _new_state(
        vin, readings, rejected, done_ids, closed, registration, recalls, accident, anomalies
    )
    return state


ENCODED_FIELDS: dict[type, tuple[str, ...]] = {
    VehicleState: (
        "vin", "readings", "rejected", "done_ids", "electronic_closed", "registration", "recalls",
        "accident", "anomalies",
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
}  # fmt: skip
"""The fields this version stores, per state class: a test compares them with the dataclasses, so a field
added to the state cannot be silently dropped from the stored form."""
