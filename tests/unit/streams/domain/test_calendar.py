"""Belgian working days (R2) and Brussels calendar days."""

from __future__ import annotations

from datetime import date

import pytest

from streams.domain.calendar import (
    MS_PER_HOUR,
    belgian_public_holidays,
    brussels_day,
    brussels_offset_ms,
    date_of,
    day_of,
    easter_sunday,
    is_working_day,
    working_days_after,
)
from tests.unit.streams.domain.builders import at


def d(text: str) -> int:
    return day_of(date.fromisoformat(text))


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2018, "2018-04-01"),
        (2019, "2019-04-21"),
        (2024, "2024-03-31"),
        (2025, "2025-04-20"),
        (2038, "2038-04-25"),
    ],
)
def test_easter_sunday(year: int, easter: str) -> None:
    assert easter_sunday(year) == date.fromisoformat(easter)


def test_the_ten_public_holidays_of_2024() -> None:
    expected = [
        "2024-01-01",
        "2024-04-01",
        "2024-05-01",
        "2024-05-09",
        "2024-05-20",
        "2024-07-21",
        "2024-08-15",
        "2024-11-01",
        "2024-11-11",
        "2024-12-25",
    ]
    assert sorted(belgian_public_holidays(2024)) == [d(x) for x in expected]


def test_day_conversions_round_trip() -> None:
    assert day_of(date(1970, 1, 1)) == 0
    assert date_of(d("2024-02-29")) == date(2024, 2, 29)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2024-03-04", True),  # Monday
        ("2024-03-09", False),  # Saturday
        ("2024-03-10", False),  # Sunday
        ("2024-05-09", False),  # Ascension
        ("2024-05-20", False),  # Whit Monday
        ("2024-07-22", True),  # the Monday after National Day (a Sunday in 2024): no bridge day
    ],
)
def test_is_working_day(day: str, working: bool) -> None:
    assert is_working_day(d(day)) is working


@pytest.mark.parametrize(
    ("start", "end", "count"),
    [
        ("2024-03-04", "2024-03-04", 0),
        ("2024-03-04", "2024-03-03", 0),
        ("2024-03-04", "2024-03-06", 2),  # Mon -> Wed
        ("2024-03-08", "2024-03-11", 1),  # Fri -> Mon
        ("2018-03-29", "2018-04-06", 5),  # over Easter Monday
        ("2024-05-08", "2024-05-10", 1),  # over Ascension
        ("2024-12-20", "2025-01-03", 8),  # Christmas and New Year across years
    ],
)
def test_working_days_after(start: str, end: str, count: int) -> None:
    assert working_days_after(d(start), d(end)) == count


def test_working_days_after_agrees_with_counting_day_by_day() -> None:
    start = d("2023-12-15")
    for end in range(start, start + 400):
        expected = sum(is_working_day(day) for day in range(start + 1, end + 1))
        assert working_days_after(start, end) == expected


@pytest.mark.parametrize(
    ("instant", "day"),
    [
        ("2024-01-15T23:30", "2024-01-16"),  # CET: 00:30 local
        ("2024-01-15T22:30", "2024-01-15"),
        ("2024-07-15T22:30", "2024-07-16"),  # CEST: 00:30 local
        ("2024-03-31T00:59", "2024-03-31"),  # just before the switch to summer time
        ("2024-10-26T22:30", "2024-10-27"),  # still summer time
        ("2024-10-27T23:30", "2024-10-28"),  # winter time again
    ],
)
def test_brussels_day(instant: str, day: str) -> None:
    assert brussels_day(at(instant)) == d(day)


def test_summer_time_switches_at_one_utc() -> None:
    for switch, before, after in ((at("2024-03-31T01:00"), 1, 2), (at("2024-10-27T01:00"), 2, 1)):
        assert brussels_offset_ms(switch - 1) == before * MS_PER_HOUR
        assert brussels_offset_ms(switch) == after * MS_PER_HOUR
