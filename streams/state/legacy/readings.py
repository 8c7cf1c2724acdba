"""A list of ``StoredReading`` in the stored state (:mod:`streams.state.codec`), packed column-wise.

::

    count:n  layout:1  widths:1  struct block  ids  extras
    struct block = seconds (zigzag deltas) | values (zigzag deltas) | submitted - observed seconds |
                   source indexes | [observed ms] | [submitted ms] | [flags]
    ids          = 16 raw bytes each when all are UUIDs, else one text each
    extras       = per reading with flags, in order: [counter_digits:n] [error_numbers:n {id}*]

Each of the four numeric columns is packed at the narrowest of 1/2/4/8 bytes that holds all of it (two
bits each in ``widths``), with one ``struct`` call for the whole block: decoding a history is one C call
plus one object per reading, which is what keeps loading a state cheap on the hot path. Sorted readings
store deltas (``delta=True``); the readings kept aside (rejected) store absolute values.
"""

from __future__ import annotations

import struct

from schemas.records import Origin, ProviderKind, Unit
from streams.domain.fastbuild import builder
from streams.domain.state import StoredReading
from streams.state.binary import Reader, put_id, put_text, signed, uuid_bytes, varint

Source = tuple[str, ProviderKind, Origin]
"""``(provider_id, provider_kind, origin)``: stored once per state, referred to by index."""

_MILES = Unit.MILES
_new_reading = builder(StoredReading)


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


def read_readings(r: Reader, sources: list[Source], delta: bool) -> tuple[StoredReading, ...]:
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
                event_id=ids[index],
                observed_at=observed,
                value=value,
                unit=miles if flags & _R_MILES else km,
                provider_id=provider_id,
                provider_kind=kind,
                origin=origin,
                submitted_at=observed + ((n >> 1) ^ -(n & 1)) * 1000 + submitted_ms[index],
                odometer_replaced=bool(flags & _R_REPLACED),
                counter_digits=digits,
                error_numbers=error_numbers,
            )
        )
    return tuple(readings)
