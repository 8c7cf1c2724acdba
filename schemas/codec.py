"""Avro values on the wire <-> contract records (the contract's wire format).

::

    record ──encode──► header + Avro binary          header: 0xC3 0x01 + 8-byte LE CRC-64-AVRO fingerprint
                                                              (single-object, default), or
                                                              0x00 + 4-byte BE schema id (Confluent,
                                                              when a registry is given)
    bytes ──decode──► record        framing detected from the first byte; writer schema looked up by
                                    fingerprint (current and committed previous versions) or schema id,
                                    then resolved to the current reader schema

Records are the dataclasses of :mod:`schemas.records` / :mod:`schemas.views`. Every schema is parsed once
(:mod:`schemas.catalog`); fastavro reads with logical types stripped, so timestamps and dates stay ``int``.
For the hot loop, :meth:`Codec.decode_dict` skips the dataclass and returns fastavro's dict.

Failures raise :class:`~schemas.errors.DecodeError` (with a :class:`~schemas.errors.DecodeProblem`) or
:class:`~schemas.errors.EncodeError`; nothing else escapes ``decode``/``encode``.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, overload

from fastavro import schemaless_reader, schemaless_writer

from schemas.catalog import (
    BY_NAME,
    SCHEMAS,
    SINGLE_OBJECT_MAGIC,
    AnyRecord,
    RecordSchema,
    field_decoder,
    fingerprint,
    history_files,
    load_schema_file,
    parse_for_fastavro,
)
from schemas.errors import DecodeError, DecodeProblem, EncodeError

R = TypeVar("R")

CONFLUENT_MAGIC = 0
_SO_HEADER_LEN = 10
_CF_HEADER_LEN = 5


class SchemaRegistry(Protocol):
    """What the codec asks a Confluent-compatible schema registry."""

    def register(self, subject: str, schema_json: str) -> int:
        """Register (or find) ``schema_json`` under ``subject``; return its global schema id."""
        ...

    def schema_json(self, schema_id: int) -> str:
        """The schema text of ``schema_id``; ``KeyError`` if the registry does not know it; any other
        exception means the registry could not be asked."""
        ...


class ConfluentRegistry:
    """:class:`SchemaRegistry` over ``confluent_kafka.schema_registry.SchemaRegistryClient``.

    ``ConfluentRegistry.from_url("mock://name")`` gives confluent-kafka's in-memory registry (tests).
    """

    def __init__(self, client: Any) -> None:
        self._client = client

    @classmethod
    def from_url(cls, url: str) -> ConfluentRegistry:
        from confluent_kafka.schema_registry import SchemaRegistryClient  # heavy; only with a registry

        return cls(SchemaRegistryClient.new_client({"url": url}))

    def register(self, subject: str, schema_json: str) -> int:
        from confluent_kafka.schema_registry import Schema

        schema_id: int = self._client.register_schema(subject, Schema(schema_json, "AVRO"))
        return schema_id

    def schema_json(self, schema_id: int) -> str:
        from confluent_kafka.schema_registry import SchemaRegistryError

        try:
            schema = self._client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise KeyError(schema_id) from exc
            raise
        text: str = schema.schema_str
        return text


@dataclass(frozen=True, slots=True)
class _Writer:
    """A writer schema we can read: fastavro's parsed writer and reader (``None``: same as writer)."""

    record: RecordSchema
    parsed: Any
    reader: Any | None


def _known_writers() -> dict[bytes, _Writer]:
    """Fingerprint -> writer, for every current schema and every committed previous version."""
    writers: dict[bytes, _Writer] = {}
    for rs in SCHEMAS.values():
        for _version, path in history_files(rs.name):
            old = load_schema_file(path)
            fp = fingerprint(old)
            if fp != rs.fingerprint:
                writers[fp] = _Writer(rs, parse_for_fastavro(old), rs.parsed)
        writers[rs.fingerprint] = _Writer(rs, rs.parsed, None)
    return writers


_KNOWN_WRITERS = _known_writers()


