"""schemas.jsonl: JSON Lines <-> records, with errors that name the line and the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings

from schemas.catalog import RECORD_TYPES, AnyRecord
from schemas.errors import JsonLineError
from schemas.jsonl import dumps, from_json_obj, parse_line, read_lines, to_json_obj, topic_of
from schemas.records import DeadLetter, OdometerReading, ProviderKind, Receipt, Unit
from tests.unit.schemas.golden_records import GOLDEN, T0
from tests.unit.schemas.strategies import records

MINIMAL: dict[str, Any] = {
    "type": "OdometerReading",
    "event_id": "e-1",
    "vin": "WVWZZZ1JZXW000001",
    "odometer_value": 123456,
    "observed_at": "2024-03-01T10:15:00Z",
    "submitted_at": "2024-03-01T10:16:00Z",
    "provider_id": "0123456789",
    "provider_kind": "GARAGE",
    "origin": "WORKSHOP",
}


def _error(obj: Any, line: int | None = 7) -> JsonLineError:
    text = obj if isinstance(obj, str) else json.dumps(obj)
    with pytest.raises(JsonLineError) as info:
        parse_line(text, line)
    return info.value


@pytest.mark.parametrize("record_type", RECORD_TYPES, ids=lambda t: t.__name__)
def test_json_round_trip_every_record_type(record_type: type) -> None:
    @settings(max_examples=40, deadline=None)
    @given(records(record_type))
    def check(record: AnyRecord) -> None:
        assert from_json_obj(json.loads(dumps(record))) == record

    check()


def test_minimal_line_gets_the_schema_defaults() -> None:
    record = parse_line(json.dumps(MINIMAL), 1)
    assert isinstance(record, OdometerReading)
    assert record.unit is Unit.KM and record.odometer_replaced is False
    assert record.counter_digits is None and record.work_description is None
    assert record.observed_at == T0
    assert record.provider_kind is ProviderKind.GARAGE


@pytest.mark.parametrize(
    ("text", "millis"),
    [
        ("2024-03-01T10:15:00Z", T0),
        ("2024-03-01T10:15:00", T0),  # naive means UTC
        ("2024-03-01T11:15:00+01:00", T0),
        ("2024-03-01T10:15:00.123456Z", T0 + 123),  # finer digits truncated
        ("2024-03-01 10:15:00+00:00", T0),
    ],
)
def test_timestamps(text: str, millis: int) -> None:
    record = parse_line(json.dumps({**MINIMAL, "observed_at": text}))
    assert isinstance(record, OdometerReading)
    assert record.observed_at == millis


def test_timestamps_and_dates_out() -> None:
    obj = to_json_obj(GOLDEN["VehicleRegistration"])
    assert obj["type"] == "VehicleRegistration"
    assert obj["effective_at"] == "2023-01-26T10:15:00.000Z"
    assert obj["first_registration_date"] == "2022-01-08"
    assert list(obj)[:3] == ["type", "event_id", "vin"]


def test_the_error_message_of_the_brief() -> None:
    error = _error({**MINIMAL, "odometer_value": "12a"})
    assert str(error) == "line 7: field 'odometer_value': expected integer, got \"12a\""
    assert (error.line, error.field) == (7, "odometer_value")


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"odometer_value": True}, "odometer_value", "expected integer, got true"),
        ({"odometer_value": 2**63}, "odometer_value", "out of range for Avro long"),
        ({"counter_digits": 2**31}, "counter_digits", "out of range for Avro int"),
        ({"unit": "FURLONGS"}, "unit", 'expected one of KM, MILES, got "FURLONGS"'),
        ({"observed_at": 1709288100000}, "observed_at", "expected ISO-8601 timestamp"),
        ({"observed_at": "yesterday"}, "observed_at", 'got "yesterday"'),
        ({"vin": None}, "vin", "expected string, got null"),
        ({"odometer_replaced": "no"}, "odometer_replaced", 'expected true or false, got "no"'),
        ({"colour": "red"}, "colour", "unknown field of OdometerReading"),
    ],
)
def test_field_errors(change: dict[str, Any], field: str, fragment: str) -> None:
    error = _error({**MINIMAL, **change})
    assert error.field == field
    assert str(error).startswith(f"line 7: field '{field}': ")
    assert fragment in str(error)


def test_missing_required_field() -> None:
    obj = dict(MINIMAL)
    del obj["vin"]
    assert str(_error(obj)) == "line 7: field 'vin': missing (required, no default)"


def test_nested_field_path() -> None:
    obj = to_json_obj(GOLDEN["Receipt"])
    obj["issues"][0]["severity"] = "FATAL"
    error = _error(obj)
    assert error.field == "issues[0].severity"
    assert "expected one of WARNING, ERROR" in str(error)


def test_date_errors() -> None:
    obj = to_json_obj(GOLDEN["VehicleRegistration"])
    obj["first_registration_date"] = "2022-01-08T00:00:00Z"
    assert _error(obj).field == "first_registration_date"
    obj["first_registration_date"] = "08/01/2022"
    assert "expected date YYYY-MM-DD" in str(_error(obj))


def test_line_level_errors() -> None:
    assert str(_error("{not json")).startswith("line 7: invalid JSON")
    assert str(_error("[1, 2]")) == "line 7: expected a JSON object, got [1, 2]"
    assert 'missing "type"' in str(_error({"vin": "x"}))
    assert 'unknown record type "Reading"' in str(_error({"type": "Reading"}))


def test_bytes_are_base64() -> None:
    obj = to_json_obj(GOLDEN["DeadLetter"])
    assert obj["original_value"] == "wwEA/w=="
    record = from_json_obj(obj)
    assert isinstance(record, DeadLetter) and record.original_value == b"\xc3\x01\x00\xff"
    obj["original_key"] = "not base64!"
    assert _error(obj).field == "original_key"


def test_read_lines_skips_blank_lines_and_keeps_numbering() -> None:
    lines = [json.dumps(MINIMAL), "", "   ", "{oops", json.dumps({**MINIMAL, "event_id": "e-2"})]
    results = list(read_lines(lines))
    assert [number for number, _ in results] == [1, 4, 5]
    assert isinstance(results[0][1], OdometerReading)
    assert isinstance(results[1][1], JsonLineError) and results[1][1].line == 4
    assert isinstance(results[2][1], OdometerReading)


def test_out_of_range_timestamps_are_shown_as_integers() -> None:
    record = GOLDEN["Receipt"]
    assert isinstance(record, Receipt)
    far = Receipt(record.event_id, record.vin, record.provider_id, record.status, (), 2**62)
    assert to_json_obj(far)["processed_at"] == 2**62


def test_topic_of() -> None:
    assert topic_of(GOLDEN["PlateOdometerReading"]) == "odometer.plate-readings"
    assert topic_of(GOLDEN["ProviderQuality"]) == "providers.quality"
