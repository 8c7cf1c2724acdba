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
    restart: bool = False
    """ROLLBACK only: the counter went back to near zero (``trend._restarted``), as a new instrument
    cluster fitted without the R6 tick box shows; an anomaly still, an accusation of nobody."""


@dataclass(frozen=True, slots=True)
class TrendPolicy:
    """Calibrated thresholds of the trend engine (see ``trend`` for how each was chosen).

    Weights (``Point.weight``) are read on a scale where one workshop reading weighs 1.0; the penalties
    below are on the same scale.
    """

    tolerance_km: int = 100
    """Decreases smaller than this are not a break (RDW/NAP rule)."""
    max_km_per_day: int = 1_000
    """Plausible growth per day over gaps of a few days (R17 'far too high'); the floor covers less."""
    max_km_per_week: int = 5_000
    """Plausible growth in 7 days (a week-long road trip)."""
    max_km_per_month: int = 15_000
    """Plausible growth in a month (500 km every day: a two-shift taxi)."""
    max_km_per_year: int = 150_000
    """Plausible growth in a year (top of high-mileage taxis and vans); the month-year slope goes on."""
    rate_floor_km: int = 1_500
    """Growth always tolerated whatever the gap (same-day readings, a long drive on the day of reading)."""
    step_penalty: float = 1.75
    """A step down is accepted as real (ROLLBACK) rather than blamed on the readings of one side only when
    that side weighs more than this: two workshop readings (2 x 1.0), one connected-vehicle (2.0) or
    inspection (3.0) reading; not one foreign-history (1.5) or workshop + manual (1.5) reading."""
    jump_penalty: float = 1.75
    """The same for a jump faster than the rate cap (IMPLAUSIBLE_RATE) against SPIKE/DIP outliers."""
    stale_after_days: int = 14
    """A reading repeating the exact km of the same provider's reading at least this many days earlier, with
    nothing higher between them, is a value stuck while time passes (a connected feed that stopped
    updating): it carries no weight (rule 2), so a jump after it blames it, not the reading that jumps."""
    typical_km_per_year: int = 15_000
    """Expected growth when a vehicle's own rate is unknown (Belgian average), for typo windows."""
    edge_window_factor: float = 3.0
    """At the ends of a history the right value of a suspect reading is sought within this many times the
    expected growth (never beyond the rate cap): the window for typo explanations."""
    interior_spread: float = 0.05
    """Between two kept readings, how far (as a share of the growth between them) the right value of a
    suspect reading may plausibly lie from their time interpolation: a typo candidate of a pattern with
    more candidates (tier, ``explain_typo``) must land this much nearer per tier to win. Calibrated on the
    fleet simulator (0.02-0.1 give the same suggestion accuracy within 1 %)."""
    interior_spread_min_km: int = 10
    """Lower bound of that spread (readings a few km apart)."""
    restart_max_km: int = 25_000
    """A step down to at most this many km, and to no more than ``restart_rate_factor`` times what the car
    drives in the time since the reading before the step at its own pace (never less than the rate floor),
    is a counter restarted near zero (an odometer replaced without the R6 tick), not a counter turned back:
    fraudsters turn a counter back by ~100,000 km to a value plausible for the car's age, while a new
    cluster starts at 0 and shows what was driven since (the simulator's model: 70 % of replacements are
    new clusters; used ones, at 20,000-150,000 km, cannot be told from a rollback by their values)."""
    restart_rate_factor: float = 1.5
