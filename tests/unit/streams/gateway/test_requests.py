"""The gateway's pure request logic: bodies -> events with every field error named; stable ids."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.codec import decode, encode
from schemas.records import (
    CorrectionChannel,
    OdometerReading,
    Origin,
    PlateOdometerReading,
    ProviderKind,
    ReadingConfirmation,
    Unit,
)
from streams.domain.policy import ORIGINS_OF_KIND
from streams.gateway.requests import (
    InvalidRequestError,
    Sender,
    claimed_provider,
    claimed_source,
    event_id_for,
    parse_confirmation,
    parse_correction,
    parse_observation,
    parse_wait,
)

GARAGE = "0412345678"
SENDER = Sender(GARAGE, ProviderKind.GARAGE, frozenset({Origin.WORKSHOP}))
OEM = Sender("0400000001", ProviderKind.MANUFACTURER, ORIGINS_OF_KIND[ProviderKind.MANUFACTURER])
NOW = 1_763_890_000_000
VIN = "WVWZZZ1KZAW200001"


def body(**changes: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "request_id": "dms-4711", "vin": VIN, "odometer_value": 95_000,
        "observed_at": "2025-11-23T09:30:00+01:00", "provider_kind": "GARAGE", "origin": "WORKSHOP",
        "work_description": "oil change",
    }  # fmt: skip
    out.update(changes)
    return {k: v for k, v in out.items() if v is not None}


def errors_of(call: Any) -> dict[str, str]:
    with pytest.raises(InvalidRequestError) as refused:
        call()
    return {e.field: e.rule for e in refused.value.errors}


def test_a_vin_observation_becomes_the_contract_reading() -> None:
    parsed = parse_observation(body(), SENDER, NOW)
    record = parsed.record
    assert isinstance(record, OdometerReading)
    assert record == OdometerReading(
        event_id=event_id_for(GARAGE, "observation", "dms-4711"), vin=VIN, odometer_value=95_000,
        observed_at=1_763_886_600_000, submitted_at=NOW, provider_id=GARAGE,
        provider_kind=ProviderKind.GARAGE, origin=Origin.WORKSHOP, unit=Unit.KM,
        work_description="oil change",
    )  # fmt: skip
    assert decode(encode(record), OdometerReading) == record
    assert parsed.request_id == "dms-4711"


def test_a_plate_observation_becomes_a_plate_reading() -> None:
    parsed = parse_observation(body(vin=None, plate="1-ABC-123", unit="MILES", counter_digits=5), SENDER, NOW)
    assert isinstance(parsed.record, PlateOdometerReading)
    assert parsed.record.plate == "1-ABC-123" and parsed.record.unit is Unit.MILES
    assert parsed.record.counter_digits == 5


def test_ids_are_stable_per_provider_kind_and_request() -> None:
    first = parse_observation(body(), SENDER, NOW)
    later = parse_observation(body(), SENDER, NOW + 60_000)
    assert first.record.event_id == later.record.event_id  # a repeat is the same event
    assert first.digest == later.digest  # the arrival time is not content
    assert parse_observation(body(odometer_value=95_001), SENDER, NOW).digest != first.digest
    another = Sender("0498765432", ProviderKind.GARAGE, SENDER.origins)
    assert parse_observation(body(), another, NOW).record.event_id != first.record.event_id
    assert event_id_for(GARAGE, "correction", "dms-4711") != first.record.event_id


def test_every_bad_field_is_named_with_its_rule() -> None:
    bad = body(
        request_id="with space", odometer_value="12a", observed_at="2025-11-23T09:30:00", origin="GARAGE",
        colour="red", counter_digits=12, odometer_replaced="yes",
    )  # fmt: skip
    errors = errors_of(lambda: parse_observation(bad, SENDER, NOW))
    assert set(errors) == {
        "request_id", "odometer_value", "observed_at", "origin", "colour", "counter_digits",
        "odometer_replaced",
    }  # fmt: skip
    assert "time zone" in errors["observed_at"] and "expected integer" in errors["odometer_value"]
    assert "WORKSHOP" in errors["origin"] and errors["colour"].startswith("unknown field")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"vin": None}, "vin"),
        ({"plate": "1-ABC-123"}, "plate"),
        ({"plate": "1 abc 123", "vin": None}, "plate"),
        ({"vin": "WVW ZZZ"}, "vin"),
        ({"odometer_value": True}, "odometer_value"),
        ({"odometer_value": 2**63}, "odometer_value"),
        ({"odometer_value": 1.5}, "odometer_value"),
        ({"observed_at": 1_763_886_600_000}, "observed_at"),
        ({"unit": "km"}, "unit"),
        ({"work_description": "x" * 2001}, "work_description"),
        ({"request_id": None}, "request_id"),
    ],
)
def test_shape_rules(changes: dict[str, Any], field: str) -> None:
    assert field in errors_of(lambda: parse_observation(body(**changes), SENDER, NOW))


def test_registry_rules_are_left_to_the_receipt() -> None:
    # R1 (17 ISO 3779 characters) and R17 (not in the future) come back with error numbers on the receipt.
    parsed = parse_observation(body(vin="WVWZZZ1KZAW2000O1X", odometer_value=-5,
                                    observed_at="2099-01-01T00:00:00Z"), SENDER, NOW)  # fmt: skip
    assert isinstance(parsed.record, OdometerReading) and parsed.record.odometer_value == -5


def test_a_body_that_is_not_an_object() -> None:
    assert "body" in errors_of(lambda: parse_observation([1, 2], SENDER, NOW))
    assert claimed_provider({"provider_id": "0498765432"}) == "0498765432"
    assert claimed_provider([]) is None


def test_corrections() -> None:
    content = {"request_id": "fix-1", "error_number": "E0123456789AB", "corrected_value": 96_000}
    draft = parse_correction(content)
    parsed = draft.record(VIN, GARAGE, NOW)
    record = parsed.record
    assert record.channel is CorrectionChannel.ELECTRONIC and record.requested_by == GARAGE  # type: ignore[union-attr]
    assert record.event_id == event_id_for(GARAGE, "correction", "fix-1")
    withdraw = parse_correction({"request_id": "w", "error_number": "E0123456789AB", "withdraw": True})
    assert withdraw.withdraw and withdraw.corrected_value is None
    dated = parse_correction({"request_id": "d", "error_number": "E0123456789AB",
                              "corrected_observed_at": "2025-11-22T10:00:00Z"})  # fmt: skip
    assert dated.corrected_observed_at == 1_763_805_600_000
    assert draft.digest != dated.digest


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"error_number": "E0123456789AB"}, "corrected_value"),
        ({"error_number": "E0123456789AB", "withdraw": True, "corrected_value": 1}, "withdraw"),
        ({"error_number": "E-2024-1", "corrected_value": 1}, "error_number"),
        ({"corrected_value": 1}, "error_number"),
        ({"error_number": "E0123456789AB", "corrected_value": "1"}, "corrected_value"),
        ({"error_number": "E0123456789AB", "channel": "FORM", "corrected_value": 1}, "channel"),
    ],
)
def test_correction_rules(content: dict[str, Any], field: str) -> None:
    assert field in errors_of(lambda: parse_correction({"request_id": "r", **content}))


def test_confirmations() -> None:
    parsed = parse_confirmation({"note": "new cluster"}, "obs-1", VIN, GARAGE, NOW)
    assert parsed.record == ReadingConfirmation(
        event_id=event_id_for(GARAGE, "confirmation", "obs-1"), vin=VIN, confirmed_event_id="obs-1",
        provider_id=GARAGE, submitted_at=NOW, note="new cluster",
    )  # fmt: skip
    assert parse_confirmation(None, "obs-1", VIN, GARAGE, NOW).record.event_id == parsed.record.event_id
    assert "reason" in errors_of(lambda: parse_confirmation({"reason": "x"}, "obs-1", VIN, GARAGE, NOW))


def test_wait() -> None:
    assert parse_wait(None, 30) == 0.0 and parse_wait("2.5", 30) == 2.5
    for bad in ("-1", "31", "nan", "soon", "inf"):
        assert "wait_s" in errors_of(lambda bad=bad: parse_wait(bad, 30))


def test_with_the_gateways_secret_event_ids_repeat_but_cannot_be_computed_from_public_data() -> None:
    """Hardening item 4: ids were uuid5 of the provider and its request id (public data): a producer could
    compute and pre-empt another provider's event id. With a secret they repeat for a retry only."""
    import uuid

    secret, other = b"k" * 32, b"j" * 32
    first = event_id_for(GARAGE, "observation", "dms-4711", secret)
    assert event_id_for(GARAGE, "observation", "dms-4711", secret) == first  # a retry: the same event
    assert event_id_for(GARAGE, "observation", "dms-4711", other) != first  # another gateway secret
    assert event_id_for(GARAGE, "observation", "dms-4711") != first  # not the public uuid5
    assert event_id_for("0498765432", "observation", "dms-4711", secret) != first
    assert event_id_for(GARAGE, "correction", "dms-4711", secret) != first
    assert str(uuid.UUID(first)) == first and uuid.UUID(first).version == 4
    parsed = parse_observation(body(), SENDER, NOW, secret)
    assert parsed.record.event_id == first


