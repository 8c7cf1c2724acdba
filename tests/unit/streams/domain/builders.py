"""Test builders of contract records for the vehicle aggregate (readable defaults, keyword overrides)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from schemas.records import (
    CorrectionChannel,
    CorrectionRequest,
    OdometerReading,
    Origin,
    ProviderKind,
    RegistrationKind,
    VehicleRegistration,
)
from streams.domain.calendar import day_of
from streams.domain.ids import error_number

VIN = "WVWZZZ1KZAW123456"
GARAGE = "0412345678"
OTHER_GARAGE = "0498765432"


def at(text: str) -> int:
    """``"2024-03-04"`` (09:30 UTC) or ``"2024-03-04T16:00"`` (UTC) as epoch ms."""
    if "T" not in text:
        text += "T09:30"
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def reading(event_id: str, value: int, observed: str, **changes: Any) -> OdometerReading:
    observed_at = at(observed)
    fields: dict[str, Any] = {
        "event_id": event_id,
        "vin": VIN,
        "odometer_value": value,
        "observed_at": observed_at,
        "submitted_at": observed_at + 600_000,
        "provider_id": GARAGE,
        "provider_kind": ProviderKind.GARAGE,
        "origin": Origin.WORKSHOP,
        "work_description": "periodic service",
    }
    fields.update(changes)
    return OdometerReading(**fields)


def registration(first: str = "2018-03-01", **changes: Any) -> VehicleRegistration:
    fields: dict[str, Any] = {
        "event_id": "reg",
        "vin": VIN,
        "kind": RegistrationKind.FIRST_REGISTRATION,
        "effective_at": at(first),
        "first_registration_date": day_of(date.fromisoformat(first)),
        "imported_used": False,
        "make": "Volkswagen",
        "model": "Golf",
        "vehicle_category": "M1",
    }
    fields.update(changes)
    return VehicleRegistration(**fields)


def correction(
    event_id: str,
    target: str,
    code: str,
    channel: CorrectionChannel = CorrectionChannel.ELECTRONIC,
    **changes: Any,
) -> CorrectionRequest:
    fields: dict[str, Any] = {
        "event_id": event_id,
        "error_number": error_number(target, code),
        "vin": VIN,
        "channel": channel,
        "requested_by": GARAGE,
        "submitted_at": at("2025-01-06T10:00"),
    }
    fields.update(changes)
    return CorrectionRequest(**fields)


YEARLY = [
    ("r1", 15_210, "2019-03-04"),
    ("r2", 30_480, "2020-03-09"),
    ("r3", 45_210, "2021-03-08"),
    ("r4", 60_730, "2022-03-07"),
    ("r5", 75_020, "2023-03-06"),
]
"""A clean history: ~15,000 km a year at one garage."""


def yearly(upto: int = 5) -> list[OdometerReading]:
    return [reading(eid, value, day) for eid, value, day in YEARLY[:upto]]
