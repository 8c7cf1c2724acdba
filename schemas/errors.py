"""Exceptions of the ``schemas`` package, under one root.

::

    SchemaError                 anything the schemas package refuses
    ├── DecodeError             bytes -> record failed; ``problem`` says which way (a DecodeProblem)
    ├── EncodeError             record -> bytes failed (not a contract record, invalid field value,
    │                           schema registry refused or unreachable)
    └── JsonLineError           a JSON Lines line could not become a record; ``line`` and ``field`` name it

A ``DecodeError`` is what a consumer turns into a ``DeadLetter``: ``str(error)`` is the ``reason`` and
``error.problem`` the ``error_type``. Only ``DecodeProblem.REGISTRY_UNAVAILABLE`` is transient (retry rather
than dead-letter).
"""

from __future__ import annotations

from enum import StrEnum


class DecodeProblem(StrEnum):
    """Why bytes could not be decoded; the values are stable (used as ``DeadLetter.error_type``)."""

    TRUNCATED = "truncated"
    """Fewer bytes than the framing or the writer schema needs (including an empty value)."""
    WRONG_MAGIC = "wrong-magic"
    """Neither ``0xC3 0x01`` (single-object) nor ``0x00`` (Confluent) at the start."""
    UNKNOWN_SCHEMA = "unknown-schema"
    """The fingerprint or schema id names no schema we can read (or Confluent framing with no registry)."""
    UNEXPECTED_TYPE = "unexpected-type"
    """A valid contract record, but not one this topic carries."""
    INVALID_VALUE = "invalid-value"
    """The payload does not match the writer schema, has trailing bytes, or a field value is not allowed."""
    REGISTRY_UNAVAILABLE = "registry-unavailable"
    """The schema registry could not be asked (transient)."""


class SchemaError(Exception):
    """Root of the ``schemas`` package's exceptions."""


class DecodeError(SchemaError):
    """Bytes could not be decoded into a contract record; ``problem`` classifies it."""

    def __init__(self, problem: DecodeProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem

    @property
    def transient(self) -> bool:
        """The bytes may well be fine: try again later rather than dead-letter them."""
        return self.problem is DecodeProblem.REGISTRY_UNAVAILABLE


class EncodeError(SchemaError):
    """A record could not be encoded."""


class JsonLineError(SchemaError):
    """A JSON Lines line is not a valid contract record.

    ``str(error)`` reads ``line 7: field 'odometer_value': expected integer, got "12a"``; ``line`` is
    1-based (``None`` when not parsing a file) and ``field`` a dotted path (``issues[0].severity``) or
    ``None`` when the whole line is at fault.
    """

    def __init__(self, message: str, *, line: int | None = None, field: str | None = None) -> None:
        self.line = line
        self.field = field
        self.detail = message
        prefix = f"line {line}: " if line is not None else ""
        where = f"field '{field}': " if field is not None else ""
        super().__init__(f"{prefix}{where}{message}")