class Codec:
    """Encodes records and decodes values of either framing.

    Without ``registry`` it writes single-object encoding and rejects Confluent-framed values; with one
    it writes Confluent framing (subject ``<topic>-value``, schemas registered on first use) and reads both.
    Safe to share between threads: its caches only gain entries, and a race merely asks the registry twice.
    """

    def __init__(self, registry: SchemaRegistry | None = None) -> None:
        self._registry = registry
        self._ids: dict[tuple[type, str], bytes] = {}
        self._by_id: dict[int, _Writer] = {}

    @property
    def framing(self) -> str:
        """``"confluent"`` or ``"single-object"``: what :meth:`encode` writes."""
        return "confluent" if self._registry is not None else "single-object"

    # --- encode ----------------------------------------------------------------------------------------

    def encode(self, record: AnyRecord, *, topic: str | None = None) -> bytes:
        """The framed Avro value of ``record``. ``topic`` (default: the record's contract topic) only
        names the registry subject ``<topic>-value``."""
        rs = SCHEMAS.get(type(record))
        if rs is None:
            raise EncodeError(f"{type(record).__name__} is not a contract record type")
        header = rs.header if self._registry is None else self._confluent_header(rs, topic or rs.topic)
        out = io.BytesIO()
        out.write(header)
        try:
            schemaless_writer(out, rs.parsed, rs.to_datum(record))
        except (TypeError, ValueError, OverflowError, AttributeError, KeyError) as exc:
            raise EncodeError(f"cannot encode {rs.name}: {exc}") from exc
        return out.getvalue()

    def _confluent_header(self, rs: RecordSchema, topic: str) -> bytes:
        key = (rs.record_type, topic)
        header = self._ids.get(key)
        if header is None:
            assert self._registry is not None
            try:
                schema_id = self._registry.register(f"{topic}-value", json.dumps(rs.schema))
            except Exception as exc:
                raise EncodeError(f"schema registry refused {rs.name} for {topic}-value: {exc}") from exc
            header = bytes([CONFLUENT_MAGIC]) + schema_id.to_bytes(4, "big")
            self._ids[key] = header
            self._by_id.setdefault(schema_id, _KNOWN_WRITERS[rs.fingerprint])
        return header

    # --- decode ----------------------------------------------------------------------------------------

    def decode_dict(self, data: bytes) -> tuple[RecordSchema, dict[str, Any]]:
        """Fast path: the record's schema and fastavro's dict of it (current reader schema's fields;
        timestamps/dates ``int``, enums ``str``, arrays ``list``). Raises :class:`DecodeError`."""
        writer, start = self._writer_of(data)
        buf = io.BytesIO(data)
        buf.seek(start)
        name = writer.record.name
        try:
            datum: dict[str, Any] = schemaless_reader(buf, writer.parsed, writer.reader)  # type: ignore[assignment]
        except EOFError as exc:
            raise DecodeError(
                DecodeProblem.TRUNCATED,
                f"truncated {name} payload ({len(data) - start} bytes after the header): {exc}",
            ) from exc
        except Exception as exc:  # fastavro raises many kinds; all mean "not a valid payload"
            raise DecodeError(
                DecodeProblem.INVALID_VALUE, f"invalid {name} payload: {type(exc).__name__}: {exc}"
            ) from exc
        if buf.tell() != len(data):
            raise DecodeError(
                DecodeProblem.INVALID_VALUE,
                f"{name} payload has {len(data) - buf.tell()} trailing bytes (written with another schema?)",
            )
        return writer.record, datum

    @overload
    def decode(self, data: bytes, expected: type[R]) -> R: ...

    @overload
    def decode(self, data: bytes, expected: tuple[type, ...] | None = None) -> AnyRecord: ...

    def decode(self, data: bytes, expected: type | tuple[type, ...] | None = None) -> Any:
        """The record in ``data``. ``expected`` (a type or tuple of types) rejects other record types with
        ``DecodeProblem.UNEXPECTED_TYPE``. Raises :class:`DecodeError` only."""
        rs, datum = self.decode_dict(data)
        if expected is not None:
            wanted = expected if isinstance(expected, tuple) else (expected,)
            if rs.record_type not in wanted:
                names = " or ".join(t.__name__ for t in wanted)
                raise DecodeError(
                    DecodeProblem.UNEXPECTED_TYPE, f"record {rs.name} is not expected here (expected {names})"
                )
        try:
            return rs.to_record(datum)
        except Exception as exc:
            raise DecodeError(DecodeProblem.INVALID_VALUE, self._explain_invalid(rs, data, exc)) from exc

    def _explain_invalid(self, rs: RecordSchema, data: bytes, exc: Exception) -> str:
        """Slow path: name the field whose decoded value the dataclass refuses."""
        _, datum = self.decode_dict(data)  # to_record may have changed the first dict
        for field in rs.expanded["fields"]:
            conv = field_decoder(field["type"])
            if conv is None:
                continue
            try:
                conv(datum[field["name"]])
            except Exception:
                return f"{rs.name} field '{field['name']}': value {datum[field['name']]!r} is not allowed"
        return f"{rs.name}: {type(exc).__name__}: {exc}"

    # --- framing ---------------------------------------------------------------------------------------

    def _writer_of(self, data: bytes) -> tuple[_Writer, int]:
        if not data:
            raise DecodeError(DecodeProblem.TRUNCATED, "empty value: no framing header")
        first = data[0]
        if first == SINGLE_OBJECT_MAGIC[0]:
            if len(data) >= 2 and data[1] != SINGLE_OBJECT_MAGIC[1]:
                raise DecodeError(DecodeProblem.WRONG_MAGIC, f"wrong magic {data[:2].hex()}: expected c301")
            if len(data) < _SO_HEADER_LEN:
                raise DecodeError(
                    DecodeProblem.TRUNCATED,
                    f"truncated single-object header: {len(data)} of {_SO_HEADER_LEN} bytes",
                )
            writer = _KNOWN_WRITERS.get(data[2:_SO_HEADER_LEN])
            if writer is None:
                raise DecodeError(
                    DecodeProblem.UNKNOWN_SCHEMA,
                    f"unknown schema fingerprint {data[2:_SO_HEADER_LEN].hex()} (single-object encoding): "
                    "not a schema in schemas/avro nor a committed previous version",
                )
            return writer, _SO_HEADER_LEN
        if first == CONFLUENT_MAGIC:
            if len(data) < _CF_HEADER_LEN:
                raise DecodeError(
                    DecodeProblem.TRUNCATED,
                    f"truncated Confluent header: {len(data)} of {_CF_HEADER_LEN} bytes",
                )
            return self._writer_by_id(int.from_bytes(data[1:_CF_HEADER_LEN], "big")), _CF_HEADER_LEN
        raise DecodeError(
            DecodeProblem.WRONG_MAGIC,
            f"wrong magic {data[:4].hex()}: neither single-object (c301) nor Confluent (00) framing",
        )

    def _writer_by_id(self, schema_id: int) -> _Writer:
        writer = self._by_id.get(schema_id)
        if writer is not None:
            return writer
        if self._registry is None:
            raise DecodeError(
                DecodeProblem.UNKNOWN_SCHEMA,
                f"Confluent-framed value (schema id {schema_id}) but no schema registry is configured",
            )
        try:
            text = self._registry.schema_json(schema_id)
        except KeyError as exc:
            raise DecodeError(
                DecodeProblem.UNKNOWN_SCHEMA, f"unknown schema id {schema_id}: not in the schema registry"
            ) from exc
        except Exception as exc:
            raise DecodeError(
                DecodeProblem.REGISTRY_UNAVAILABLE,
                f"schema registry unavailable for schema id {schema_id}: {exc}",
            ) from exc
        writer = _writer_from_registry(schema_id, text)
        self._by_id[schema_id] = writer
        return writer


