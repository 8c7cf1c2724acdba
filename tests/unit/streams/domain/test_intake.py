"""The checks of a reading that need no trend: VIN, value range, dates, timeliness, work description."""

from __future__ import annotations

from dataclasses import replace

import pytest

from schemas.records import Origin, ProviderKind, RegistrationKind, Unit
from streams.domain.intake import iso_instant, reading_issues
from streams.domain.policy import ReceiptPolicy
from streams.domain.state import RegistrationFacts
from tests.unit.streams.domain.builders import VIN, at, reading

POLICY = ReceiptPolicy()
REGISTERED = RegistrationFacts(RegistrationKind.FIRST_REGISTRATION, 0, 17_591, False, "VW", "Golf", "M1")
# 17_591 = 2018-03-01


def codes(
    vin: str = VIN, five: bool = False, registration: RegistrationFacts | None = REGISTERED, **changes: object
) -> list[str]:
    r = replace(reading("r1", 45_210, "2024-03-04"), **changes)  # type: ignore[arg-type]
    return [issue.code for issue in reading_issues(vin, r, five, registration, POLICY)]


def test_a_good_reading_has_no_issue() -> None:
    assert codes() == []


@pytest.mark.parametrize(
    ("vin", "expected"),
    [
        ("WVWZZZ1KZAW12345", ["INVALID_VIN_LENGTH"]),
        ("WVWZZZ1KZOW123456", ["INVALID_VIN_CHARACTERS"]),
        ("wvwzzz1kzaw123456", ["INVALID_VIN_CHARACTERS"]),
        ("WVWZZZ1KZAW1234I", ["INVALID_VIN_LENGTH", "INVALID_VIN_CHARACTERS"]),
        ("WVWZZZ1KZAW12345Q7", ["INVALID_VIN_LENGTH", "INVALID_VIN_CHARACTERS"]),
    ],
)
def test_vin_checks(vin: str, expected: list[str]) -> None:
    assert codes(vin=vin) == expected


@pytest.mark.parametrize(
    ("changes", "five", "expected"),
    [
        ({"odometer_value": -1}, False, ["VALUE_OUT_OF_RANGE"]),
        ({"odometer_value": 0}, False, []),
        ({"odometer_value": 2_000_000}, False, []),
        ({"odometer_value": 2_000_001}, False, ["VALUE_OUT_OF_RANGE"]),
        ({"odometer_value": 1_300_000, "unit": Unit.MILES}, False, ["VALUE_OUT_OF_RANGE"]),
        ({"odometer_value": 99_999}, True, []),
        ({"odometer_value": 100_000}, True, ["VALUE_OUT_OF_RANGE"]),
    ],
)
def test_value_range(changes: dict[str, object], five: bool, expected: list[str]) -> None:
    assert codes(five=five, **changes) == expected


def test_future_date_with_a_two_hour_tolerance() -> None:
    sent = at("2024-03-04T09:00")
    assert codes(observed_at=sent + 2 * 3_600_000, submitted_at=sent) == []
    assert codes(observed_at=sent + 2 * 3_600_000 + 1, submitted_at=sent) == ["FUTURE_DATE"]


def test_before_first_registration_is_a_warning_by_brussels_day() -> None:
    assert codes(observed_at=at("2018-02-28T23:30"), submitted_at=at("2018-03-01T08:00")) == []  # 00:30 local
    assert codes(observed_at=at("2018-02-28T22:00"), submitted_at=at("2018-02-28T22:10")) == [
        "BEFORE_FIRST_REGISTRATION"
    ]


def test_unknown_vehicle() -> None:
    assert codes(registration=None) == ["UNKNOWN_VEHICLE"]


@pytest.mark.parametrize(
    ("observed", "submitted", "origin", "late"),
    [
        ("2024-03-04T10:00", "2024-03-05T18:00", Origin.WORKSHOP, False),  # next working day
        ("2024-03-04T10:00", "2024-03-06T08:00", Origin.WORKSHOP, True),  # two working days
        ("2024-03-04T10:00", "2024-03-06T08:00", Origin.INSPECTION, True),
        ("2024-03-04T10:00", "2024-04-06T08:00", Origin.CONNECTED_VEHICLE, False),
        ("2024-03-04T10:00", "2024-04-06T08:00", Origin.FOREIGN_HISTORY, False),
        ("2024-03-04T10:00", "2024-04-06T08:00", Origin.MANUAL, False),
        ("2018-06-04T10:00", "2018-06-11T18:00", Origin.WORKSHOP, False),  # 5 working days before 2019-03-01
        ("2018-06-04T10:00", "2018-06-12T08:00", Origin.WORKSHOP, True),
        ("2019-02-28T10:00", "2019-03-05T08:00", Origin.WORKSHOP, False),  # the work day decides the regime
        ("2019-03-01T10:00", "2019-03-05T08:00", Origin.WORKSHOP, True),
    ],
)
def test_late_submission_in_belgian_working_days(
    observed: str, submitted: str, origin: Origin, late: bool
) -> None:
    got = codes(
        observed_at=at(observed),
        submitted_at=at(submitted),
        origin=origin,
        provider_kind=ProviderKind.GARAGE,
        work_description="tyres",
    )
    assert got == (["LATE_SUBMISSION"] if late else [])


@pytest.mark.parametrize(
    ("observed", "origin", "description", "missing"),
    [
        ("2023-12-31T12:00", Origin.WORKSHOP, None, False),
        ("2023-12-31T23:30", Origin.WORKSHOP, None, True),  # already 2024 in Brussels
        ("2024-01-02T10:00", Origin.WORKSHOP, None, True),
        ("2024-01-02T10:00", Origin.WORKSHOP, " \t", True),
        ("2024-01-02T10:00", Origin.WORKSHOP, "brake pads", False),
        ("2024-01-02T10:00", Origin.INSPECTION, None, False),
        ("2024-01-02T10:00", Origin.CONNECTED_VEHICLE, None, False),
    ],
)
def test_work_description_since_2024(
    observed: str, origin: Origin, description: str | None, missing: bool
) -> None:
    got = codes(
        observed_at=at(observed),
        submitted_at=at(observed) + 60_000,
        origin=origin,
        work_description=description,
    )
    assert got == (["MISSING_WORK_DESCRIPTION"] if missing else [])


def test_issues_come_in_catalogue_order_and_are_numbered_for_the_reading() -> None:
    r = replace(reading("r9", -5, "2024-03-04"), work_description=None, submitted_at=at("2024-03-01"))
    issues = reading_issues("WVWZZZ1KZAW1234", r, False, None, POLICY)
    assert [i.code for i in issues] == [
        "INVALID_VIN_LENGTH",
        "VALUE_OUT_OF_RANGE",
        "FUTURE_DATE",
        "UNKNOWN_VEHICLE",
        "MISSING_WORK_DESCRIPTION",
    ]
    assert len({i.error_number for i in issues}) == len(issues)


def test_iso_instant() -> None:
    assert iso_instant(at("2024-03-04T09:30")) == "2024-03-04T09:30:00Z"