def test_the_kind_and_origin_come_from_the_senders_key() -> None:
    """A garage cannot weigh its reading as an inspection body's (weight 3), nor escape R2 as a connected
    car or a foreign history: the kind is the key's, and the origin one of the key's."""
    quiet = parse_observation(body(provider_kind=None, origin=None), SENDER, NOW).record
    assert isinstance(quiet, OdometerReading)
    assert (quiet.provider_kind, quiet.origin) == (ProviderKind.GARAGE, Origin.WORKSHOP)  # the only origin
    said = parse_observation(body(), SENDER, NOW).record
    assert said == quiet  # saying the same changes nothing, not even the event id
    assert claimed_source(body(), SENDER) is None
    assert claimed_source(body(provider_kind="INSPECTION_BODY"), SENDER) == (
        "provider_kind must be GARAGE, the kind registered for your API key"
    )
    assert "WORKSHOP" in (claimed_source(body(origin="INSPECTION"), SENDER) or "")
    assert claimed_source(body(origin="CONNECTED_VEHICLE"), SENDER) is not None
    assert "provider_kind" in errors_of(lambda: parse_observation(body(provider_kind="garage"), SENDER, NOW))
    assert claimed_source([1], SENDER) is None  # not an object: the parser names it
    # A sender with two origins names one; the kind still comes from its key.
    assert errors_of(lambda: parse_observation(body(provider_kind=None, origin=None), OEM, NOW)) == {
        "origin": "required"
    }
    connected = parse_observation(body(provider_kind=None, origin="CONNECTED_VEHICLE"), OEM, NOW).record
    assert isinstance(connected, OdometerReading)
    assert connected.provider_kind is ProviderKind.MANUFACTURER
    assert connected.origin is Origin.CONNECTED_VEHICLE
    assert claimed_source(body(provider_kind=None, origin="WORKSHOP"), OEM) is not None


def test_a_kind_or_origin_that_is_none_at_all_is_a_400_not_a_403() -> None:
    assert claimed_source(body(provider_kind="MECHANIC", origin="GARAGE"), SENDER) is None
    nonsense = body(provider_kind="MECHANIC", origin="GARAGE")
    errors = errors_of(lambda: parse_observation(nonsense, SENDER, NOW))
    assert set(errors) == {"provider_kind", "origin"} and "GARAGE" in errors["provider_kind"]
