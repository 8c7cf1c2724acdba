"""From stored readings to what the trend engine sees: counter segments of weighted points in kilometres.

* A reading flagged ``odometer_replaced`` starts a new segment: the history restarts on the new counter
  (R6) and no break is looked for across the replacement.
* On a 5-digit counter (R7: ``counter_digits == 5`` on the reading, else on the registration) the provider
  sends the value shown; a drop of more than half the counter's range (50,000) from one reading to the
  next is a wrap from 99,999 to 0, and later values are unwrapped by adding 100,000.
* Miles are converted to km (1 mile = 1.609344 km, rounded); ``Point.raw_value`` keeps the typed value.
* Each point is weighted by its source's reliability (``policy.SourceWeights``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from schemas.records import Origin, ProviderKind, Unit
from streams.domain.fastbuild import builder
from streams.domain.points import Point
from streams.domain.policy import SourceWeights
from streams.domain.state import StoredReading

FIVE_DIGIT_MODULUS = 100_000
"""A 5-digit counter shows 0..99,999 (R7)."""
_MICRO_KM_PER_MILE = 1_609_344


def to_km(value: int, unit: Unit) -> int:
    """``value`` in ``unit`` as whole kilometres (miles: x 1.609344, rounded half up)."""
    if unit is Unit.KM:
        return value
    return (value * _MICRO_KM_PER_MILE + 500_000) // 1_000_000


def weight_of(origin: Origin, provider_kind: ProviderKind, weights: SourceWeights) -> float:
    """The reliability weight of a reading's source (``SourceWeights.rule``, looked up)."""
    return weights.by_source[origin][provider_kind]


def is_five_digit(reading: StoredReading, registered_five_digit: bool) -> bool:
    """R7: the reading's own ``counter_digits`` when given, else the registration's."""
    digits = reading.counter_digits
    return registered_five_digit if digits is None else digits == 5


_POINT = builder(Point)  # on the fast path, two points per reading (see ``fastbuild``)


def point_of(reading: StoredReading, km: int, weights: SourceWeights) -> Point:
    """The trend point of ``reading`` at ``km`` on its counter segment."""
    return _POINT(
        event_id=reading.event_id,
        observed_at=reading.observed_at,
        km=km,
        raw_value=reading.value,
        unit=reading.unit,
        provider_id=reading.provider_id,
        weight=weights.by_source[reading.origin][reading.provider_kind],
        submitted_at=reading.submitted_at,
    )


@dataclass(frozen=True, slots=True)
class Segment:
    """The readings of one physical counter, in history order."""

    first_index: int
    """Index in the history of the segment's first reading."""
    points: tuple[Point, ...]
    wrapped_event_ids: tuple[str, ...] = ()
    """R7: the first reading after each wrap from 99,999 to 0."""

    def __len__(self) -> int:
        return len(self.points)


def build_segments(
    readings: Sequence[StoredReading], registered_five_digit: bool, weights: SourceWeights
) -> tuple[Segment, ...]:
    """Split the sorted history into counter segments (R6) of unwrapped (R7), weighted points."""
    segments: list[Segment] = []
    points: list[Point] = []
    wraps: list[str] = []
    first = 0
    offset = 0
    previous: StoredReading | None = None
    for index, reading in enumerate(readings):
        if reading.odometer_replaced and points:
            segments.append(Segment(first, tuple(points), tuple(wraps)))
            points, wraps, first, offset, previous = [], [], index, 0, None
        five = is_five_digit(reading, registered_five_digit)
        if (
            five
            and previous is not None
            and previous.unit is reading.unit
            and previous.value - reading.value > FIVE_DIGIT_MODULUS // 2
        ):
            offset += FIVE_DIGIT_MODULUS
            wraps.append(reading.event_id)
        km = to_km(reading.value + offset, reading.unit) if five else to_km(reading.value, reading.unit)
        points.append(point_of(reading, km, weights))
        previous = reading
    if points:
        segments.append(Segment(first, tuple(points), tuple(wraps)))
    return tuple(segments)


def segment_index_of(segments: Sequence[Segment], reading_index: int) -> int:
    """The index in ``segments`` of the segment holding history index ``reading_index``."""
    for position in range(len(segments) - 1, -1, -1):
        if segments[position].first_index <= reading_index:
            return position
    return 0
