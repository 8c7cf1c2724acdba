"""The trend engine: every break kind on realistic histories, blame, typo causes, and its invariants.

Histories are built like Belgian ones: a reading about every 6 months at ~15,000 km a year, inspections
(weight 3) yearly, workshops (weight 1) in between, connected vehicles weight 2 (``policy.SourceWeights``).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from schemas.records import AnomalyKind, SuspectedCause, Unit
from streams.domain import trend
from streams.domain.points import MS_PER_DAY, Break, Point, TrendPolicy
from streams.domain.trend import MS_PER_MONTH, MS_PER_YEAR, allowed_growth_km, consistent_append, find_breaks
from streams.domain.typos import KM_PER_MILE

K = AnomalyKind
C = SuspectedCause
POLICY = TrendPolicy()
T0 = 1_577_836_800_000  # 2020-01-01T00:00Z
WORKSHOP, CONNECTED, INSPECTION = 1.0, 2.0, 3.0


def pt(
    event_id: str,
    day: float,
    km: int,
    weight: float = WORKSHOP,
    provider: str | None = None,
    *,
    raw: int | None = None,
    unit: Unit = Unit.KM,
    submitted_day: float | None = None,
) -> Point:
    observed = T0 + round(day * MS_PER_DAY) + 10 * 3_600_000  # 10:00 UTC
    submitted = observed + 600_000 if submitted_day is None else T0 + round(submitted_day * MS_PER_DAY)
    return Point(event_id, observed, km, km if raw is None else raw, unit,
                 provider or f"prov-{event_id}", weight, submitted)


def history(
    kms: Sequence[int], every_days: float = 182.0, weights: Sequence[float] | None = None
) -> list[Point]:
    """Readings e00, e01, … every ``every_days`` days, each by its own provider."""
    return [pt(f"e{i:02d}", i * every_days, km, WORKSHOP if weights is None else weights[i])
            for i, km in enumerate(kms)]


def kinds(breaks: Sequence[Break]) -> list[tuple[AnomalyKind, str | None]]:
    return [(b.kind, b.blamed_event_id) for b in breaks]


def realistic(n: int, km_per_year: int = 15_000) -> list[int]:
    return [5_000 + round(i * km_per_year / 2) for i in range(n)]


# --- the rate cap -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gap_ms", "allowed"),
    [
        (0, 1_500),  # floor: same-day readings
        (MS_PER_DAY, 1_500),
        (2 * MS_PER_DAY, 2_000),  # 1,000 km/day (R17)
        (7 * MS_PER_DAY, 5_000),  # week cap
        (MS_PER_MONTH, 15_000),  # month cap
        (MS_PER_YEAR, 150_000),  # year cap
        (2 * MS_PER_YEAR, 297_273),  # beyond a year: the month→year slope continues
    ],
)
def test_allowed_growth_passes_through_the_calibrated_caps(gap_ms: int, allowed: int) -> None:
    assert allowed_growth_km(gap_ms, POLICY) == allowed


@given(st.integers(0, 5 * MS_PER_YEAR), st.integers(0, 5 * MS_PER_YEAR))
def test_allowed_growth_is_non_decreasing_and_subadditive(a: int, b: int) -> None:
    assert allowed_growth_km(min(a, b), POLICY) <= allowed_growth_km(max(a, b), POLICY)
    assert allowed_growth_km(a + b, POLICY) <= allowed_growth_km(a, POLICY) + allowed_growth_km(b, POLICY)


# --- clean histories --------------------------------------------------------------------------------------


def test_a_realistic_clean_history_has_no_break() -> None:
    weights = [INSPECTION if i % 2 == 0 else WORKSHOP for i in range(12)]
    assert find_breaks(history(realistic(12), weights=weights), POLICY) == ()


def test_decreases_of_50_km_are_not_breaks() -> None:
    assert find_breaks(history([10_000, 9_950, 17_000, 16_950, 24_000]), POLICY) == ()


def test_a_decrease_just_beyond_the_tolerance_is_a_break() -> None:
    assert kinds(find_breaks(history([10_000, 17_000, 16_899, 24_000]), POLICY)) == [(K.DIP, "e02")]


def test_no_break_in_fewer_than_two_readings() -> None:
    assert find_breaks([], POLICY) == ()
    assert find_breaks(history([123_456]), POLICY) == ()


# --- SPIKE and DIP: one reading off, the trend resumes ----------------------------------------------------


def test_factor_10_spike_is_blamed_with_its_neighbours_and_the_right_value_suggested() -> None:
    kms = realistic(6)
    kms[3] *= 10  # 27,500 typed 275,000
    assert find_breaks(history(kms), POLICY) == (
        Break(K.SPIKE, "e03", ("e02", "e04"), C.EXTRA_DIGIT, 27_500),
    )


@pytest.mark.parametrize(
    ("typed", "kind", "cause", "suggested"),
    [
        (3_500, K.DIP, C.MISSING_DIGIT, 35_000),  # a zero too few
        (53_000, K.SPIKE, C.SWAPPED_DIGITS, 35_000),  # 35,000 with 3 and 5 swapped
        (85_000, K.SPIKE, C.MISTYPED_DIGIT, 35_000),  # one digit mistyped
        (21_748, K.DIP, C.MILES_AS_KM, 35_000),  # 21,748 miles typed as km = 35,000 km
    ],
)
def test_every_typo_pattern_gives_a_single_outlier_with_its_cause(
    typed: int, kind: AnomalyKind, cause: SuspectedCause, suggested: int
) -> None:
    kms = realistic(8)  # e04 should read 35,000
    kms[4] = typed
    breaks = find_breaks(history(kms), POLICY)
    assert breaks == (Break(kind, "e04", ("e03", "e05"), cause, suggested),)


def test_rdw_example_single_900000_in_a_series_rising_to_400000_is_a_spike() -> None:
    kms = [250_000, 275_000, 300_000, 325_000, 350_000, 900_000, 375_000, 400_000]
    breaks = find_breaks(history(kms), POLICY)
    assert kinds(breaks) == [(K.SPIKE, "e05")]
    assert (breaks[0].cause, breaks[0].suggested_value) == (C.UNKNOWN, None)  # no single keying error fits


def test_rdw_style_outlier_that_one_keying_error_explains_gets_its_suggestion() -> None:
    kms = [250_000, 275_000, 300_000, 325_000, 350_000, 3_625_000, 375_000, 400_000]  # a "2" typed as "6"0…
    breaks = find_breaks(history(kms), POLICY)
    assert kinds(breaks) == [(K.SPIKE, "e05")]
    assert breaks[0].cause in {C.EXTRA_DIGIT, C.MISTYPED_DIGIT}
    assert breaks[0].suggested_value is not None and 350_000 <= breaks[0].suggested_value <= 375_000


def test_high_workshop_reading_then_lower_consistent_inspections_is_a_spike_on_the_workshop() -> None:
    weights = [INSPECTION, WORKSHOP, INSPECTION, WORKSHOP, INSPECTION, WORKSHOP, INSPECTION]
    kms = [15_000, 22_500, 30_000, 52_500, 45_000, 52_600, 60_000]
    assert kinds(find_breaks(history(kms, weights=weights), POLICY)) == [(K.SPIKE, "e03")]


def test_a_first_high_workshop_reading_then_many_lower_ones_is_a_spike_not_a_rollback() -> None:
    weights = [WORKSHOP, INSPECTION, WORKSHOP, INSPECTION, WORKSHOP]
    kms = [96_000, 20_000, 27_500, 35_000, 42_500]
    breaks = find_breaks(history(kms, weights=weights), POLICY)
    assert kinds(breaks) == [(K.SPIKE, "e00")]
    assert breaks[0].related_event_ids == ("e01",)


def test_a_lower_workshop_reading_between_inspections_is_the_dip_not_the_inspection_a_spike() -> None:
    weights = [WORKSHOP, WORKSHOP, INSPECTION, WORKSHOP, WORKSHOP]
    kms = [100_000, 110_000, 125_000, 120_000, 130_000]
    assert kinds(find_breaks(history(kms, weights=weights), POLICY)) == [(K.DIP, "e03")]


def test_a_mistyped_inspection_between_agreeing_readings_is_a_spike_not_a_rollback() -> None:
    # 45,210 with its first two digits swapped; the two garage readings after it stay below it, and
    # used to outweigh a step down from it: a ROLLBACK pinned on the right reading
    weights = [WORKSHOP, WORKSHOP, INSPECTION, WORKSHOP, WORKSHOP, WORKSHOP]
    kms = [15_000, 30_000, 54_210, 47_000, 51_000, 60_000]
    breaks = find_breaks(history(kms, every_days=120, weights=weights), POLICY)
    assert kinds(breaks) == [(K.SPIKE, "e02")]
    assert (breaks[0].cause, breaks[0].suggested_value) == (C.SWAPPED_DIGITS, 45_210)


def test_a_typo_soon_followed_by_the_right_reading_is_blamed_not_the_right_one() -> None:
    # 25,010 with one digit mistyped, then 25,100 five days later: dropping either costs the same, and
    # the tie-break (keep the earlier reading) used to put a DIP on the right one
    kms = [10_000, 17_500, 25_910, 25_100, 32_500]
    points = history(kms)
    points[3] = pt("e03", 182 * 2 + 5, 25_100)
    assert kinds(find_breaks(points, POLICY)) == [(K.SPIKE, "e02")]


def test_zero_readings_from_a_connected_feed_are_dips_never_a_rollback() -> None:
    kms = [10_000, 17_000, 0, 0]
    weights = [WORKSHOP, WORKSHOP, CONNECTED, CONNECTED]
    breaks = find_breaks(history(kms, weights=weights), POLICY)
    assert kinds(breaks) == [(K.DIP, "e02"), (K.DIP, "e03")]
    assert {(b.cause, b.suggested_value) for b in breaks} == {(C.UNKNOWN, None)}


def test_a_new_car_may_start_at_zero() -> None:
    assert find_breaks(history([0, 7_500, 15_000]), POLICY) == ()


def test_a_connected_feed_stuck_on_an_old_value_is_blamed_not_the_progressing_readings() -> None:
    points = [
        pt("e0", 0, 40_000, INSPECTION, "insp"),
        pt("e1", 90, 45_000, CONNECTED, "cv"),
        pt("e2", 180, 50_000, WORKSHOP, "garage"),
        pt("e3", 270, 45_000, CONNECTED, "cv"),  # stale
        pt("e4", 360, 45_000, CONNECTED, "cv"),  # stale
        pt("e5", 450, 55_000, WORKSHOP, "garage"),
        pt("e6", 540, 60_000, INSPECTION, "insp"),
    ]
    breaks = find_breaks(points, POLICY)
    assert kinds(breaks) == [(K.DIP, "e3"), (K.DIP, "e4")]
    assert all(b.cause is C.UNKNOWN for b in breaks)


def test_a_feed_stuck_while_time_passes_is_blamed_not_the_reading_that_jumps_after_it() -> None:
    """Found on the simulator (IMPLAUSIBLE_RATE blamed on the inspection): a connected car repeating its
    last km for three months, then an inspection the day after at the car's real pace from the first."""
    before = [pt(f"e{i}", 30 * i, 130_000 + 3_000 * i, WORKSHOP, "garage") for i in range(5)]
    stuck = [pt("c1", 150, 145_000, CONNECTED, "cv"), pt("c2", 240, 145_000, CONNECTED, "cv")]
    after = [pt("i1", 241, 153_600, INSPECTION, "insp"), pt("c3", 330, 160_000, CONNECTED, "cv")]
    breaks = find_breaks([*before, *stuck, *after], POLICY)
    assert kinds(breaks) == [(K.DIP, "c2")] and breaks[0].cause is C.UNKNOWN
    without = replace(POLICY, stale_after_days=10_000)  # the rule off: the stuck feed outweighs the jump
    assert kinds(find_breaks([*before, *stuck, *after], without)) == [(K.IMPLAUSIBLE_RATE, "i1")]


