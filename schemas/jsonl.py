"""JSON Lines <-> contract records: the human-facing form of the events (``carpass produce``/``tail``).

One JSON object per line::

    {"type": "OdometerReading", "event_id": "…", "vin": "WVWZZZ1JZXW000001", "odometer_value": 123456,
     "observed_at": "2024-03-01T10:15:00Z", "submitted_at": "2024-03-01T10:16:00+01:00", …}

* ``type`` names the contract record (Avro short name); every other key is a field of its ``.avsc``;
  unknown keys are an error (they are usually typos);
* timestamps are ISO-8601 strings (``Z`` or an offset; naive means UTC), stored as epoch milliseconds
  (finer digits are truncated); dates are ``YYYY-MM-DD``;
* enums are their symbols; ``bytes`` are base64; arrays are JSON arrays;
* a missing field takes its schema default; a missing field without default is an error.

Errors are :class:`~schemas.errors.JsonLineError` naming the line and the field path, e.g.
``line 7: field 'odometer_value': expected integer, got "12a"``.

:func:`to_json_obj` is the inverse (timestamps as ``2024-03-01T10:15:00.000Z``): ``from_json_obj`` of it
gives the record back. Kafka keys come from :func:`key_of`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from schemas.catalog import BY_NAME, ENUM_TYPES, NESTED_TYPES, SCHEMAS, TOPICS, AnyRecord, key_of
from schemas.errors import JsonLineError

__all__ = [
    "dumps", "from_json_obj", "key_of", "parse_line", "parse_value", "read_lines", "to_json_obj", "topic_of",
]  # fmt: skip

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DATE = date(1970, 1, 1)
_MS = timedelta(milliseconds=1)
_RANGES = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


class _FieldError(Exception):
    def __init__(self, path: str | None, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def topic_of(record: AnyRecord) -> str:
    """The contract topic that carries ``record``."""
    return TOPICS[type(record)]


# --- JSON -> record ------------------------------------------------------------------------------------


def read_lines(lines: Iterable[str]) -> Iterator[tuple[int, AnyRecord | JsonLineError]]:
    """``(line number, record or error)`` for every non-blank line (1-based numbering)."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            yield number, parse_line(text, number)
        except JsonLineError as exc:
            yield number, exc


