"""Golden bytes: the wire format of every record is pinned (architecture principle 4).

The files were made by ``python -m tests.unit.schemas.golden_records``; the cross-check against the
``avro`` package (an independent implementation) shows they are not just our own encoder's opinion.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import avro.io
import avro.schema
import pytest

from schemas.catalog import SCHEMAS, strip_logical_types
from schemas.codec import decode, encode
from tests.unit.schemas.golden_records import GOLDEN, GOLDEN_DIR

FINGERPRINTS: dict[str, str] = json.loads((GOLDEN_DIR / "fingerprints.json").read_text())


def _golden(name: str) -> bytes:
    return bytes.fromhex((GOLDEN_DIR / f"{name}.hex").read_text().strip())


def test_every_record_type_has_a_golden_record() -> None:
    assert set(GOLDEN) == {rs.name for rs in SCHEMAS.values()} == set(FINGERPRINTS)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_encoding_equals_the_golden_bytes(name: str) -> None:
    assert encode(GOLDEN[name]) == _golden(name)
    assert decode(_golden(name)) == GOLDEN[name]


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_fingerprint_equals_the_golden_fingerprint(name: str) -> None:
    rs = next(rs for rs in SCHEMAS.values() if rs.name == name)
    assert rs.fingerprint.hex() == FINGERPRINTS[name]
    assert _golden(name)[:10] == b"\xc3\x01" + bytes.fromhex(FINGERPRINTS[name])


def _plain(value: Any) -> Any:
    """The avro package's datum with logical values back to the records' ints."""
    if isinstance(value, datetime):
        return (value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    if isinstance(value, date):
        return (value - date(1970, 1, 1)).days
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _ours(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_ours(v) for v in value]
    if isinstance(value, dict):
        return {k: _ours(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        return {f: _ours(getattr(value, f)) for f in value.__dataclass_fields__}
    return str(value) if isinstance(value, str) else value


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_the_avro_package_reads_the_golden_bytes(name: str) -> None:
    rs = next(rs for rs in SCHEMAS.values() if rs.name == name)
    data = _golden(name)
    schema = avro.schema.parse(json.dumps(rs.schema))
    stripped = avro.schema.parse(json.dumps(strip_logical_types(rs.schema)))
    assert data[2:10] == stripped.fingerprint("CRC-64-AVRO")
    datum = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(io.BytesIO(data[10:])))
    assert _plain(datum) == _ours(GOLDEN[name])
