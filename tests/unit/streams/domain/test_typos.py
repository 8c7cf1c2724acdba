"""``explain_typo``: each keying-error pattern of the domain, the tie-breaks, and a round-trip property."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.records import SuspectedCause, Unit
from streams.domain.typos import KM_PER_MILE, explain_typo, typo_candidates

C = SuspectedCause


@pytest.mark.parametrize(
    ("typed", "low", "high", "unit", "expected"),
    [
        # a zero too many / too few (factor 10)
        (1_234_560, 120_000, 130_000, Unit.KM, (C.EXTRA_DIGIT, 123_456)),
        (12_345, 120_000, 130_000, Unit.KM, (C.MISSING_DIGIT, 123_450)),
        # a digit too many / too few elsewhere than at the end
        (1_293_456, 120_000, 130_000, Unit.KM, (C.EXTRA_DIGIT, 123_456)),
        (13_456, 120_000, 130_000, Unit.KM, (C.MISSING_DIGIT, 123_456)),
        # two adjacent digits swapped
        (132_456, 120_000, 130_000, Unit.KM, (C.SWAPPED_DIGITS, 123_456)),
        # one digit mistyped
        (183_456, 120_000, 130_000, Unit.KM, (C.MISTYPED_DIGIT, 123_456)),
        # miles typed as km: 76,712 miles is 123,456 km
        (76_712, 120_000, 130_000, Unit.KM, (C.MILES_AS_KM, round(76_712 * KM_PER_MILE))),
        # nothing one keying error away fits
        (987_654, 120_000, 130_000, Unit.KM, (C.UNKNOWN, None)),
        (0, 120_000, 130_000, Unit.KM, (C.UNKNOWN, None)),
    ],
)
def test_each_pattern_of_the_domain_is_recognised(
    typed: int, low: int, high: int, unit: Unit, expected: tuple[SuspectedCause, int | None]
) -> None:
    assert explain_typo(typed, low, high, unit) == expected


def test_miles_as_km_is_not_considered_for_a_reading_recorded_in_miles() -> None:
    assert explain_typo(76_712, 120_000, 130_000, Unit.MILES) == (C.UNKNOWN, None)
    assert explain_typo(46_716, 76_000, 77_000, Unit.MILES) == (C.MISTYPED_DIGIT, 76_716)


def test_a_single_candidate_pattern_beats_a_nearer_digit_edit() -> None:
    # 1,234,560: deleting the "3" gives 124,560, nearer the centre than 123,456, but a trailing zero too many
    # is one specific candidate and the likelier error.
    assert explain_typo(1_234_560, 120_000, 130_000, Unit.KM, expected=125_000) == (C.EXTRA_DIGIT, 123_456)


def test_a_key_pressed_twice_beats_a_nearer_deletion_of_another_digit() -> None:
    # 151,377 for 15,137: the 7 bounced. Deleting the 3 (15,177) lands nearer the expected 15,180, but a
    # doubled key is one of two candidates here, against one of six deletions (the simulator, #17 item 3:
    # 38 more right suggestions of 3,899).
    assert explain_typo(151_377, 15_000, 15_400, Unit.KM, expected=15_180) == (C.EXTRA_DIGIT, 15_137)


def test_the_candidate_nearest_the_expected_value_wins_within_a_tier() -> None:
    # 123,777 → mistyped digit candidates 123,077 … 123,677 fit the window (and no swap or factor 10 does)
    assert explain_typo(123_777, 123_000, 123_700, Unit.KM, expected=123_050) == (C.MISTYPED_DIGIT, 123_077)
    assert explain_typo(123_777, 123_000, 123_700, Unit.KM, expected=123_690) == (C.MISTYPED_DIGIT, 123_677)


def test_equal_distances_fall_back_to_the_smaller_value() -> None:
    # 55 → mistypes 54 and 56 are both 1 from the expected 55
    assert explain_typo(55, 45, 65, Unit.KM, expected=55) == (C.MISTYPED_DIGIT, 54)


def test_the_suggestion_is_always_in_the_window_and_never_the_typed_value() -> None:
    assert explain_typo(125_000, 120_000, 130_000, Unit.KM)[1] != 125_000
    assert explain_typo(5, 10, 1, Unit.KM) == (C.UNKNOWN, None)  # empty window


def test_candidates_never_start_with_a_zero() -> None:
    for _tier, _cause, candidate in typo_candidates(105_000, Unit.KM):
        assert candidate == 0 or not str(candidate).startswith("0")
        assert len(str(candidate)) >= 5  # no candidate silently drops a leading digit by a leading zero


def _swap(text: str, i: int) -> str:
    return text[:i] + text[i + 1] + text[i] + text[i + 2:]


@st.composite
def _typo(draw: st.DrawFn) -> tuple[int, int, SuspectedCause]:
    """(right value, typed value, the pattern applied)."""
    right = draw(st.integers(10_000, 999_999))
    text = str(right)
    kind = draw(st.sampled_from([C.EXTRA_DIGIT, C.MISSING_DIGIT, C.SWAPPED_DIGITS, C.MISTYPED_DIGIT]))
    if kind is C.EXTRA_DIGIT:
        i = draw(st.integers(0, len(text)))
        digit = draw(st.sampled_from("123456789" if i == 0 else "0123456789"))
        typed = text[:i] + digit + text[i:]
    elif kind is C.MISSING_DIGIT:
        i = draw(st.integers(0, len(text) - 1))
        typed = text[:i] + text[i + 1:]
    elif kind is C.SWAPPED_DIGITS:
        i = draw(st.integers(0, len(text) - 2).filter(lambda i: text[i] != text[i + 1]))
        typed = _swap(text, i)
    else:
        i = draw(st.integers(0, len(text) - 1))
        digit = draw(st.sampled_from([d for d in "0123456789" if d != text[i] and (i or d != "0")]))
        typed = text[:i] + digit + text[i + 1:]
    typed_value = int(typed)
    # the right value must be one keying error away: drop typos that merely re-spell it or lead with 0
    if typed.startswith("0") or typed_value == right:
        return right, right + 1, C.UNKNOWN
    return right, typed_value, kind


@given(_typo())
def test_every_single_keying_error_is_undone_when_the_window_pins_the_right_value(
    case: tuple[int, int, SuspectedCause],
) -> None:
    right, typed, applied = case
    cause, suggestion = explain_typo(typed, right, right, Unit.KM)
    if applied is C.UNKNOWN:
        return
    assert suggestion == right
    explaining = {c for _, c, candidate in typo_candidates(typed, Unit.KM) if candidate == right}
    assert applied in explaining
    assert cause in explaining  # the applied pattern, or another one that yields the same value


# --- a trusted expected value (between two readings): ×10 against a digit inserted or deleted -----------


def test_without_a_spread_times_ten_wins_by_tier() -> None:
    assert explain_typo(5_621, 30_000, 61_000, Unit.KM, expected=45_600) == (
        SuspectedCause.MISSING_DIGIT, 56_210)


def test_with_a_spread_a_digit_inserted_at_the_front_beats_times_ten_far_from_the_trend() -> None:
    assert explain_typo(5_621, 30_000, 61_000, Unit.KM, expected=45_600, spread=1_500) == (
        SuspectedCause.MISSING_DIGIT, 45_621)


def test_with_a_spread_times_ten_still_wins_when_the_insertion_is_not_clearly_nearer() -> None:
    # 2078 for 20678: x10 (20780) and the insertion are a hundred km apart, within the spread
    assert explain_typo(2_078, 19_000, 22_000, Unit.KM, expected=20_700, spread=200) == (
        SuspectedCause.MISSING_DIGIT, 20_780)


def test_with_no_spread_the_nearest_of_times_ten_and_an_inserted_digit_wins() -> None:
    # a conflicting duplicate: the other reading (244,097) is the right value
    assert explain_typo(24_409, 243_997, 244_197, Unit.KM, expected=244_097, spread=0) == (
        SuspectedCause.MISSING_DIGIT, 244_097)