def test_a_car_standing_still_repeats_its_km_without_a_break() -> None:
    points = [pt("e0", 0, 40_000, CONNECTED, "cv"), pt("e1", 60, 40_000, CONNECTED, "cv"),
              pt("e2", 120, 40_000, CONNECTED, "cv"), pt("e3", 150, 41_200, WORKSHOP, "garage")]  # fmt: skip
    assert find_breaks(points, POLICY) == ()


def miles(event_id: str, day: float, shown: int, weight: float = WORKSHOP) -> Point:
    """A reading of a counter that shows miles, recorded as miles (km: its value in km)."""
    return pt(event_id, day, round(shown * KM_PER_MILE), weight, raw=shown, unit=Unit.MILES)


def test_a_garage_recording_a_miles_counter_in_km_twice_is_two_dips_not_a_rollback() -> None:
    """Found on the simulator (a third of the ROLLBACKs on vehicles never turned back): two readings in a
    row recorded in km with the miles the counter showed formed a regime of their own, a ROLLBACK."""
    points = [miles("m0", 0, 46_887), miles("m1", 17, 47_128, INSPECTION),
              pt("k1", 110, 48_990, provider="tyres"), pt("k2", 250, 51_847, provider="tyres"),
              miles("m2", 365, 54_052, INSPECTION), miles("m3", 425, 54_951)]  # fmt: skip
    breaks = find_breaks(points, POLICY)
    assert kinds(breaks) == [(K.DIP, "k1"), (K.DIP, "k2")]
    expected = [(C.MILES_AS_KM, 78_842), (C.MILES_AS_KM, 83_440)]  # the km the counter showed, as miles
    assert [(b.cause, b.suggested_value) for b in breaks] == expected


