"""The values exchanged between the vehicle history (``history``/``vehicle``) and the trend engine
(``trend``): one counter segment's readings in, the breaks found out.

Units: ``km`` is kilometres on a continuous counter (miles converted, 5-digit wraps unwrapped);
``raw_value`` is the value as the provider typed it, in ``unit``. Times are epoch milliseconds (UTC).
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.records import AnomalyKind, SuspectedCause, Unit

MS_PER_DAY = 86_400_000


@dataclass(frozen=True, slots=True)
class Point:
    """One accepted reading on one counter segment, as the trend engine sees it."""

    event_id: str
    observed_at: int
    km: int
    raw_value: int
    unit: Unit
    provider_id: str
    weight: float
    """Reliability of the source (inspection bodies and connected vehicles above workshops)."""
    submitted_at: int


@dataclass(frozen=True, slots=True)
class Break:
    """A trend break found in a segment.

    ``kind`` is one of SPIKE, DIP, ROLLBACK, IMPLAUSIBLE_RATE, CONFLICTING_DUPLICATE.
    ``blamed_event_id`` is the reading judged wrong (SPIKE/DIP/IMPLAUSIBLE_RATE/CONFLICTING_DUPLICATE) or,
    for a ROLLBACK, the first reading after the step down (the provider read the dashboard correctly and is
    not blamed for a data error). ``related_event_ids`` are the neighbours that show the break, sorted.
    ``suggested_value`` is in the blamed reading's own ``unit`` as typed, when a typo pattern fits.
    """

    kind: AnomalyKind
    blamed_event_id: str | None
    related_event_ids: tuple[str, ...]
    cause: SuspectedCause | None = None
    suggested_value: int | None = None


@dataclass(frozen=True, slots=True)
class TrendPolicy:
    """Calibrated thresholds of the trend engine (see ``trend`` for how each was chosen)."""

    tolerance_km: int = 100
    """Decreases smaller than this are not a break (RDW/NAP rule)."""
    max_km_per_day: int = 1_000
    """Plausible growth for gaps of a day or less (R17 'far too high')."""
    max_km_per_week: int = 5_000
    max_km_per_month: int = 15_000
    max_km_per_year: int = 150_000
    rate_floor_km: int = 1_500
    """Growth always tolerated whatever the gap (same-day readings, a long drive on the day of reading)."""
