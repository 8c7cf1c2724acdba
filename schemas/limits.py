"""How long a client may make each string of an input record: the contract's bounds.

Said in the doc of each field of ``schemas/avro/*.avsc`` ("At most N characters."), enforced by the inflow
gateway (a 400 naming the field) and by the worker (the record is a dead letter, ``field-too-long``), so
that no client can grow a stored state, a view or a receipt with one long field. Whole records are bounded
too (``CARPASS_MAX_INPUT_BYTES``).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

DEFAULT_MAX_CHARS = 100
"""Identifiers, codes and names not listed in :data:`MAX_CHARS` (VINs, plates, provider ids, event ids…)."""
MAX_CHARS: dict[str, int] = {
    "work_description": 2_000,
    "justification": 2_000,
    "note": 2_000,
    "description": 2_000,
    "name": 200,
}
"""Field name -> the most characters it may hold, in every input record that has it."""
MAX_ITEMS = 32
"""The most items of a list of strings (a provider's NACE codes)."""


def max_chars(field: str) -> int:
    return MAX_CHARS.get(field, DEFAULT_MAX_CHARS)


_LIMITS: dict[type, tuple[tuple[str, int], ...]] = {}


def too_long(record: Any) -> str | None:
    """What is too long in ``record`` (a contract dataclass), in words, or ``None``. Runs per input event:
    the fields and their bounds are looked up once per record type."""
    limits = _LIMITS.get(type(record))
    if limits is None:
        limits = _LIMITS[type(record)] = tuple((f.name, max_chars(f.name)) for f in fields(record))
    for name, limit in limits:
        value = getattr(record, name)
        if isinstance(value, str):
            if len(value) > limit:
                return f"field {name!r} has {len(value):,} characters, more than {limit:,}"
        elif isinstance(value, tuple) and value and isinstance(value[0], str):
            if len(value) > MAX_ITEMS:
                return f"field {name!r} has {len(value)} items, more than {MAX_ITEMS}"
            longest = max(len(item) for item in value)
            if longest > limit:
                return f"an item of field {name!r} has {longest:,} characters, more than {limit:,}"
    return None