def test_a_km_reading_of_a_miles_car_that_fits_neither_way_is_left_to_the_trend() -> None:
    points = [miles("m0", 0, 46_887), miles("m1", 180, 50_000, INSPECTION),
              pt("k1", 200, 60_000, provider="garage"),  # neither 60,000 km nor 60,000 miles fits
              miles("m2", 365, 54_052, INSPECTION)]  # fmt: skip
    breaks = find_breaks(points, POLICY)
    assert [b.cause for b in breaks if b.blamed_event_id == "k1"] != [C.MILES_AS_KM]


def test_a_back_dated_entry_shows_as_a_spike() -> None:
    kms = realistic(6)
    points = history(kms)
    late = pt("late", 2 * 182 + 30, 44_000)  # dated 30 days after e02 but read when the car had 44,000 km
    assert kinds(find_breaks([*points, late], POLICY)) == [(K.SPIKE, "late")]


# --- ROLLBACK ---------------------------------------------------------------------------------------------


def test_a_rollback_of_100000_km_with_three_readings_after_is_one_rollback_on_the_first_low_reading() -> None:
    kms = [20_000, 50_000, 80_000, 110_000, 140_000, 170_000, 200_000, 100_000, 107_000, 115_000]
    weights = [INSPECTION if i % 2 else WORKSHOP for i in range(len(kms))]
    assert find_breaks(history(kms, weights=weights), POLICY) == (Break(K.ROLLBACK, "e07", ("e06",)),)


