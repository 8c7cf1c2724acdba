"""The binary primitives of stored states of versions 1 and 2 (:mod:`streams.state.legacy`): readers only.

* integers are LEB128 varints, signed ones zigzagged;
* a *time* (epoch ms) is a zigzag varint of whole seconds shifted left by one, the low bit saying that a
  varint of the leftover milliseconds follows;
* an id is a tag byte then 16 raw bytes (a canonical lower-case UUID), 6 (an error number, ``E`` + 12
  upper-case hex digits) or a text; a provider id is the varint ``2n`` (a 10-digit number ``n``) or
  ``2 length + 1`` followed by UTF-8;
* an optional value spends one byte, or nothing extra, on its absence (``read_opt_*``).

Readers raise ``IndexError`` past the end; the reader of the state turns that into a ``StateCodecError``.
"""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

E = TypeVar("E", bound=Enum)

# Id tags.
_ID_UUID, _ID_ERROR_NUMBER, _ID_TEXT = 0, 1, 2


class BinaryError(ValueError):
    """Bytes that are not what a reader expects (an unknown tag)."""


def uuid_text(raw: bytes) -> str:
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Reader:
    """A cursor over stored bytes; every read raises ``IndexError`` past the end."""

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


def read_opt_int(r: Reader) -> int | None:
    n = r.varint()
    if n == 0:
        return None
    n -= 1
    return (n >> 1) ^ -(n & 1)


def read_opt_text(r: Reader) -> str | None:
    n = r.varint()
    return None if n == 0 else r.raw(n - 1).decode()


def read_opt_enum(r: Reader, members: tuple[E, ...]) -> E | None:
    n = r.byte()
    return None if n == 0 else members[n - 1]


def read_opt_bool(r: Reader) -> bool | None:
    n = r.byte()
    return None if n == 0 else n == 2
