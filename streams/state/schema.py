"""The stored form of a vehicle state, version 3: msgspec structs, encoded as MessagePack.

Every struct is ``array_like`` (a MessagePack array of its fields in declaration order: no field names are
stored) and ``forbid_unknown_fields`` (an array longer than the struct is refused, so a reader never half
reads what a newer writer wrote). The decoder (``msgspec.msgpack.Decoder(StoredState)``) checks every type
and bound in C: a wrong type, a negative index, a truncated value or bytes after it raise
``msgspec.DecodeError`` (``ValidationError`` is one).

Conventions (the translation to and from the domain is :mod:`streams.state.codec`):

* an enum is the index of its member in declaration order (``Idx``): members are only ever appended;
* a time is epoch milliseconds, an int (a reading's own times are relative: see ``StoredReadings``);
* a list of event ids is ``bytes`` (16 bytes a canonical UUID, back to back) when every id is a canonical
  UUID, else a list of texts; a list of error numbers is ``bytes`` (6 bytes a number) when every one is
  ``E`` + 12 upper-case hex digits, else a list of texts; an empty list is ``[]``;
* a reference to a reading (``Ref``) is its index in ``StoredState.readings`` when it is there, else its
  event id as text (``None`` for none).

The writer leaves out the trailing fields that are at their defaults (:func:`to_array`); the reader fills
them in.

Adding a field: append it to its struct **with a default**, and to the codec (both directions) and
``streams.state.codec.ENCODED_FIELDS``; add a golden state that sets it. Bytes written before it still read
(the missing field takes its default), so the version byte stays. A worker older than the field still reads
the states that leave it at its default, and refuses those that set it (an array longer than its struct)
with ``StateCodecError``, as it refuses an unknown version: every worker of the group must run the new
reader before any of them writes the field (stop them all, or deploy twice). Anything else (removing,
reordering or retyping a field, changing what a number means) needs a new version byte and a reader kept
for the old one, as :mod:`streams.state.legacy` is for versions 1 and 2.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

Idx = Annotated[int, msgspec.Meta(ge=0)]
"""An index: of an enum member, a source, a reading."""
Low32 = Annotated[int, msgspec.Meta(ge=0, lt=1 << 32)]
EnterpriseNumber = Annotated[int, msgspec.Meta(ge=0, lt=10**10)]
Ids = bytes | list[str]
"""Event ids (packed UUIDs) or error numbers (packed numbers), else texts."""
Ref = Idx | str | None
"""A reading: its index in the readings, else its event id; ``None``: no reading."""


class _Stored(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    """A MessagePack array of the fields, in declaration order; longer arrays are refused."""


class ReadingExtras(_Stored):
    """The rarely set fields of one reading (``index`` in its list); the others have their defaults."""

    index: Idx
    unit: Idx = 0
    odometer_replaced: bool = False
    counter_digits: int | None = None
    error_numbers: Ids = []


class StoredReadings(_Stored):
    """A list of readings, column by column (each list has one entry per reading, in order).

    ``observed_at`` is stored as the milliseconds since the previous reading's (the first: since the
    epoch), split into its high and low 32 bits (``gap_high``, ``gap_low``): MessagePack writes an int
    below 2**32 in 5 bytes and any larger one in 9, and a gap between two readings is often above 2**32 ms
    (50 days). ``values`` holds each value minus the previous one (the first: minus 0) unless
    ``absolute_values`` (a jump beyond what MessagePack's integers hold). ``submitted`` is
    ``submitted_at - observed_at``; ``sources`` indexes ``StoredState.sources``. Sorted histories make the
    numbers small: 31-33 bytes a reading, 16 of them its id. Work descriptions are a dictionary: the texts
    once, and a small number a reading (``works``): one byte more a reading.
    """

    ids: Ids
    gap_high: list[int]
    gap_low: list[Low32]
    values: list[int]
    submitted: list[int]
    sources: list[Idx]
    extras: list[ReadingExtras] = []
    absolute_values: bool = False
    work_texts: list[str] = []
    """The different work descriptions of the readings (R1's maintenance book), each once."""
    works: list[Idx] = []
    """Per reading: 0 for none, else 1 + its description's index in ``work_texts``; empty when no reading
    has one."""


class StoredRegistration(_Stored):
    kind: Idx
    effective_at: int
    first_registration_date: int
    imported_used: bool
    make: str
    model: str
    vehicle_category: str
    plate: str | None = None
    first_registration_be_date: int | None = None
    import_country: str | None = None
    euro_norm: str | None = None
    co2_g_km: int | None = None
    co2_test_procedure: Idx | None = None
    fuel_type: str | None = None
    electric_motor: bool | None = None
    electric_range_km: int | None = None
    counter_digits: int | None = None


class StoredRecall(_Stored):
    campaign_id: str
    manufacturer: str
    description: str
    status: Idx
    changed_at: int


class StoredAccident(_Stored):
    status: Idx
    changed_at: int


class StoredAnomaly(_Stored):
    kind: Idx
    blamed: Ref
    related: list[Idx | str] = []
    cause: Idx | None = None
    suggested_value: int | None = None
    restart: bool = False


class StoredConfirmation(_Stored):
    reading: Ref
    confirmed_at: int


Source = tuple[EnterpriseNumber | str, Idx, Idx]
"""``(provider_id, provider_kind, origin)`` of readings, stored once per state: a 10-digit provider id (an
enterprise number) as its int, any other as text."""


class StoredState(_Stored):
    """A ``VehicleState`` without its VIN (the table key); the sections from the most to the least often set,
    so that a typical state ends early (see :func:`to_array`)."""

    sources: list[Source]
    readings: StoredReadings | None = None
    registration: StoredRegistration | None = None
    recalls: list[StoredRecall] = []
    anomalies: list[StoredAnomaly] = []
    accident: StoredAccident | None = None
    rejected: StoredReadings | None = None
    done_ids: Ids = []
    electronic_closed: Ids = []
    confirmations: list[StoredConfirmation] = []


_NO_DEFAULT = object()


def _defaults(cls: type[_Stored]) -> tuple[Any, ...]:
    return tuple(
        f.default if f.default is not msgspec.NODEFAULT
        else f.default_factory() if f.default_factory is not msgspec.NODEFAULT
        else _NO_DEFAULT
        for f in msgspec.structs.fields(cls)
    )  # fmt: skip


_DEFAULTS = {cls: _defaults(cls) for cls in _Stored.__subclasses__()}


def to_array(value: _Stored) -> Any:
    """``value`` as the MessagePack array its struct reads, without the trailing fields at their defaults.

    msgspec writes every field of an array-like struct (jcrist/msgspec#720), and its reader fills in missing
    trailing fields with their defaults: the writer passes these arrays where the reader has structs (typed
    ``Any`` for that), so that an unset section, or a field added later and left at its default, costs no
    byte, and a worker older than that field still reads the bytes."""
    fields = msgspec.structs.astuple(value)
    defaults = _DEFAULTS[type(value)]
    end = len(fields)
    while end and fields[end - 1] == defaults[end - 1]:
        end -= 1
    return fields[:end]