def test_a_rollback_is_found_even_when_the_later_low_side_outweighs_the_earlier_high_side() -> None:
    kms = [180_000, 200_000, 100_000, 107_000, 115_000, 122_000, 130_000, 137_000, 145_000]
    weights = [WORKSHOP, WORKSHOP, *[INSPECTION] * 7]
    assert find_breaks(history(kms, weights=weights), POLICY) == (Break(K.ROLLBACK, "e02", ("e01",)),)


def test_a_rollback_followed_by_years_of_driving_past_the_old_maximum_is_still_a_rollback() -> None:
    kms = [150_000, 165_000, 180_000, 80_000, *range(95_000, 230_000, 15_000)]
    assert kinds(find_breaks(history(kms, every_days=365), POLICY)) == [(K.ROLLBACK, "e03")]


def test_one_high_inspection_reading_before_lower_workshop_readings_is_a_rollback() -> None:
    weights = [INSPECTION, WORKSHOP, WORKSHOP, WORKSHOP]
    kms = [200_000, 100_000, 107_500, 115_000]
    assert kinds(find_breaks(history(kms, weights=weights), POLICY)) == [(K.ROLLBACK, "e01")]


def test_a_single_last_low_reading_is_a_dip_when_a_typo_explains_it_else_a_rollback() -> None:
    base = [100_000, 110_000, 120_000, 130_000]
    assert find_breaks(history([*base, 40_000]), POLICY) == (
        Break(K.DIP, "e04", ("e03",), C.MISSING_DIGIT, 140_000),  # the leading "1" was dropped
    )
    assert find_breaks(history([*base, 71_234]), POLICY) == (Break(K.ROLLBACK, "e04", ("e03",)),)


