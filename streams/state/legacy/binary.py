"""The binary primitives of the stored state (:mod:`streams.state.codec`): varints, times, text, ids.

* integers are LEB128 varints (``varint``), signed ones zigzagged (``signed``);
* a *time* (epoch ms) is a zigzag varint of whole seconds shifted left by one, the low bit saying that a
  varint of the leftover milliseconds follows (``put_time``): 4-5 bytes for an instant, 2-3 for a delta;
* ids are 16 raw bytes when they are canonical lower-case UUIDs, 6 when they are error numbers (``E`` +
  12 upper-case hex digits), else text (``put_id``); a 10-digit provider id is a number (``put_provider``);
* optional values (``put_opt_*``) spend one byte, or nothing extra, on their absence.

Readers raise ``IndexError`` past the end; :func:`streams.state.codec.decode_state` turns that into a
``StateCodecError``.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

E = TypeVar("E", bound=Enum)

# Id tags (see put_id).
_ID_UUID, _ID_ERROR_NUMBER, _ID_TEXT = 0, 1, 2
_HEX_UPPER = frozenset("0123456789ABCDEF")


class BinaryError(ValueError):
    """Bytes that are not what a reader expects (an unknown tag)."""


def members(enum: type[E]) -> tuple[tuple[E, ...], dict[E, int]]:
    """An enum's members in declaration order, and member -> index (stored enums are indexes: append new
    members at the end only)."""
    values = tuple(enum)
    return values, {member: index for index, member in enumerate(values)}


# --- numbers and text ------------------------------------------------------------------------------------


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


class Reader:
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
            return uuid_text(self.raw(16))
        if tag == _ID_ERROR_NUMBER:
            return "E" + self.raw(6).hex().upper()
        if tag == _ID_TEXT:
            return self.text()
        raise BinaryError(f"unknown id tag {tag}")

    def provider(self) -> str:
        n = self.varint()
        if n & 1:
            return self.raw(n >> 1).decode()
        return f"{n >> 1:010d}"


# --- optional values ---------------------------------------------------------------------------------------


def put_opt_int(out: bytearray, value: int | None) -> None:
    if value is None:
        out.append(0)
    else:
        varint(out, ((value << 1) if value >= 0 else ((-value << 1) - 1)) + 1)


def read_opt_int(r: Reader) -> int | None:
    n = r.varint()
    if n == 0:
        return None
    n -= 1
    return (n >> 1) ^ -(n & 1)


def put_opt_text(out: bytearray, value: str | None) -> None:
    if value is None:
        out.append(0)
    else:
        raw = value.encode()
        varint(out, len(raw) + 1)
        out += raw


def read_opt_text(r: Reader) -> str | None:
    n = r.varint()
    return None if n == 0 else r.raw(n - 1).decode()


def put_opt_enum(out: bytearray, value: Any, index: dict[Any, int]) -> None:
    out.append(0 if value is None else index[value] + 1)


def read_opt_enum(r: Reader, members: tuple[E, ...]) -> E | None:
    n = r.byte()
    return None if n == 0 else members[n - 1]


def put_opt_bool(out: bytearray, value: bool | None) -> None:
    out.append(0 if value is None else 2 if value else 1)


def read_opt_bool(r: Reader) -> bool | None:
    n = r.byte()
    return None if n == 0 else n == 2
