"""The catalogue of contract records: each record type with its Avro schema, loaded and parsed once.

::

    schemas/avro/<Name>.avsc ──load──► RecordSchema: JSON, expanded JSON, canonical form, fingerprint,
                                         fastavro schema (logical types stripped), dict <-> dataclass
                                       ──► schemas.codec (bytes), schemas.jsonl (JSON Lines)

Invariants (tested): one ``.avsc`` per record type of :data:`RECORD_TYPES`, named as the dataclass, in
namespace ``carpass.events``; the dataclass fields are exactly the schema's fields; an enum or nested record
of a given name has the same symbols / fields in every file that defines it.

Logical types are stripped before fastavro parses a schema, so decoding yields plain ``int`` timestamps and
dates (the records' convention) without datetime conversions; the Parsing Canonical Form, hence the
fingerprint, ignores ``logicalType``, so the wire format is unchanged.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeAlias

import fastavro
from fastavro.schema import fingerprint as _fastavro_fingerprint
from fastavro.schema import to_parsing_canonical_form

from schemas.records import (
    INPUT_TOPICS,
    OUTPUT_TOPICS,
    RECORD_TOPICS,
    AccidentInspectionState,
    AccidentInspectionStatus,
    AnomalyEvent,
    AnomalyKind,
    AnomalyStatus,
    CertificateIssued,
    Co2TestProcedure,
    CorrectionChannel,
    CorrectionRequest,
    DeadLetter,
    Issue,
    Judgment,
    OdometerReading,
    Origin,
    PlateOdometerReading,
    ProviderKind,
    ProviderRegistration,
    ReadingConfirmation,
    RecallState,
    RecallStatus,
    Receipt,
    ReceiptStatus,
    RegistrationKind,
    Severity,
    SuspectedCause,
    Unit,
    VehicleRegistration,
)
from schemas.views import (
    VIEW_RECORD_TOPICS,
    CertificateAnomaly,
    CertificateReading,
    CertificateView,
    OkLabelDenial,
    OkLabelView,
    OpenRecall,
    ProviderQuality,
    ProviderYear,
)

NAMESPACE = "carpass.events"
SCHEMA_DIR = Path(__file__).with_name("avro")
HISTORY_DIR = SCHEMA_DIR / "history"
SINGLE_OBJECT_MAGIC = b"\xc3\x01"

AnyRecord: TypeAlias = (
    OdometerReading | PlateOdometerReading | CorrectionRequest | VehicleRegistration | RecallStatus
    | AccidentInspectionStatus | ProviderRegistration | ReadingConfirmation | Receipt | AnomalyEvent
    | DeadLetter | CertificateView | OkLabelView | ProviderQuality | CertificateIssued
)
"""Any top-level contract record (one ``.avsc`` each)."""

RECORD_TYPES: tuple[type[AnyRecord], ...] = (
    OdometerReading, PlateOdometerReading, CorrectionRequest, VehicleRegistration, RecallStatus,
    AccidentInspectionStatus, ProviderRegistration, ReadingConfirmation, Receipt, AnomalyEvent,
    DeadLetter, CertificateView, OkLabelView, ProviderQuality, CertificateIssued,
)  # fmt: skip

NESTED_TYPES: dict[str, type] = {
    t.__name__: t
    for t in (Issue, CertificateReading, CertificateAnomaly, OpenRecall, ProviderYear)
}
"""Records that only appear inside a top-level record, by Avro name."""

ENUM_TYPES: dict[str, type[StrEnum]] = {
    t.__name__: t
    for t in (
        Unit, ProviderKind, Origin, CorrectionChannel, RegistrationKind, Co2TestProcedure, RecallState,
        AccidentInspectionState, ReceiptStatus, Severity, AnomalyKind, AnomalyStatus, SuspectedCause,
        Judgment, OkLabelDenial,
    )
}  # fmt: skip
"""Avro enum name -> StrEnum class (member values are the Avro symbols)."""

TOPICS: dict[type, str] = {**INPUT_TOPICS, **OUTPUT_TOPICS, **VIEW_RECORD_TOPICS, **RECORD_TOPICS}
"""Record type -> the contract topic that carries it."""

_KEY_FIELDS: dict[type, str] = {
    PlateOdometerReading: "plate",
    ProviderRegistration: "provider_id",
    ProviderQuality: "provider_id",
    CertificateIssued: "number",
}

_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_INT32 = (-(2**31), 2**31 - 1)

Decoder: TypeAlias = Callable[[Any], Any]


def key_of(record: AnyRecord) -> str:
    """The Kafka key of ``record``: the VIN, except the plate for ``PlateOdometerReading``, the provider id
    for ``ProviderRegistration``/``ProviderQuality``, the number for ``CertificateIssued``, and
    ``"<topic>/<partition>/<offset>"`` (its source coordinates, unique) for ``DeadLetter``."""
    if isinstance(record, DeadLetter):
        return f"{record.topic}/{record.partition}/{record.offset}"
    value: str = getattr(record, _KEY_FIELDS.get(type(record), "vin"))
    return value


def strip_logical_types(schema: Any) -> Any:
    """A deep copy of ``schema`` (Avro JSON) without ``logicalType`` keys."""
    if isinstance(schema, dict):
        return {k: strip_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [strip_logical_types(v) for v in schema]
    return schema


def expand_named_types(schema: Any) -> Any:
    """A copy of ``schema`` where every reference to a named type (by short or full name) is replaced by its
    definition, so walkers need no symbol table."""
    names: dict[str, Any] = {}

    def walk(node: Any, namespace: str) -> Any:
        if isinstance(node, str):
            if node in _PRIMITIVES:
                return node
            return names.get(node) or names[f"{namespace}.{node}"]
        if isinstance(node, list):
            return [walk(n, namespace) for n in node]
        kind = node["type"]
        if kind in ("record", "enum", "fixed"):
            ns = node.get("namespace", namespace)
            full = node["name"] if "." in node["name"] else f"{ns}.{node['name']}"
            out = dict(node)
            names[full] = names[full.rsplit(".", 1)[1]] = out
            if kind == "record":
                out["fields"] = [{**f, "type": walk(f["type"], ns)} for f in node["fields"]]
            return out
        if kind == "array":
            return {**node, "items": walk(node["items"], namespace)}
        if kind == "map":
            return {**node, "values": walk(node["values"], namespace)}
        return node if isinstance(kind, str) and kind in _PRIMITIVES else walk(kind, namespace)

    return walk(schema, schema.get("namespace", ""))


def fingerprint(schema: Any) -> bytes:
    """CRC-64-AVRO fingerprint of ``schema``'s Parsing Canonical Form: 8 bytes, little-endian (as in the
    single-object header; fastavro's hex string is already in that byte order)."""
    return bytes.fromhex(_fastavro_fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


def parse_for_fastavro(schema: Any) -> Any:
    """fastavro's parsed form of ``schema`` with logical types stripped (fresh named-type table)."""
    return fastavro.parse_schema(strip_logical_types(schema), named_schemas={})


def load_schema_file(path: Path) -> dict[str, Any]:
    """The JSON object of one ``.avsc`` file."""
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def history_files(name: str) -> tuple[tuple[int, Path], ...]:
    """The committed previous versions of record ``name``: ``(version, path)`` sorted by version."""
    directory = HISTORY_DIR / name
    found = [(int(p.stem[1:]), p) for p in directory.glob("v*.avsc") if p.stem[1:].isdigit()]
    return tuple(sorted(found))


@dataclass(frozen=True, slots=True, eq=False)
class RecordSchema:
    """One contract record type with its schema, ready for the codecs."""

    record_type: type[AnyRecord]
    name: str
    """Avro short name, equal to the dataclass name."""
    full_name: str
    topic: str
    schema: Mapping[str, Any]
    """The ``.avsc`` JSON as written (with logical types and docs)."""
    expanded: Mapping[str, Any]
    """``schema`` with named-type references replaced by their definitions."""
    canonical_form: str
    fingerprint: bytes
    """8 bytes, little-endian CRC-64-AVRO of ``canonical_form``."""
    header: bytes
    """Single-object header: ``0xC3 0x01`` + fingerprint."""
    parsed: Any
    """fastavro parsed schema, logical types stripped."""
    to_record: Callable[[dict[str, Any]], AnyRecord]
    """Avro datum (the dict fastavro returns; may be modified) -> dataclass."""
    to_datum: Callable[[AnyRecord], dict[str, Any]]
    """Dataclass -> Avro datum for fastavro; raises ``ValueError`` for an out-of-range ``int``."""


def field_decoder(node: Any) -> Decoder | None:
    """Converter from a fastavro value of (expanded) type ``node`` to the dataclass value; ``None`` when
    the value is already right."""
    if isinstance(node, list):
        branches = [b for b in node if b != "null"]
        if len(branches) != 1 or len(node) != 2:
            raise TypeError(f"unsupported union {node!r}: only [null, T]")
        inner = field_decoder(branches[0])
        if inner is None:
            return None
        return lambda v: None if v is None else inner(v)
    if isinstance(node, str):
        return None
    kind = node["type"]
    if kind == "enum":
        members = {m.value: m for m in ENUM_TYPES[node["name"]]}
        return members.__getitem__
    if kind == "array":
        item = field_decoder(node["items"])
        if item is None:
            return tuple
        return lambda v: tuple(map(item, v))
    if kind == "record":
        return _record_decoder(NESTED_TYPES[node["name"]], node)
    return None


def _record_decoder(cls: type, node: Mapping[str, Any]) -> Callable[[dict[str, Any]], Any]:
    """Datum dict -> ``cls``. Fills the slots directly (2.5x faster than ``cls(**d)`` for a frozen slotted
    dataclass); classes with a ``__post_init__`` go through ``__init__`` so their checks run."""
    steps = [(f["name"], field_decoder(f["type"])) for f in node["fields"]]
    if hasattr(cls, "__post_init__"):
        convs = [(name, conv) for name, conv in steps if conv is not None]

        def construct(d: dict[str, Any]) -> Any:
            for name, conv in convs:
                d[name] = conv(d[name])
            return cls(**d)

        return construct

    setters = [(getattr(cls, name).__set__, name, conv) for name, conv in steps]
    new = object.__new__

    def fill(d: dict[str, Any]) -> Any:
        record: Any = new(cls)
        for set_slot, name, conv in setters:
            value = d[name]
            set_slot(record, value if conv is None else conv(value))
        return record

    return fill


def _check_int(value: Any) -> Any:
    if isinstance(value, int) and not _INT32[0] <= value <= _INT32[1]:
        raise ValueError(f"{value} is out of range for Avro int")
    return value


def _encoder(node: Any) -> Decoder | None:
    """Converter from a dataclass value to what fastavro writes; ``None`` when none is needed (tuples are
    sequences)."""
    if isinstance(node, list):
        inner = _encoder(next(b for b in node if b != "null"))
        if inner is None:
            return None
        return lambda v: None if v is None else inner(v)
    if isinstance(node, str):
        return _check_int if node == "int" else None
    kind = node["type"]
    if kind == "array":
        item = _encoder(node["items"])
        return None if item is None else (lambda v: [item(x) for x in v])
    if kind == "record":
        return _record_encoder(node)
    if kind == "int":
        return _check_int
    if kind == "enum":
        # A ``StrEnum`` member is a ``str``, but fastavro writes plain ``str`` symbols twice as fast
        # (a certificate view: 120 -> 60 µs); ``str()`` of a member is its value, of a str itself.
        return str
    return None


def _record_encoder(node: Mapping[str, Any]) -> Callable[[Any], dict[str, Any]]:
    names = tuple(f["name"] for f in node["fields"])
    getter = operator.attrgetter(*names)
    convs = [(f["name"], c) for f in node["fields"] if (c := _encoder(f["type"])) is not None]
    single = len(names) == 1  # attrgetter of one name returns the value, not a 1-tuple

    def encode(record: Any) -> dict[str, Any]:
        values = getter(record)
        datum = dict(zip(names, (values,) if single else values, strict=True))
        for name, conv in convs:
            datum[name] = conv(datum[name])
        return datum

    return encode


def _build(record_type: type[AnyRecord]) -> RecordSchema:
    name = record_type.__name__
    schema = load_schema_file(SCHEMA_DIR / f"{name}.avsc")
    expanded = expand_named_types(schema)
    field_names = [f["name"] for f in expanded["fields"]]
    dc_names = [f.name for f in fields(record_type)]
    if sorted(field_names) != sorted(dc_names):
        raise TypeError(f"{name}: schema fields {field_names} != dataclass fields {dc_names}")
    fp = fingerprint(schema)
    return RecordSchema(
        record_type=record_type,
        name=name,
        full_name=f"{schema.get('namespace', NAMESPACE)}.{schema['name']}",
        topic=TOPICS[record_type],
        schema=schema,
        expanded=expanded,
        canonical_form=to_parsing_canonical_form(schema),
        fingerprint=fp,
        header=SINGLE_OBJECT_MAGIC + fp,
        parsed=parse_for_fastavro(schema),
        to_record=_record_decoder(record_type, expanded),
        to_datum=_record_encoder(expanded),
    )


SCHEMAS: dict[type, RecordSchema] = {t: _build(t) for t in RECORD_TYPES}
"""Record type -> its schema, built once at import."""

BY_NAME: dict[str, RecordSchema] = {
    **{rs.name: rs for rs in SCHEMAS.values()},
    **{rs.full_name: rs for rs in SCHEMAS.values()},
}
"""Short and full Avro name -> schema."""


def schema_for(record_type: type) -> RecordSchema:
    """The schema of a top-level contract record type; ``KeyError`` for anything else."""
    return SCHEMAS[record_type]