def test_a_confirming_later_reading_turns_the_dip_into_a_rollback_on_the_same_reading() -> None:
    base = [100_000, 110_000, 120_000, 130_000, 40_000]
    before = find_breaks(history(base), POLICY)
    after = find_breaks(history([*base, 47_500]), POLICY)
    assert kinds(before) == [(K.DIP, "e04")]
    assert kinds(after) == [(K.ROLLBACK, "e04")]


def test_a_later_reading_back_on_trend_confirms_the_dip() -> None:
    base = [100_000, 110_000, 120_000, 130_000, 40_000]
    assert kinds(find_breaks(history([*base, 147_500]), POLICY)) == [(K.DIP, "e04")]


def test_the_only_two_readings_decreasing_blame_the_later_one() -> None:
    assert find_breaks(history([50_000, 12_345]), POLICY) == (
        Break(K.DIP, "e01", ("e00",), C.MISTYPED_DIGIT, 62_345),  # nearest 50,000 + 6 months' driving
    )
    assert kinds(find_breaks(history([50_000, 777]), POLICY)) == [(K.ROLLBACK, "e01")]


# --- IMPLAUSIBLE_RATE -------------------------------------------------------------------------------------


def test_a_persistent_jump_faster_than_the_cap_is_an_implausible_rate_on_the_first_high_reading() -> None:
    kms = [100_000, 107_500, 115_000, 987_654, 995_000, 1_002_500]
    assert find_breaks(history(kms), POLICY) == (Break(K.IMPLAUSIBLE_RATE, "e03", ("e02",)),)


def test_a_jump_within_the_cap_is_not_a_break() -> None:
    # 70,000 km in 6 months: a taxi's pace, under the ~76,000 km cap
    assert find_breaks(history([100_000, 170_000, 240_000]), POLICY) == ()


def test_a_last_reading_far_too_high_is_a_spike_when_a_typo_explains_it_else_an_implausible_rate() -> None:
    base = [100_000, 107_500, 115_000]
    assert find_breaks(history([*base, 1_225_000]), POLICY) == (
        Break(K.SPIKE, "e03", ("e02",), C.EXTRA_DIGIT, 122_500),
    )
    assert find_breaks(history([*base, 987_654]), POLICY) == (Break(K.IMPLAUSIBLE_RATE, "e03", ("e02",)),)


def test_3600_km_in_one_day_is_implausible_when_the_trend_continues_from_there() -> None:
    points = [pt("a", 0, 48_000), pt("b", 1, 49_000), pt("c", 2, 52_600), pt("d", 3, 52_700),
              pt("e", 4, 52_800)]
    assert kinds(find_breaks(points, POLICY)) == [(K.IMPLAUSIBLE_RATE, "c")]


def test_one_reading_before_an_implausible_jump_is_the_outlier_when_the_rest_agree() -> None:
    points = [pt("a", 0, 49_000), pt("b", 1, 52_600), pt("c", 2, 52_700), pt("d", 3, 52_800)]
    assert kinds(find_breaks(points, POLICY)) == [(K.DIP, "a")]


# --- CONFLICTING_DUPLICATE --------------------------------------------------------------------------------


def test_same_provider_same_day_different_value_blames_the_later_submission() -> None:
    points = [
        *history(realistic(4)),
        pt("first", 600, 29_000, provider="garage", submitted_day=600.5),
        pt("again", 600.2, 39_000, provider="garage", submitted_day=600.6),
    ]
    assert find_breaks(points, POLICY) == (
        Break(K.CONFLICTING_DUPLICATE, "again", ("first",), C.MISTYPED_DIGIT, 29_000),
    )


def test_the_later_submission_is_blamed_even_when_observed_earlier() -> None:
    points = [
        pt("x", 0, 10_000, provider="garage", submitted_day=0.9),
        pt("y", 0.1, 12_345, provider="garage", submitted_day=0.5),
    ]
    assert kinds(find_breaks(points, POLICY)) == [(K.CONFLICTING_DUPLICATE, "x")]


