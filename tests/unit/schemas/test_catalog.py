"""The .avsc files, the dataclasses and the catalogue agree (architecture principle 4)."""

from __future__ import annotations

import json
import struct
import types
import typing
from dataclasses import MISSING, fields
from typing import Any

import avro.schema
import pytest

from schemas.catalog import (
    ENUM_TYPES,
    NESTED_TYPES,
    RECORD_TYPES,
    SCHEMA_DIR,
    SCHEMAS,
    fingerprint,
    history_files,
    key_of,
    load_schema_file,
    strip_logical_types,
)
from schemas.records import INPUT_TOPICS, OUTPUT_TOPICS, RECORD_TOPICS, VIEW_TOPICS
from tests.unit.schemas.golden_records import GOLDEN, VIN

_AVRO_TO_PY = {"string": str, "long": int, "int": int, "boolean": bool, "double": float, "bytes": bytes}


def _walk_named(node: Any, found: dict[str, list[Any]]) -> None:
    if isinstance(node, list):
        for branch in node:
            _walk_named(branch, found)
    elif isinstance(node, dict):
        if node.get("type") in ("enum", "record"):
            found.setdefault(node["name"], []).append(node)
        for key in ("fields", "items"):
            if key in node:
                _walk_named(node[key], found)
        if "type" in node and not isinstance(node["type"], str):
            _walk_named(node["type"], found)


def _expanded_definitions() -> dict[str, Any]:
    """Every enum/record definition, references resolved, by name (first found)."""
    found: dict[str, list[Any]] = {}
    for rs in SCHEMAS.values():
        for field in rs.expanded["fields"]:
            _walk_named(field["type"], found)
    return {name: nodes[0] for name, nodes in found.items()}


def _definitions() -> dict[str, list[Any]]:
    """Every enum/record definition in every .avsc, by name."""
    found: dict[str, list[Any]] = {}
    for path in sorted(SCHEMA_DIR.glob("*.avsc")):
        schema = load_schema_file(path)
        for field in schema["fields"]:
            _walk_named(field["type"], found)
    return found


def test_one_avsc_per_record_type_named_as_the_dataclass() -> None:
    files = {p.stem for p in SCHEMA_DIR.glob("*.avsc")}
    assert files == {t.__name__ for t in RECORD_TYPES}
    for rs in SCHEMAS.values():
        assert rs.schema["name"] == rs.name
        assert rs.schema["namespace"] == "carpass.events"
        assert rs.full_name == f"carpass.events.{rs.name}"


def test_every_contract_topic_has_a_record() -> None:
    contract = set(INPUT_TOPICS.values()) | set(OUTPUT_TOPICS.values()) | set(VIEW_TOPICS)
    contract |= set(RECORD_TOPICS.values())
    assert {rs.topic for rs in SCHEMAS.values()} == contract


def _python_type(node: Any) -> Any:
    if isinstance(node, list):
        inner = next(b for b in node if b != "null")
        return _python_type(inner) | None
    kind = node if isinstance(node, str) else node["type"]
    if kind in _AVRO_TO_PY:
        return _AVRO_TO_PY[kind]
    if kind == "enum":
        return ENUM_TYPES[node["name"]]
    if kind == "array":
        return tuple[_python_type(node["items"]), ...]  # type: ignore[misc]
    return NESTED_TYPES[node["name"]]


def _same_type(hint: Any, want: Any) -> bool:
    if isinstance(hint, types.UnionType) or isinstance(want, types.UnionType):
        return set(typing.get_args(hint)) == set(typing.get_args(want))
    return bool(hint == want)


@pytest.mark.parametrize("cls", [*RECORD_TYPES, *NESTED_TYPES.values()], ids=lambda c: c.__name__)
def test_dataclass_fields_and_defaults_match_the_schema(cls: type) -> None:
    rs = SCHEMAS.get(cls)
    node = rs.expanded if rs else _expanded_definitions()[cls.__name__]
    avro_fields = {f["name"]: f for f in node["fields"]}
    hints = typing.get_type_hints(cls)
    assert set(avro_fields) == {f.name for f in fields(cls)}
    for field in fields(cls):
        spec = avro_fields[field.name]
        assert _same_type(hints[field.name], _python_type(spec["type"])), field.name
        if field.default is not MISSING:
            assert "default" in spec, f"{cls.__name__}.{field.name} has a dataclass default, no Avro default"
            want = spec["default"]
            have = field.default
            assert (list(have) if isinstance(have, tuple) else have) == want, field.name
        elif field.default_factory is not MISSING:  # pragma: no cover - none so far
            pytest.fail(f"{cls.__name__}.{field.name}: use immutable defaults")


def test_optional_fields_are_null_first_with_default_null() -> None:
    records = [rs.schema for rs in SCHEMAS.values()]
    records += [node for nodes in _definitions().values() for node in nodes if node["type"] == "record"]
    for node in records:
        for field in node["fields"]:
            if isinstance(field["type"], list):
                where = (node["name"], field["name"])
                assert field["type"][0] == "null" and len(field["type"]) == 2, where
                assert field.get("default", "missing") is None, where


