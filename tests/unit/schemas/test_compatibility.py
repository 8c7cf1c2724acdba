"""Schema evolution: each schema in schemas/avro against every committed previous version
(``schemas/avro/history/<Name>/v<N>.avsc``), with the ``avro`` package's compatibility checker.

Both directions must hold (FULL compatibility): the current reader reads data written with any previous
version (replaying the event store from offset 0), and a consumer still on a previous version reads data
written with the current one (rolling upgrades). In practice: add fields only with defaults, never rename or
drop one, never remove an enum symbol.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import avro.schema
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from schemas.catalog import SCHEMA_DIR, SCHEMAS, history_files

_CASES = [
    (rs.name, version, path) for rs in SCHEMAS.values() for version, path in history_files(rs.name)
]


def _compatible(reader: Any, writer: Any) -> tuple[bool, Any]:
    result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    return result.compatibility is SchemaCompatibilityType.compatible, result.messages


def _parse(text: str) -> Any:
    return avro.schema.parse(text)


def test_every_schema_has_history() -> None:
    assert {name for name, _, _ in _CASES} == {rs.name for rs in SCHEMAS.values()}


@pytest.mark.parametrize(("name", "version", "path"), _CASES, ids=[f"{n}-v{v}" for n, v, _ in _CASES])
def test_current_schema_is_fully_compatible_with(name: str, version: int, path: Path) -> None:
    current = _parse((SCHEMA_DIR / f"{name}.avsc").read_text())
    old = _parse(path.read_text())
    ok, messages = _compatible(current, old)
    assert ok, f"{name}: the current schema cannot read data written with v{version}: {messages}"
    ok, messages = _compatible(old, current)
    assert ok, f"{name}: a v{version} reader cannot read data written with the current schema: {messages}"


def test_the_checker_catches_incompatible_changes() -> None:
    """The guard above is not vacuous: a new field without default, or a dropped enum symbol, fails."""
    base = json.loads((SCHEMA_DIR / "OdometerReading.avsc").read_text())
    added = json.loads(json.dumps(base))
    added["fields"].append({"name": "colour", "type": "string"})
    assert not _compatible(_parse(json.dumps(added)), _parse(json.dumps(base)))[0]
    fewer = json.loads(json.dumps(base))
    unit = next(f for f in fewer["fields"] if f["name"] == "unit")
    unit["type"]["symbols"] = ["KM"]
    assert not _compatible(_parse(json.dumps(fewer)), _parse(json.dumps(base)))[0]
    optional = json.loads(json.dumps(base))
    optional["fields"].append({"name": "colour", "type": ["null", "string"], "default": None})
    assert _compatible(_parse(json.dumps(optional)), _parse(json.dumps(base)))[0]
    assert _compatible(_parse(json.dumps(base)), _parse(json.dumps(optional)))[0]