def _unknown(message: str) -> DecodeError:
    return DecodeError(DecodeProblem.UNKNOWN_SCHEMA, message)


def _writer_from_registry(schema_id: int, text: str) -> _Writer:
    try:
        schema = json.loads(text)
        fp = fingerprint(schema)
    except Exception as exc:
        raise _unknown(f"schema id {schema_id} is not an Avro schema: {exc}") from exc
    known = _KNOWN_WRITERS.get(fp)
    if known is not None:
        return known
    if not isinstance(schema, dict) or schema.get("type") != "record":
        raise _unknown(f"schema id {schema_id} is not a record schema")
    name = str(schema.get("name", ""))
    full = name if "." in name else f"{schema.get('namespace', '')}.{name}"
    rs = BY_NAME.get(full)
    if rs is None:
        raise _unknown(f"schema id {schema_id} is {full!r}: not a contract record")
    try:
        parsed = parse_for_fastavro(schema)
    except Exception as exc:
        raise _unknown(f"schema id {schema_id} does not parse: {exc}") from exc
    return _Writer(rs, parsed, rs.parsed)


DEFAULT_CODEC = Codec()
"""Single-object codec (no registry)."""


def encode(record: AnyRecord) -> bytes:
    """``DEFAULT_CODEC.encode``: single-object encoding."""
    return DEFAULT_CODEC.encode(record)


@overload
def decode(data: bytes, expected: type[R]) -> R: ...


@overload
def decode(data: bytes, expected: tuple[type, ...] | None = None) -> AnyRecord: ...


def decode(data: bytes, expected: type | tuple[type, ...] | None = None) -> Any:
    """``DEFAULT_CODEC.decode``: single-object values (Confluent ones need a codec with a registry)."""
    return DEFAULT_CODEC.decode(data, expected)


def decode_dict(data: bytes) -> tuple[RecordSchema, dict[str, Any]]:
    """``DEFAULT_CODEC.decode_dict``."""
    return DEFAULT_CODEC.decode_dict(data)