def test_shared_enums_and_nested_records_are_identical_in_every_file() -> None:
    for name, definitions in _definitions().items():
        canonical = {json.dumps(strip_logical_types(_without_docs(d)), sort_keys=True) for d in definitions}
        assert len(canonical) == 1, f"{name} differs between schema files"
        if definitions[0]["type"] == "enum":
            assert definitions[0]["symbols"] == [m.value for m in ENUM_TYPES[name]], name


def _without_docs(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_docs(v) for k, v in node.items() if k != "doc"}
    if isinstance(node, list):
        return [_without_docs(v) for v in node]
    return node


def test_timestamps_and_dates_carry_logical_types() -> None:
    text = "".join(p.read_text() for p in SCHEMA_DIR.glob("*.avsc"))
    for rs in SCHEMAS.values():
        for field in rs.expanded["fields"]:
            node = field["type"][1] if isinstance(field["type"], list) else field["type"]
            if field["name"].endswith("_at") or field["name"] == "as_of":
                assert node == {"type": "long", "logicalType": "timestamp-millis"}, (rs.name, field["name"])
            if field["name"].endswith("_date"):
                assert node == {"type": "int", "logicalType": "date"}, (rs.name, field["name"])
    assert "timestamp-micros" not in text


def test_latest_history_version_is_the_current_schema() -> None:
    """Changing a schema means committing it as history/<Name>/v<N+1>.avsc (and passing compatibility)."""
    for rs in SCHEMAS.values():
        versions = history_files(rs.name)
        assert [v for v, _ in versions] == list(range(1, len(versions) + 1)), rs.name
        latest = load_schema_file(versions[-1][1])
        hint = f"{rs.name} changed: commit it as history v{len(versions) + 1}"
        assert _without_docs(latest) == _without_docs(dict(rs.schema)), hint


# --- fingerprints --------------------------------------------------------------------------------------

# Avro's published CRC-64-AVRO vectors (share/test/data/schema-tests.txt), as Java's signed longs.
SPEC_VECTORS = {'"null"': 7195948357588979594, '"boolean"': -6970731678124411036,
                '"int"': 8247732601305521295, '"long"': -3434872931120570953,
                '"string"': -8142146995180207161}  # fmt: skip


@pytest.mark.parametrize("schema_text", SPEC_VECTORS)
def test_fingerprint_matches_the_spec_vectors_little_endian(schema_text: str) -> None:
    assert fingerprint(json.loads(schema_text)) == struct.pack("<q", SPEC_VECTORS[schema_text])


def test_fingerprint_is_the_avro_package_fingerprint_of_the_schema_without_logical_types() -> None:
    """An independent implementation agrees on bytes and byte order. (The avro package keeps
    ``{"type":"long"}`` for a logical type in its canonical form; Java's SchemaNormalization writes
    ``"long"``, as fastavro does, so only the stripped schema can be compared.)"""
    for rs in SCHEMAS.values():
        stripped = avro.schema.parse(json.dumps(strip_logical_types(rs.schema)))
        assert stripped.fingerprint("CRC-64-AVRO") == rs.fingerprint, rs.name
        assert rs.header == b"\xc3\x01" + rs.fingerprint


def test_fingerprint_ignores_logical_types_and_docs() -> None:
    plain = {"type": "record", "name": "A", "fields": [{"name": "t", "type": "long"}]}
    ts = {"type": "long", "logicalType": "timestamp-millis"}
    fancy = {"type": "record", "name": "A", "doc": "x", "fields": [{"name": "t", "doc": "y", "type": ts}]}
    assert fingerprint(plain) == fingerprint(fancy)


# --- keys ----------------------------------------------------------------------------------------------


def test_key_of_every_record_type() -> None:
    expected = {
        "PlateOdometerReading": "1-ABC-123",
        "ProviderRegistration": "0123456789",
        "ProviderQuality": "0123456789",
        "DeadLetter": "odometer.readings/3/1234567",
        "CertificateIssued": "3f1c2a7e-5b0d-5c8e-9a41-2d6f0b7c9e13",
    }
    for name, record in GOLDEN.items():
        assert key_of(record) == expected.get(name, VIN), name


def test_every_contract_enum_is_a_str_enum_so_that_str_gives_its_symbol() -> None:
    # schemas.catalog hands fastavro ``str(member)``: right only for StrEnum (a plain Enum gives "Cls.NAME")
    import enum

    import schemas.records as records
    import schemas.views as views

    found = [*vars(records).values(), *vars(views).values()]
    enums = [v for v in found if isinstance(v, type) and issubclass(v, enum.Enum)]
    assert enums and all(issubclass(e, enum.StrEnum) for e in enums)
    assert all(str(member) == member.value for e in enums for member in e)
