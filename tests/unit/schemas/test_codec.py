"""schemas.codec: round trips, framing, and every way decoding can fail."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.catalog import RECORD_TYPES, SCHEMAS, AnyRecord, strip_logical_types
from schemas.codec import Codec, ConfluentRegistry, decode, decode_dict, encode
from schemas.errors import DecodeError, DecodeProblem, EncodeError
from schemas.records import OdometerReading, Receipt, Unit
from tests.unit.schemas.golden_records import GOLDEN
from tests.unit.schemas.strategies import records

READING = GOLDEN["OdometerReading"]
assert isinstance(READING, OdometerReading)


@pytest.mark.parametrize("record_type", RECORD_TYPES, ids=lambda t: t.__name__)
def test_round_trip_every_record_type(record_type: type) -> None:
    @settings(max_examples=40, deadline=None)
    @given(records(record_type))
    def check(record: AnyRecord) -> None:
        data = encode(record)
        assert data[:10] == SCHEMAS[record_type].header
        assert decode(data) == record
        assert decode(data, record_type) == record

    check()


def test_decoded_records_use_the_record_conventions() -> None:
    record = decode(encode(READING), OdometerReading)
    assert type(record.observed_at) is int
    assert type(record.unit) is Unit
    receipt = decode(encode(GOLDEN["Receipt"]), Receipt)
    assert isinstance(receipt.issues, tuple)
    assert type(receipt.issues[0]).__name__ == "Issue"


def test_decode_dict_is_the_raw_datum() -> None:
    rs, datum = decode_dict(encode(READING))
    assert rs.record_type is OdometerReading
    assert datum["observed_at"] == READING.observed_at
    assert datum["unit"] == "KM"
    assert rs.to_record(datum) == READING


# --- decode errors -------------------------------------------------------------------------------------


def _problem(data: bytes, expected: Any = None, codec: Codec | None = None) -> tuple[DecodeProblem, str]:
    with pytest.raises(DecodeError) as info:
        (codec or Codec()).decode(data, expected)
    return info.value.problem, str(info.value)


def test_empty_value_is_truncated() -> None:
    assert _problem(b"")[0] is DecodeProblem.TRUNCATED


def test_wrong_magic() -> None:
    problem, message = _problem(b'{"vin": "x"}')
    assert problem is DecodeProblem.WRONG_MAGIC
    assert "7b22" in message
    assert _problem(b"\xc3\x02" + bytes(20))[0] is DecodeProblem.WRONG_MAGIC


def test_truncated_header() -> None:
    problem, message = _problem(encode(READING)[:7])
    assert problem is DecodeProblem.TRUNCATED
    assert "7 of 10" in message
    assert _problem(b"\x00\x00\x01")[0] is DecodeProblem.TRUNCATED


def test_unknown_fingerprint() -> None:
    problem, message = _problem(b"\xc3\x01" + bytes(8) + encode(READING)[10:])
    assert problem is DecodeProblem.UNKNOWN_SCHEMA
    assert "0000000000000000" in message


@pytest.mark.parametrize("cut", [11, 20, 40, -1])
def test_truncated_payload(cut: int) -> None:
    problem, message = _problem(encode(READING)[:cut])
    assert problem is DecodeProblem.TRUNCATED
    assert "OdometerReading" in message


def test_trailing_bytes() -> None:
    problem, message = _problem(encode(READING) + b"\x00\x00")
    assert problem is DecodeProblem.INVALID_VALUE
    assert "2 trailing bytes" in message


def test_invalid_enum_index_in_payload() -> None:
    record = dataclasses.replace(READING, work_description=None)
    data = bytearray(encode(record))
    # The body ends: origin (enum index), odometer_replaced, counter_digits and work_description (both the
    # null branch). Make `origin` (zigzag 0 = WORKSHOP) the out-of-range index 63.
    assert data[-4:] == b"\x00\x00\x00\x00"
    data[-4] = 0x7E
    problem, message = _problem(bytes(data))
    assert problem is DecodeProblem.INVALID_VALUE
    assert "invalid OdometerReading payload" in message


def test_invalid_utf8_in_a_string() -> None:
    data = encode(dataclasses.replace(READING, event_id="é"))
    bad = data.replace("é".encode(), b"\xff\xfe")
    assert _problem(bad)[0] is DecodeProblem.INVALID_VALUE


def test_record_type_not_expected_on_this_topic() -> None:
    problem, message = _problem(encode(GOLDEN["Receipt"]), OdometerReading)
    assert problem is DecodeProblem.UNEXPECTED_TYPE
    assert message == "record Receipt is not expected here (expected OdometerReading)"
    assert decode(encode(READING), (Receipt, OdometerReading)) == READING


def test_confluent_framing_without_registry_is_unknown_schema() -> None:
    problem, message = _problem(b"\x00\x00\x00\x00\x07" + encode(READING)[10:])
    assert problem is DecodeProblem.UNKNOWN_SCHEMA
    assert "schema id 7" in message and "no schema registry" in message


# --- encode errors -------------------------------------------------------------------------------------


def test_encode_refuses_a_non_contract_type() -> None:
    with pytest.raises(EncodeError, match="not a contract record type"):
        encode(object())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"odometer_value": "12a"}, "odometer_value"),
        ({"counter_digits": 2**40}, "out of range for Avro int"),
        ({"unit": "FURLONGS"}, "FURLONGS"),
        ({"vin": None}, "vin"),
    ],
)
def test_encode_refuses_invalid_field_values(change: dict[str, Any], fragment: str) -> None:
    with pytest.raises(EncodeError, match=fragment):
        encode(dataclasses.replace(READING, **change))


# --- Confluent framing ---------------------------------------------------------------------------------


@pytest.fixture
def registry(request: pytest.FixtureRequest) -> ConfluentRegistry:
    return ConfluentRegistry.from_url(f"mock://{request.node.name}")


def test_confluent_round_trip_with_the_mock_registry(registry: ConfluentRegistry) -> None:
    writer = Codec(registry)
    assert writer.framing == "confluent"
    data = writer.encode(READING)
    schema_id = int.from_bytes(data[1:5], "big")
    assert data[0] == 0 and schema_id >= 1
    assert data[5:] == encode(READING)[10:]  # same Avro body, other header
    assert writer.decode(data) == READING
    reader = Codec(registry)  # fresh cache: asks the registry
    assert reader.decode(data, OdometerReading) == READING
    assert reader.decode(encode(READING)) == READING  # reads single-object too
    assert json.loads(registry.schema_json(schema_id))["name"] == "OdometerReading"


def test_confluent_subject_is_topic_value(registry: ConfluentRegistry) -> None:
    codec = Codec(registry)
    a = codec.encode(READING)
    b = codec.encode(READING, topic="staging.odometer.readings")
    assert Codec(registry).decode(a) == Codec(registry).decode(b) == READING
    client = registry._client
    assert set(client.get_subjects()) >= {"odometer.readings-value", "staging.odometer.readings-value"}


def test_confluent_unknown_schema_id(registry: ConfluentRegistry) -> None:
    problem, message = _problem(b"\x00\x00\x00\x03\xe7" + b"\x00", codec=Codec(registry))
    assert problem is DecodeProblem.UNKNOWN_SCHEMA
    assert "999" in message


def test_confluent_writer_with_an_extra_field_is_resolved(registry: ConfluentRegistry) -> None:
    """A producer on a newer schema (one more optional field) is read with the current reader schema."""
    schema = json.loads(json.dumps(SCHEMAS[OdometerReading].schema))
    schema["fields"].append({"name": "gps_fix", "type": ["null", "string"], "default": None})
    schema_id = registry.register("odometer.readings-value", json.dumps(schema))
    datum = SCHEMAS[OdometerReading].to_datum(READING) | {"gps_fix": "50.85,4.35"}
    out = io.BytesIO()
    schemaless_writer(out, parse_schema(strip_logical_types(schema), named_schemas={}), datum)
    data = b"\x00" + schema_id.to_bytes(4, "big") + out.getvalue()
    assert Codec(registry).decode(data) == READING


def test_confluent_schema_that_is_no_contract_record(registry: ConfluentRegistry) -> None:
    schema_id = registry.register("x-value", json.dumps({"type": "record", "name": "Other", "fields": []}))
    problem, message = _problem(b"\x00" + schema_id.to_bytes(4, "big"), codec=Codec(registry))
    assert problem is DecodeProblem.UNKNOWN_SCHEMA
    assert "not a contract record" in message


class _DownRegistry:
    def register(self, subject: str, schema_json: str) -> int:
        raise ConnectionError("connection refused")

    def schema_json(self, schema_id: int) -> str:
        raise ConnectionError("connection refused")


def test_unreachable_registry() -> None:
    codec = Codec(_DownRegistry())
    problem, message = _problem(b"\x00\x00\x00\x00\x01\x00", codec=codec)
    assert problem is DecodeProblem.REGISTRY_UNAVAILABLE
    assert "connection refused" in message
    with pytest.raises(EncodeError, match="connection refused"):
        codec.encode(READING)


@given(st.binary(max_size=64))
@settings(max_examples=300)
def test_arbitrary_bytes_raise_only_decode_error(data: bytes) -> None:
    for candidate in (data, SCHEMAS[OdometerReading].header + data, b"\x00\x00\x00\x00\x01" + data):
        with contextlib.suppress(DecodeError):
            decode(candidate)


def test_values_written_with_a_previous_committed_version_are_read(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A v1 without ``work_description`` (pretend history) is found by its fingerprint and resolved."""
    import schemas.catalog
    import schemas.codec

    old = json.loads(json.dumps(SCHEMAS[OdometerReading].schema))
    old["fields"] = [f for f in old["fields"] if f["name"] != "work_description"]
    (tmp_path / "OdometerReading").mkdir()
    (tmp_path / "OdometerReading" / "v1.avsc").write_text(json.dumps(old))
    monkeypatch.setattr(schemas.catalog, "HISTORY_DIR", tmp_path)
    monkeypatch.setattr(schemas.codec, "_KNOWN_WRITERS", schemas.codec._known_writers())

    from schemas.catalog import fingerprint

    body = io.BytesIO()
    datum = SCHEMAS[OdometerReading].to_datum(READING)
    del datum["work_description"]
    schemaless_writer(body, parse_schema(strip_logical_types(old), named_schemas={}), datum)
    data = b"\xc3\x01" + fingerprint(old) + body.getvalue()
    assert decode(data) == dataclasses.replace(READING, work_description=None)