def test_a_resend_of_the_right_value_blames_the_earlier_typo_that_breaks_the_trend() -> None:
    points = [
        *history(realistic(4)),  # … 27,500 at day 546
        pt("typo", 600, 2_950, provider="garage", submitted_day=600.5),  # 29,500 with a digit left out
        pt("resent", 600.2, 29_500, provider="garage", submitted_day=600.6),
        pt("next", 700, 33_600),
    ]
    assert find_breaks(points, POLICY) == (
        Break(K.CONFLICTING_DUPLICATE, "typo", ("resent",), C.MISSING_DIGIT, 29_500),
    )


def test_of_two_fitting_duplicates_the_one_farther_from_the_interpolation_is_blamed() -> None:
    points = [
        pt("before", 0, 30_000),
        pt("typo", 182, 47_210, provider="garage", submitted_day=182.1),
        pt("right", 182.2, 37_210, provider="garage", submitted_day=182.3),
        pt("after", 364, 45_000),
    ]
    assert kinds(find_breaks(points, POLICY)) == [(K.CONFLICTING_DUPLICATE, "typo")]


def test_same_day_readings_that_agree_or_come_from_different_providers_are_not_duplicates() -> None:
    same = [pt("a", 10, 20_000, provider="g"), pt("b", 10.1, 20_000, provider="g")]
    close = [pt("a", 10, 20_000, provider="g"), pt("b", 10.1, 20_060, provider="g")]
    others = [pt("a", 10, 20_000, provider="g"), pt("b", 10.1, 20_900, provider="inspection")]
    assert find_breaks(same, POLICY) == find_breaks(close, POLICY) == find_breaks(others, POLICY) == ()


# --- units and counters -----------------------------------------------------------------------------------


def test_a_reading_in_miles_gets_its_suggestion_in_miles() -> None:
    miles = [10_000, 14_660, 19_320, 23_980, 28_640]
    points = [pt(f"m{i}", i * 182, round(m * 1.609344), raw=m, unit=Unit.MILES) for i, m in enumerate(miles)]
    typo = 193_200  # 19,320 miles with a zero too many
    points[2] = pt("m2", 2 * 182, round(typo * 1.609344), raw=typo, unit=Unit.MILES)
    assert find_breaks(points, POLICY) == (Break(K.SPIKE, "m2", ("m1", "m3"), C.EXTRA_DIGIT, 19_320),)


def test_an_unwrapped_five_digit_counter_gets_its_suggestion_as_shown_on_the_dashboard() -> None:
    shown = [95_000, 2_500, 10_000, 17_500]  # km on the continuous counter: +100,000 after the wrap
    points = [pt(f"w{i}", i * 182, s + (100_000 if i else 0), raw=s) for i, s in enumerate(shown)]
    points[2] = pt("w2", 364, 101_000, raw=1_000)  # 10,000 shown, typed with a zero too few
    assert find_breaks(points, POLICY) == (Break(K.DIP, "w2", ("w1", "w3"), C.MISSING_DIGIT, 10_000),)


# --- invariants -------------------------------------------------------------------------------------------

_weights = st.sampled_from([0.5, WORKSHOP, 1.5, CONNECTED, INSPECTION])


@st.composite
def clean_history(draw: st.DrawFn, min_size: int = 0) -> list[Point]:
    """Readings on distinct days, each growth within the cap and each decrease within the tolerance."""
    n = draw(st.integers(min_size, 15))
    day_ms = draw(st.integers(0, 400)) * MS_PER_DAY
    km = draw(st.integers(0, 300_000))
    points: list[Point] = []
    for i in range(n):
        day_ms += draw(st.integers(1, 500)) * MS_PER_DAY if points else 0
        observed = T0 + day_ms + draw(st.integers(0, MS_PER_DAY - 1))
        if points:
            cap = allowed_growth_km(observed - points[-1].observed_at, POLICY)
            km = max(0, km + draw(st.integers(-POLICY.tolerance_km, cap)))
        provider = draw(st.sampled_from(["g1", "g2", "insp", "cv"]))
        points.append(Point(f"id{i:02d}", observed, km, km, Unit.KM, provider, draw(_weights),
                            T0 + day_ms + MS_PER_DAY))
    return points


