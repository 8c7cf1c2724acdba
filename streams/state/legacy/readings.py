"""A list of ``StoredReading`` in a stored state of version 1 or 2 (:mod:`streams.state.legacy`), packed
column-wise: the reader.

::

    count:n  layout:1  widths:1  struct block  ids  extras
    struct block = seconds (zigzag deltas) | values (zigzag deltas) | submitted - observed seconds |
                   source indexes | [observed ms] | [submitted ms] | [flags]
    ids          = 16 raw bytes each when all are UUIDs, else one text each
    extras       = per reading with flags, in order: [counter_digits:n] [error_numbers:n {id}*]

Each of the four numeric columns was packed at the narrowest of 1/2/4/8 bytes that held all of it (two
bits each in ``widths``). Sorted readings store deltas (``delta=True``) unless the layout says absolute
values; the readings kept aside (rejected) store absolute values.
"""

from __future__ import annotations

import struct

from schemas.records import Origin, ProviderKind, Unit
from streams.domain.fastbuild import builder
from streams.domain.state import StoredReading
from streams.state.legacy.binary import Reader

Source = tuple[str, ProviderKind, Origin]
"""``(provider_id, provider_kind, origin)``: stored once per state, referred to by index."""

_MILES = Unit.MILES
_new_reading = builder(StoredReading)

_WIDTH_CODES = "BHIQ"
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
                work_description=None,  # not kept before version 3's work column
            )
        )
    return tuple(readings)
