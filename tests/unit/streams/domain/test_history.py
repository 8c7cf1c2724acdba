"""From stored readings to trend points: segments (R6), 5-digit unwrapping (R7), miles, source weights."""

from __future__ import annotations

import pytest

from schemas.records import Origin, ProviderKind, Unit
from streams.domain.history import build_segments, is_five_digit, segment_index_of, to_km, weight_of
from streams.domain.policy import SourceWeights
from streams.domain.state import StoredReading

W = SourceWeights()


def stored(
    event_id: str,
    value: int,
    day: int,
    *,
    unit: Unit = Unit.KM,
    replaced: bool = False,
    digits: int | None = None,
    origin: Origin = Origin.WORKSHOP,
    kind: ProviderKind = ProviderKind.GARAGE,
) -> StoredReading:
    ms = day * 86_400_000
    return StoredReading(event_id, ms, value, unit, "0412345678", kind, origin, ms + 1, replaced, digits)


@pytest.mark.parametrize(
    ("value", "unit", "km"),
    [
        (0, Unit.MILES, 0),
        (1, Unit.MILES, 2),
        (10_000, Unit.MILES, 16_093),
        (41_000, Unit.MILES, 65_983),
        (12_345, Unit.KM, 12_345),
    ],
)
def test_to_km(value: int, unit: Unit, km: int) -> None:
    assert to_km(value, unit) == km


@pytest.mark.parametrize(
    ("origin", "kind", "weight"),
    [
        (Origin.INSPECTION, ProviderKind.INSPECTION_BODY, 3.0),
        (Origin.WORKSHOP, ProviderKind.INSPECTION_BODY, 3.0),
        (Origin.CONNECTED_VEHICLE, ProviderKind.MANUFACTURER, 2.0),
        (Origin.FOREIGN_HISTORY, ProviderKind.IMPORTER, 1.5),
        (Origin.MANUAL, ProviderKind.RDW, 1.5),
        (Origin.WORKSHOP, ProviderKind.GARAGE, 1.0),
        (Origin.WORKSHOP, ProviderKind.TYRE_CENTRE, 1.0),
        (Origin.MANUAL, ProviderKind.OTHER, 0.5),
    ],
)
def test_weight_by_source(origin: Origin, kind: ProviderKind, weight: float) -> None:
    assert weight_of(origin, kind, W) == weight


def test_weights_come_from_the_policy() -> None:
    assert weight_of(Origin.WORKSHOP, ProviderKind.GARAGE, SourceWeights(workshop=0.8)) == 0.8


def test_one_counter_is_one_segment_of_weighted_points() -> None:
    readings = [stored("a", 100, 1), stored("b", 41_000, 30, unit=Unit.MILES, origin=Origin.INSPECTION)]
    (segment,) = build_segments(readings, False, W)
    assert segment.first_index == 0 and len(segment) == 2 and segment.wrapped_event_ids == ()
    a, b = segment.points
    assert (a.km, a.raw_value, a.weight) == (100, 100, 1.0)
    assert (b.km, b.raw_value, b.unit, b.weight) == (65_983, 41_000, Unit.MILES, 3.0)


def test_a_replaced_odometer_starts_a_new_segment() -> None:
    readings = [
        stored("a", 60_000, 1),
        stored("b", 61_000, 30),
        stored("c", 50, 40, replaced=True),
        stored("d", 900, 60),
    ]
    first, second = build_segments(readings, False, W)
    assert [p.event_id for p in first.points] == ["a", "b"]
    assert [p.event_id for p in second.points] == ["c", "d"] and second.first_index == 2
    assert segment_index_of((first, second), 1) == 0 and segment_index_of((first, second), 3) == 1


def test_a_first_reading_flagged_replaced_is_still_one_segment() -> None:
    assert len(build_segments([stored("a", 50, 1, replaced=True), stored("b", 90, 9)], False, W)) == 1


def test_five_digit_counters_are_unwrapped() -> None:
    readings = [
        stored("a", 82_400, 1),
        stored("b", 94_900, 300),
        stored("c", 7_300, 600),
        stored("d", 99_000, 900),
        stored("e", 4_000, 1000),
    ]
    (segment,) = build_segments(readings, True, W)
    assert [p.km for p in segment.points] == [82_400, 94_900, 107_300, 199_000, 204_000]
    assert [p.raw_value for p in segment.points] == [82_400, 94_900, 7_300, 99_000, 4_000]
    assert segment.wrapped_event_ids == ("c", "e")


def test_a_small_drop_on_a_five_digit_counter_is_not_a_wrap() -> None:
    (segment,) = build_segments([stored("a", 60_000, 1), stored("b", 20_000, 30)], True, W)
    assert [p.km for p in segment.points] == [60_000, 20_000] and segment.wrapped_event_ids == ()


def test_six_digit_counters_never_wrap() -> None:
    (segment,) = build_segments([stored("a", 94_900, 1), stored("b", 7_300, 300)], False, W)
    assert segment.wrapped_event_ids == () and segment.points[1].km == 7_300


def test_the_readings_counter_digits_win_over_the_registration() -> None:
    assert is_five_digit(stored("a", 1, 1, digits=5), False)
    assert not is_five_digit(stored("a", 1, 1, digits=6), True)
    assert is_five_digit(stored("a", 1, 1), True)


def test_wraps_restart_on_a_new_counter() -> None:
    readings = [
        stored("a", 94_000, 1),
        stored("b", 3_000, 200),
        stored("c", 100, 300, replaced=True),
        stored("d", 900, 400),
    ]
    first, second = build_segments(readings, True, W)
    assert [p.km for p in first.points] == [94_000, 103_000]
    assert [p.km for p in second.points] == [100, 900]