def parse_line(text: str, line: int | None = None) -> AnyRecord:
    """The record on one JSON line. Raises :class:`JsonLineError`."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonLineError(f"invalid JSON: {exc.msg} at column {exc.colno}", line=line) from exc
    return from_json_obj(obj, line=line)


def from_json_obj(obj: Any, *, line: int | None = None) -> AnyRecord:
    """The record described by the JSON object ``obj`` (as documented above). Raises
    :class:`JsonLineError`."""
    if not isinstance(obj, dict):
        raise JsonLineError(f"expected a JSON object, got {_show(obj)}", line=line)
    type_name = obj.get("type")
    if not isinstance(type_name, str):
        raise JsonLineError('missing "type" (the record name, e.g. "OdometerReading")', line=line)
    rs = BY_NAME.get(type_name)
    if rs is None:
        known = ", ".join(s.name for s in SCHEMAS.values())
        raise JsonLineError(f'unknown record type "{type_name}" (known: {known})', line=line)
    try:
        record: AnyRecord = _parse_record(rs.expanded, rs.record_type, obj, None, top=True)
    except _FieldError as exc:
        raise JsonLineError(exc.message, line=line, field=exc.path) from None
    return record


def parse_value(node: Any, value: Any, field: str) -> Any:
    """One JSON value as a record field holds it, against its Avro type ``node`` (from a schema's
    ``expanded`` form; unions, enums, logical types as documented above). Raises :class:`JsonLineError`
    naming ``field``: the per-field check of tools that collect every error of a document (the gateway)."""
    try:
        return _parse(node, value, field)
    except _FieldError as exc:
        raise JsonLineError(exc.message, field=exc.path) from None


def _parse_record(
    node: Mapping[str, Any], cls: type, obj: Any, path: str | None, *, top: bool = False
) -> Any:
    if not isinstance(obj, dict):
        raise _FieldError(path, f"expected an object ({node['name']}), got {_show(obj)}")
    fields = node["fields"]
    names = {f["name"] for f in fields}
    for key in obj:
        if key not in names and not (top and key == "type"):
            raise _FieldError(_join(path, key), f"unknown field of {node['name']}")
    values: dict[str, Any] = {}
    for field in fields:
        name = field["name"]
        where = _join(path, name)
        if name in obj:
            values[name] = _parse(field["type"], obj[name], where)
        elif "default" in field:
            values[name] = _parse(field["type"], field["default"], where)
        else:
            raise _FieldError(where, "missing (required, no default)")
    return cls(**values)


def _join(path: str | None, name: str) -> str:
    return name if path is None else f"{path}.{name}"


def _parse(node: Any, value: Any, path: str) -> Any:
    if isinstance(node, list):
        if value is None and "null" in node:
            return None
        return _parse(next(b for b in node if b != "null"), value, path)
    kind = node if isinstance(node, str) else node["type"]
    logical = None if isinstance(node, str) else node.get("logicalType")
    if logical == "timestamp-millis":
        return _parse_timestamp(value, path)
    if logical == "date":
        return _parse_date(value, path)
    if kind == "string":
        if not isinstance(value, str):
            raise _FieldError(path, f"expected string, got {_show(value)}")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _FieldError(path, f"expected true or false, got {_show(value)}")
        return value
    if kind in _RANGES:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _FieldError(path, f"expected integer, got {_show(value)}")
        low, high = _RANGES[kind]
        if not low <= value <= high:
            raise _FieldError(path, f"{value} is out of range for Avro {kind}")
        return value
    if kind in ("double", "float"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _FieldError(path, f"expected number, got {_show(value)}")
        return float(value)
    if kind == "bytes":
        if not isinstance(value, str):
            raise _FieldError(path, f"expected base64 string, got {_show(value)}")
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise _FieldError(path, f"invalid base64 ({exc}), got {_show(value)}") from None
    if kind == "enum":
        if value not in node["symbols"]:
            raise _FieldError(path, f"expected one of {', '.join(node['symbols'])}, got {_show(value)}")
        return ENUM_TYPES[node["name"]](value)
    if kind == "array":
        if not isinstance(value, list):
            raise _FieldError(path, f"expected array, got {_show(value)}")
        return tuple(_parse(node["items"], item, f"{path}[{i}]") for i, item in enumerate(value))
    if kind == "record":
        return _parse_record(node, NESTED_TYPES[node["name"]], value, path)
    raise _FieldError(path, f"unsupported Avro type {kind!r}")  # pragma: no cover - schemas use none


def _parse_timestamp(value: Any, path: str) -> int:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return (moment - _EPOCH) // _MS
    raise _FieldError(path, f"expected ISO-8601 timestamp (e.g. 2024-03-01T10:15:00Z), got {_show(value)}")


def _parse_date(value: Any, path: str) -> int:
    if isinstance(value, str) and "T" not in value:
        try:
            return (date.fromisoformat(value) - _EPOCH_DATE).days
        except ValueError:
            pass
    raise _FieldError(path, f"expected date YYYY-MM-DD, got {_show(value)}")


# --- record -> JSON ------------------------------------------------------------------------------------


def to_json_obj(record: AnyRecord) -> dict[str, Any]:
    """``record`` as a JSON-ready dict: ``{"type": <record name>, <fields in schema order>}``; timestamps
    ISO-8601 UTC with milliseconds (``...Z``), dates ``YYYY-MM-DD``, bytes base64. A timestamp or date
    outside the years 1–9999 stays an integer rather than failing."""
    rs = SCHEMAS[type(record)]
    out: dict[str, Any] = {"type": rs.name}
    for field in rs.expanded["fields"]:
        out[field["name"]] = _emit(field["type"], getattr(record, field["name"]))
    return out


def dumps(record: AnyRecord) -> str:
    """One JSON line (no newline) for ``record``."""
    return json.dumps(to_json_obj(record), ensure_ascii=False, separators=(",", ":"))


def _emit(node: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(node, list):
        return _emit(next(b for b in node if b != "null"), value)
    if isinstance(node, str):
        if node == "bytes":
            return base64.b64encode(value).decode("ascii")
        return value
    logical = node.get("logicalType")
    try:
        if logical == "timestamp-millis":
            text = (_EPOCH + value * _MS).isoformat(timespec="milliseconds")
            return text.removesuffix("+00:00") + "Z"
        if logical == "date":
            return (_EPOCH_DATE + timedelta(days=value)).isoformat()
    except OverflowError:
        return value
    kind = node["type"]
    if kind == "enum":
        return str(value)
    if kind == "array":
        return [_emit(node["items"], item) for item in value]
    if kind == "record":
        return {f["name"]: _emit(f["type"], getattr(value, f["name"])) for f in node["fields"]}
    return _emit(kind, value)