@st.composite
def any_history(draw: st.DrawFn) -> list[Point]:
    """Any readings: typos, rollbacks, jumps, same-day duplicates, ties in time."""
    n = draw(st.integers(0, 12))
    points = []
    for i in range(n):
        day = draw(st.integers(0, 1_500))
        km = draw(st.one_of(st.integers(0, 400_000), st.sampled_from([0, 50_000, 100_000, 1_000_000])))
        provider = draw(st.sampled_from(["g1", "g2", "insp", "cv"]))
        points.append(Point(f"id{i:02d}", T0 + day * MS_PER_DAY, km, km, Unit.KM, provider, draw(_weights),
                            T0 + draw(st.integers(0, 1_600)) * MS_PER_DAY))
    return points


@given(clean_history())
def test_histories_within_the_caps_and_tolerance_have_no_break(points: list[Point]) -> None:
    assert find_breaks(points, POLICY) == ()


@given(any_history(), st.randoms(use_true_random=False))
def test_the_result_does_not_depend_on_the_order_the_points_come_in(
    points: list[Point], rnd: random.Random
) -> None:
    shuffled = list(points)
    rnd.shuffle(shuffled)
    assert find_breaks(shuffled, POLICY) == find_breaks(points, POLICY)


@given(any_history())
def test_every_break_blames_one_known_reading_once_and_comes_in_history_order(points: list[Point]) -> None:
    breaks = find_breaks(points, POLICY)
    by_id = {p.event_id: p for p in points}
    blamed = [b.blamed_event_id for b in breaks]
    assert len(blamed) == len(set(blamed))
    assert all(b in by_id for b in blamed)
    order = [(by_id[b].observed_at, b) for b in blamed if b is not None]
    assert order == sorted(order)
    for b in breaks:
        assert b.related_event_ids == tuple(sorted(b.related_event_ids))
        assert b.related_event_ids and b.blamed_event_id not in b.related_event_ids
        assert set(b.related_event_ids) <= set(by_id)
        if b.kind in (K.ROLLBACK, K.IMPLAUSIBLE_RATE):
            assert (b.cause, b.suggested_value) == (None, None)
        else:
            assert b.cause is not None


@given(any_history())
def test_the_result_is_deterministic(points: list[Point]) -> None:
    assert find_breaks(points, POLICY) == find_breaks(list(points), POLICY)


@st.composite
def append_case(draw: st.DrawFn) -> tuple[list[Point], Point]:
    points = draw(clean_history(min_size=1))
    last = points[-1]
    gap = draw(st.integers(-2 * MS_PER_DAY, 600 * MS_PER_DAY))
    growth = draw(st.one_of(st.integers(-1_000, 400_000), st.integers(-200, 3_000)))
    new = Point("zz-new", last.observed_at + gap, max(0, last.km + growth), max(0, last.km + growth), Unit.KM,
                draw(st.sampled_from(["g1", "g2", "insp", "cv"])), draw(_weights), last.submitted_at + gap)
    return points, new


@settings(max_examples=300)
@given(append_case())
def test_consistent_append_never_hides_a_break(case: tuple[list[Point], Point]) -> None:
    points, new = case
    assume(find_breaks(points, POLICY) == ())
    if consistent_append(points[-1], new, POLICY):
        assert find_breaks([*points, new], POLICY) == ()


def test_consistent_append_refuses_what_it_cannot_vouch_for() -> None:
    last = pt("b", 100, 20_000)
    assert consistent_append(last, pt("c", 282, 27_500), POLICY)
    assert not consistent_append(last, pt("a", 99, 20_000), POLICY)  # earlier
    assert not consistent_append(last, pt("a", 100, 20_000), POLICY)  # same time, smaller id
    assert not consistent_append(last, pt("c", 100.2, 20_010), POLICY)  # same UTC day
    assert not consistent_append(last, pt("c", 282, 19_899), POLICY)  # decrease beyond tolerance
    assert not consistent_append(last, pt("c", 282, 100_000), POLICY)  # faster than the cap
    assert consistent_append(last, pt("c", 282, 19_901), POLICY)  # decrease within tolerance


