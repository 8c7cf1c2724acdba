"""Keying errors look like the domain's error patterns; malformed values cannot be decoded."""

from __future__ import annotations

import random

import pytest

from schemas.codec import decode
from schemas.errors import DecodeError
from schemas.records import OdometerReading, Origin, ProviderKind
from streams.simulator.faults import MALFORMED_CAUSES, keying_error, malformed_value
from streams.simulator.truth import Cause


def errors(value: int, cause: Cause, draws: int = 200) -> set[int]:
    rng = random.Random(1)
    return {typed for _ in range(draws) if (typed := keying_error(value, cause, rng)) is not None}


def test_extra_digit_is_a_zero_too_many_or_a_doubled_key() -> None:
    found = errors(45210, Cause.EXTRA_DIGIT)
    assert 452100 in found
    assert found <= {452100, 445210, 455210, 452210, 452110}


def test_missing_digit_drops_the_last_or_any_digit_without_leading_zero() -> None:
    found = errors(45210, Cause.MISSING_DIGIT)
    assert 4521 in found
    assert found <= {4521, 5210, 4210, 4510, 4520}
    assert errors(10234, Cause.MISSING_DIGIT) <= {1023, 1234, 1034, 1024}


def test_swapped_digits_are_adjacent_and_different() -> None:
    assert errors(45210, Cause.SWAPPED_DIGITS) == {54210, 42510, 45120, 45201}
    assert errors(11111, Cause.SWAPPED_DIGITS) == set()
    assert errors(10500, Cause.SWAPPED_DIGITS) == {15000, 10050}  # never "01500"


def test_mistyped_digit_is_a_keypad_neighbour_in_one_place() -> None:
    for typed in errors(45210, Cause.MISTYPED_DIGIT):
        differing = [a != b for a, b in zip(str(typed), "45210", strict=True)]
        assert sum(differing) == 1 and not str(typed).startswith("0")


def test_single_digits_and_non_keying_causes() -> None:
    assert keying_error(7, Cause.EXTRA_DIGIT, random.Random(1)) is None
    with pytest.raises(ValueError, match="keying"):
        keying_error(45210, Cause.FEED_ZERO, random.Random(1))


@pytest.mark.parametrize("cause", MALFORMED_CAUSES)
def test_malformed_values_cannot_be_decoded(cause: Cause) -> None:
    reading = OdometerReading(
        "e1",
        "WVWZZZ1KZAW123456",
        45210,
        1_700_000_000_000,
        1_700_000_060_000,
        "0412345678",
        ProviderKind.GARAGE,
        Origin.WORKSHOP,
    )
    for seed in range(20):
        with pytest.raises(DecodeError):
            decode(malformed_value(reading, cause, random.Random(seed)))