_POLICIES = [
    POLICY,
    TrendPolicy(tolerance_km=0, rate_floor_km=0),
    TrendPolicy(max_km_per_day=300, max_km_per_week=900, max_km_per_month=2_000, max_km_per_year=9_000),
    TrendPolicy(max_km_per_week=40_000, max_km_per_month=10_000),  # an odd cap (no useful slope bound)
]


@settings(max_examples=500)
@given(
    st.integers(-3 * MS_PER_DAY, 3 * MS_PER_DAY),
    st.sampled_from([
        0, MS_PER_DAY - 1, 7 * MS_PER_DAY, 40 * MS_PER_DAY, 400 * MS_PER_DAY, 1_000 * MS_PER_DAY
    ]),
    st.sampled_from(["a", "b", "c"]),
    st.integers(0, 10**6),
    st.one_of(st.integers(-300, 3_000), st.integers(-2_000, 400_000)),
    st.sampled_from(_POLICIES),
)
def test_the_fast_append_check_agrees_with_the_trends_own_classification(
    jitter: int, gap: int, new_id: str, km: int, growth: int, policy: TrendPolicy
) -> None:
    last = Point("b", T0 + 10 * 3_600_000, km, km, Unit.KM, "g1", WORKSHOP, T0)
    new = Point(new_id, last.observed_at + gap + jitter, km + growth, km + growth, Unit.KM, "g2", 3.0, T0)
    later = (new.observed_at, new.event_id) > (last.observed_at, last.event_id)
    other_day = new.observed_at // trend.MS_PER_DAY != last.observed_at // trend.MS_PER_DAY
    normal = trend._transition(last, new, policy, trend._cap_of(policy)) == trend._NORMAL
    assert consistent_append(last, new, policy) == (later and other_day and normal)


@given(st.integers(3, 12), st.data())
def test_an_injected_factor_10_typo_is_found_and_undone(n: int, data: st.DataObject) -> None:
    rate = data.draw(st.integers(5_000, 40_000))
    kms = [20_000 + i * rate // 2 for i in range(n)]
    k = data.draw(st.integers(1, n - 2))
    right = kms[k]
    kms[k] = right * 10
    assert find_breaks(history(kms), POLICY) == (
        Break(K.SPIKE, f"e{k:02d}", (f"e{k - 1:02d}", f"e{k + 1:02d}"), C.EXTRA_DIGIT, right),
    )


def test_breaks_of_several_kinds_come_sorted_by_the_blamed_reading() -> None:
    kms = [20_000, 27_500, 350_000, 42_500, 50_000, 57_500, 10_000, 17_500, 25_000]
    points = [*history(kms), pt("dup", 182 * 8 + 0.1, 26_000, provider="prov-e08")]
    assert kinds(find_breaks(points, POLICY)) == [(K.SPIKE, "e02"), (K.ROLLBACK, "e06"),
                                                  (K.CONFLICTING_DUPLICATE, "dup")]


def test_pairs_of_points_give_the_same_breaks_in_every_order() -> None:
    points = history([10_000, 120_000, 11_000, 130_000, 140_000])
    results = {find_breaks(list(p), POLICY) for p in itertools.permutations(points)}
    assert len(results) == 1


def test_a_counter_turned_back_whose_values_meet_old_ones_is_one_rollback_not_a_stuck_feed() -> None:
    """#17 item 2: a connected car reporting every week, turned back by 6,000 km halfway: its later weekly
    values (300 km apart) meet values it had sent before. The stale-feed rule took each of them for a feed
    stuck on an old value (no weight), and the history came out as DIPs blamed on the manufacturer."""

    from schemas.records import AnomalyKind
    from streams.domain.policy import DEFAULT_POLICY
    from streams.domain.vehicle import fold
    from tests.unit.streams.domain.test_bounds import weekly

    history = weekly(60)
    back = [replace(r, odometer_value=r.odometer_value - 6_000) for r in history[30:]]
    state = fold([*history[:30], *back], DEFAULT_POLICY)
    assert state is not None
    assert [(a.kind, a.blamed_event_id) for a in state.anomalies] == [(AnomalyKind.ROLLBACK, "r0030")]
