"""Trend breaks in one counter segment of a vehicle's mileage history (R9), their blame and typo causes.

Pure and deterministic: the result depends only on the multiset of points (they are sorted here by
``(observed_at, event_id)``), never on arrival order, a clock or randomness. A break's identity is its
``(kind, blamed_event_id)``; the aggregate diffs successive results to open and retract anomalies.

Rate cap (``allowed_growth_km``)
    allowed(d) = max(rate_floor, min(day_cap·d, L_wm(d), L_my(d))), with L_wm the straight line through
    (1 week, week cap) and (1 month, month cap), L_my the line through (1 month, month cap) and (1 year,
    year cap), continued beyond a year. A minimum of straight lines is concave, hence subadditive: splitting
    a gap never allows less in total than the whole gap, so neighbour-by-neighbour checks are coherent.
    Defaults and why: 1,000 km/day is R17's "far too high" and one very long driving day; 5,000 km/week is
    a week-long road trip (Belgium–Spain and back is ~4,000 km); 15,000 km/month is 500 km every day, a
    two-shift taxi; 150,000 km/year is the top of high-mileage taxis and vans (average Belgian car: ~15,000).
    That gives 1,500 (floor) at 1 day, 2,000 at 2 days, 5,000 at a week, 15,000 at a month, ~39,000 at a
    quarter, ~76,000 at 6 months, 150,000 at a year, ~297,000 at 2 years. The 1,500 km floor tolerates
    same-day readings (dates without times) and a long drive on the day of reading; 100 km of decrease is
    tolerated (RDW/NAP). Typos are mostly caught by the decrease that follows them, not by the cap.

Decision rules (``find_breaks``)
    1. CONFLICTING_DUPLICATE: readings of one provider on one UTC day (of ``observed_at``) are compared
       with the one of them that fits the rest of the history best (see "Rule 1" below; the first
       submitted, by ``submitted_at`` then ``event_id``, when nothing decides); each other one differing
       by more than ``tolerance_km`` is blamed and left out of the trend (typo window: the kept value ±
       tolerance).
    2. Null and stale readings carry no weight: a reading of 0 after a reading above the tolerance, and a
       reading repeating the exact km of an earlier reading of the same provider either after a reading
       more than the tolerance higher (a connected feed stuck on an old value), unless the same provider's
       later readings grow on from it below that higher reading (a counter turned back whose values meet
       old ones: a new regime, not a stuck feed), or ``stale_after_days`` or more after it with nothing
       higher between (a value stuck while time passed: the reading that jumps after it is not to blame;
       a car standing still is not affected, its repeat fits). They join the trend when they fit it,
       never outvote anything, and are only ever blamed as DIP with cause UNKNOWN. So do readings in km
       of a vehicle whose counter shows miles that fit its miles readings only when read as miles (rule
       2c, ``_miles_typed_as_km``): when dropped they are explained as typos (MILES_AS_KM, with the value
       in km as the suggestion), not as stale.
    3. The trend is the best explanation of the remaining readings: choose which readings to keep and
       maximise (sum of kept weights) − ``step_penalty`` per step down between kept neighbours −
       ``jump_penalty`` per growth above the rate cap between kept neighbours; ties go to keeping more
       readings, then to keeping earlier ones (the established history stands, the newcomer is suspect).
       Exact dynamic programme, O(n²). With the default weights (workshop 1.0, manual 0.5, foreign
       history 1.5, connected vehicle 2.0, inspection 3.0) and penalties 1.75, one workshop or foreign
       reading against a step or jump is an outlier; two consistent workshop readings, or one connected or
       inspection reading, form a regime of their own.
    4. A step down between kept neighbours → ROLLBACK, blamed on the first reading after the step (marked
       ``restart`` when it is near zero: an unreported replacement, ``_restarted``), related
       the kept reading before it (whichever side is heavier, the result is the same). A jump above the cap
       → IMPLAUSIBLE_RATE, blamed on the first reading at the high level (the jump persists).
    5. A dropped reading with a kept reading after it (the trend resumes, or it leads the history) →
       SPIKE if it lies above the trend, DIP if below; related its kept neighbours; cause and suggestion
       from ``explain_typo`` (UNKNOWN if none fits).
    6. No later reading confirms a trailing deviation (a dropped reading after the last kept one, or a
       last reading that alone forms a regime after a step/jump): DIP/SPIKE when a typo explains it (with
       the suggestion), else ROLLBACK (below: the fraud signature, most conservative) or IMPLAUSIBLE_RATE
       (above). When a later reading arrives the result may change kind but keeps the blamed reading.
    A reading is blamed at most once; breaks come sorted by the blamed reading's (observed_at, event_id).

Typo windows (where the right value of a blamed reading must lie, for ``explain_typo``)
    Between kept neighbours p and q: [p − tolerance, q + tolerance] narrowed by the rate cap from each,
    centred on the time interpolation. At an end: from the one neighbour, within ``edge_window_factor``
    times the growth expected at the vehicle's own rate (kept readings over ≥ 30 days, else
    ``typical_km_per_year``), never beyond the cap, centred on that expected growth. Converted to the
    reading's unit and 5-digit display (offset ``km − raw`` of the reading itself). Between kept
    neighbours the interpolation is trusted: a factor of 10 competes with a digit inserted or deleted
    anywhere on the distance to it (``explain_typo``'s ``spread``: ``interior_spread`` of the growth
    between the neighbours), so a digit left out at the front beats ×10 that is thousands of km off. A
    conflicting duplicate's right value is the other reading's: the nearest of those candidates wins.

Rule 1 (which reading of a conflicting pair): the one that fits the nearest other readings on each side
    worse is blamed: more steps/jumps to them, then farther from the value they lead one to expect
    (interpolated, or extrapolated at the history's own rate); the later submission only when they do
    not decide (no other reading, or equal fit).

Rule 3b (typo singletons): after the programme, a kept reading that deviates alone while the readings
    on its two sides agree, and whose value a typo pattern explains, loses its weight and the programme is
    run again; it becomes a SPIKE/DIP with its suggestion (``_typo_singletons``). Inspections (3.0 >
    step penalty) would otherwise turn one mistyped value into a ROLLBACK.

Cost: O(n) for a clean segment (every neighbour transition normal), O(n²) otherwise; see
``benchmarks/bench_trend.py``.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Sequence

from schemas.records import AnomalyKind, SuspectedCause, Unit
from streams.domain.points import MS_PER_DAY, Break, Point, TrendPolicy
from streams.domain.typos import KM_PER_MILE, explain_typo

MS_PER_WEEK = 7 * MS_PER_DAY
MS_PER_YEAR = 31_556_952_000
"""The mean Gregorian year, 365.2425 days."""
MS_PER_MONTH = MS_PER_YEAR // 12
_MIN_RATE_SPAN_MS = 30 * MS_PER_DAY
"""A vehicle's own rate is trusted for typo windows only over at least this span."""

_NORMAL, _STEP, _JUMP = 0, 1, 2
_WEIGHT_SCALE = 1_000
"""Weights and penalties are compared in thousandths, as integers: exact, so ties are decided by rule."""


def allowed_growth_km(gap_ms: int, policy: TrendPolicy) -> int:
    """Most km a vehicle can plausibly add in ``gap_ms`` milliseconds (concave, non-decreasing, ≥ floor)."""
    return _cap_of(policy)(gap_ms)


def _cap_of(policy: TrendPolicy) -> Callable[[int], int]:
    """``allowed_growth_km`` for one policy, its constants bound once (the trend programme calls it O(n²)
    times; binding is cheaper than hashing the policy for a cache)."""
    day, floor = policy.max_km_per_day, policy.rate_floor_km
    week, month, year = policy.max_km_per_week, policy.max_km_per_month, policy.max_km_per_year
    wm_span, my_span = MS_PER_MONTH - MS_PER_WEEK, MS_PER_YEAR - MS_PER_MONTH

    def cap(gap_ms: int) -> int:
        if gap_ms <= 0:
            return floor
        # each term is a straight line rounded up: ceil(a / b) == -(-a // b)
        by_day = -(-day * gap_ms // MS_PER_DAY)
        by_week_month = week - (-(month - week) * (gap_ms - MS_PER_WEEK) // wm_span)
        by_month_year = month - (-(year - month) * (gap_ms - MS_PER_MONTH) // my_span)
        allowed = min(by_day, by_week_month, by_month_year)
        return allowed if allowed > floor else floor

    return cap


def _slope_below_cap(policy: TrendPolicy) -> float:
    """A rate (km/ms) under which growth is always within the cap: a cheap first test for the programme.

    ``allowed`` is a minimum of lines; each line with a non-negative intercept lies above its slope times
    the gap, so the smallest slope is a lower bound (shaved by a millionth against float rounding).
    """
    week, month, year = policy.max_km_per_week, policy.max_km_per_month, policy.max_km_per_year
    slope_wm = (month - week) / (MS_PER_MONTH - MS_PER_WEEK)
    slope_my = (year - month) / (MS_PER_YEAR - MS_PER_MONTH)
    if week - slope_wm * MS_PER_WEEK < 0 or month - slope_my * MS_PER_MONTH < 0:
        return 0.0
    return min(policy.max_km_per_day / MS_PER_DAY, slope_wm, slope_my) * (1 - 1e-6)


def _transition(a: Point, b: Point, policy: TrendPolicy, cap: Callable[[int], int]) -> int:
    growth = b.km - a.km
    if growth < -policy.tolerance_km:
        return _STEP
    if growth > policy.rate_floor_km and growth > cap(b.observed_at - a.observed_at):
        return _JUMP
    return _NORMAL


def consistent_append(last: Point, new: Point, policy: TrendPolicy) -> bool:
    """True when appending ``new`` after ``last`` cannot create a break, so ``find_breaks`` may be skipped.

    Claim: if ``find_breaks(history)`` is empty, ``last`` is the latest point of ``history`` and this returns
    True, then ``find_breaks(history + [new])`` is empty. Holds because a break-free history keeps every
    reading with only normal transitions, and ``new`` extends it with one more normal transition: keeping
    everything is then the unique best trend. ``new`` must come strictly later and on a later UTC day than
    ``last`` (a same-day reading may conflict with an earlier reading of its provider), decrease by at most
    the tolerance and grow within the rate cap.
    """
    return append_is_consistent(
        last.observed_at, last.event_id, last.km, new.observed_at, new.event_id, new.km, policy
    )


def append_is_consistent(
    last_at: int, last_id: str, last_km: int, new_at: int, new_id: str, new_km: int, policy: TrendPolicy
) -> bool:
    """:func:`consistent_append` on the bare fields it reads, for the aggregate's fast path (no ``Point``s
    to build): the one implementation. Its limits agree with the trend's own classification of a
    transition (``tests/unit/streams/domain/test_trend.py`` checks it on random inputs); the per-policy
    constants are bound once (``_append_limits``).
    """
    if new_at < last_at or (new_at == last_at and new_id <= last_id):
        return False
    if new_at // MS_PER_DAY == last_at // MS_PER_DAY:
        return False
    growth = new_km - last_km
    limits = _limits
    if limits[0] is not policy:
        limits = _append_limits(policy)
    _, tolerance, floor, slope, cap = limits
    if growth < -tolerance:
        return False
    # ``slope`` is a lower bound of the cap's rate: growth under it (nearly always) needs no cap.
    return growth <= floor or growth <= slope * (new_at - last_at) or growth <= cap(new_at - last_at)


_Limits = tuple[TrendPolicy | None, int, int, float, Callable[[int], int]]
_limits: _Limits = (None, 0, 0, 0.0, lambda gap_ms: 0)
"""The last policy's constants for ``append_is_consistent``: a memo of pure values, one entry (a worker
runs one policy), matched by identity because hashing a frozen policy costs more than the check."""


def _append_limits(policy: TrendPolicy) -> _Limits:
    global _limits
    slope = _slope_below_cap(policy)
    _limits = (
        policy,
        policy.tolerance_km,
        policy.rate_floor_km,
        slope if slope > 0 else -math.inf,  # a useless bound (odd policies) must never vouch for growth
        _cap_of(policy),
    )
    return _limits


def find_breaks(points: Sequence[Point], policy: TrendPolicy) -> tuple[Break, ...]:
    """Every trend break of one counter segment, sorted by the blamed reading's (observed_at, event_id).

    ``points`` are the segment's accepted readings in km on a continuous counter (any order; they are
    sorted by (observed_at, event_id) here). See the module docstring for the rules.
    """
    ordered = sorted(points, key=lambda p: (p.observed_at, p.event_id))
    if len(ordered) < 2:
        return ()
    found = _conflicting_duplicates(ordered, policy)
    blamed = {b.blamed_event_id for b in found}
    trend = [p for p in ordered if p.event_id not in blamed]
    cap = _cap_of(policy)
    if any(_transition(a, b, policy, cap) != _NORMAL for a, b in itertools.pairwise(trend)):
        found.extend(_trend_breaks(trend, policy))
    position = {p.event_id: (p.observed_at, p.event_id) for p in ordered}
    found.sort(key=lambda b: (position[b.blamed_event_id or ""], b.kind))
    return tuple(found)


def _conflicting_duplicates(ordered: list[Point], policy: TrendPolicy) -> list[Break]:
    groups: dict[tuple[str, int], list[Point]] = {}
    for p in ordered:
        groups.setdefault((p.provider_id, p.observed_at // MS_PER_DAY), []).append(p)
    tol = policy.tolerance_km
    conflicted = [
        g for g in groups.values() if len(g) > 1 and max(p.km for p in g) - min(p.km for p in g) > tol
    ]
    if not conflicted:
        return []
    members = {p.event_id for g in conflicted for p in g}
    others = [p for p in ordered if p.event_id not in members]
    found: list[Break] = []
    for group in conflicted:
        group.sort(key=lambda p: (p.submitted_at, p.event_id))
        ref = _best_fitting(group, others, policy)
        for p in group:
            if p is not ref and abs(p.km - ref.km) > tol:
                cause, suggestion = _explain(p, ref.km - tol, ref.km + tol, ref.km, 0)
                found.append(Break(AnomalyKind.CONFLICTING_DUPLICATE, p.event_id, (ref.event_id,),
                                   cause, suggestion))
    return found


def _best_fitting(group: list[Point], others: list[Point], policy: TrendPolicy) -> Point:
    """The reading of a conflicting same-day group that the rest of the history supports (rule 1).

    Judged against the nearest other reading on each side: fewest steps/jumps to them, then nearest to
    the value they lead one to expect (interpolated between both, else extrapolated from one at the
    history's own rate); the first submitted when they do not decide.
    """
    cap = _cap_of(policy)
    first, last = group[0], group[0]
    for p in group:
        first = min(first, p, key=lambda x: (x.observed_at, x.event_id))
        last = max(last, p, key=lambda x: (x.observed_at, x.event_id))
    keys = [(p.observed_at, p.event_id) for p in others]
    at = bisect.bisect_left(keys, (first.observed_at, first.event_id))
    before = others[at - 1] if at > 0 else None
    after_at = bisect.bisect_right(keys, (last.observed_at, last.event_id))
    after = others[after_at] if after_at < len(others) else None
    if before is None and after is None:
        return group[0]
    rate = _plain_rate(others, policy)

    def misfit(p: Point) -> tuple[int, int]:
        breaks = 0
        if before is not None and _transition(before, p, policy, cap) != _NORMAL:
            breaks += 1
        if after is not None and _transition(p, after, policy, cap) != _NORMAL:
            breaks += 1
        if before is not None and after is not None and after.observed_at > before.observed_at:
            expected = before.km + (after.km - before.km) * (p.observed_at - before.observed_at) // (
                after.observed_at - before.observed_at)
        elif before is not None:
            expected = before.km + round(rate * (p.observed_at - before.observed_at))
        else:
            assert after is not None
            expected = after.km - round(rate * (after.observed_at - p.observed_at))
        return breaks, abs(p.km - expected)

    scores = [misfit(p) for p in group]
    best = min(scores)
    return group[scores.index(best)]


def _plain_rate(pts: list[Point], policy: TrendPolicy) -> float:
    """km per ms from the first to the last of ``pts`` (span ≥ 30 days, growing), else the typical rate."""
    if len(pts) > 1:
        a, b = pts[0], pts[-1]
        span = b.observed_at - a.observed_at
        if span >= _MIN_RATE_SPAN_MS and b.km > a.km:
            return (b.km - a.km) / span
    return policy.typical_km_per_year / MS_PER_YEAR


def _evidence_weights(pts: list[Point], policy: TrendPolicy) -> list[float]:
    """Each point's weight, or 0.0 for null and stale readings (rule 2)."""
    weights: list[float] = []
    first_seen: dict[tuple[str, int], int] = {}
    seen_real = False
    tol = policy.tolerance_km
    stale_ms = policy.stale_after_days * MS_PER_DAY
    for k, p in enumerate(pts):
        neutral = p.raw_value == 0 and seen_real
        e = first_seen.get((p.provider_id, p.km))
        if e is not None and not neutral:
            high = max((m.km for m in pts[e + 1 : k]), default=p.km)
            if high > p.km + tol:  # back to an old value after higher ones: stuck, unless it grows on
                neutral = not _grows_on(pts, k, high, tol)
            else:  # the same value again after a while: stuck while time passed (or a car standing still)
                neutral = p.observed_at - pts[e].observed_at >= stale_ms
        first_seen.setdefault((p.provider_id, p.km), k)
        seen_real = seen_real or p.km > tol
        weights.append(0.0 if neutral else max(p.weight, 0.0))
    return weights


def _miles_typed_as_km(pts: list[Point], weights: list[float], policy: TrendPolicy) -> list[int]:
    """Readings in km of a vehicle whose counter shows miles, whose value is the miles the counter showed
    (rule 2c): as km they do not fit the nearest weighed miles readings on each side, as miles they do.
    Two of them in a row (a garage that keeps recording the unit wrong) would otherwise form a regime of
    their own and come out as a ROLLBACK accusing the vehicle (found on the simulator: a third of the
    ROLLBACKs on vehicles never turned back)."""
    miles = [i for i, p in enumerate(pts) if p.unit is Unit.MILES and weights[i] > 0]
    if not miles:
        return []
    cap = _cap_of(policy)
    tol = policy.tolerance_km

    def fits(km: int, at: int, other: Point) -> bool:
        gap = other.observed_at - at
        growth = other.km - km if gap >= 0 else km - other.km
        return growth >= -tol and (growth <= policy.rate_floor_km or growth <= cap(abs(gap)))

    found = []
    for k, p in enumerate(pts):
        if p.unit is not Unit.KM or weights[k] == 0.0:
            continue
        at = bisect.bisect_left(miles, k)
        sides = [pts[i] for i in (miles[at - 1] if at > 0 else None, miles[at] if at < len(miles) else None)
                 if i is not None]  # fmt: skip
        as_miles = round(p.raw_value * KM_PER_MILE)
        if all(fits(as_miles, p.observed_at, q) for q in sides) and not all(
            fits(p.km, p.observed_at, q) for q in sides
        ):
            found.append(k)
    return found


def _grows_on(pts: list[Point], k: int, high: int, tol: int) -> bool:
    """Whether the provider of ``pts[k]`` (a repeat of an earlier km of its own, below a higher reading)
    goes on from it: a later reading of the same provider above it and still below that higher reading.
    A stuck feed repeats the old value or returns to the trend; a counter turned back (whose new values
    may happen to meet old ones) grows from the repeat at the car's pace (#17 item 2)."""
    p = pts[k]
    return any(m.provider_id == p.provider_id and p.km + tol < m.km < high - tol for m in pts[k + 1 :])


def _best_trend(pts: list[Point], weights: list[float], policy: TrendPolicy) -> tuple[list[int], list[int]]:
    """Indices kept by the best trend (rule 3) and, for each kept one, the transition into it.

    ``value[i]`` is the best (score, kept count) of a trend starting at i, packed in one integer
    ``score·m + count`` (weights in thousandths, so scores are exact integers and ties are real ties).
    """
    n = len(pts)
    m = n + 1
    step = round(policy.step_penalty * _WEIGHT_SCALE) * m
    jump = round(policy.jump_penalty * _WEIGHT_SCALE) * m
    tol, floor = policy.tolerance_km, policy.rate_floor_km
    cap = _cap_of(policy)
    slope = _slope_below_cap(policy)
    km = [p.km for p in pts]
    at = [p.observed_at for p in pts]
    value = [0] * n
    after = [-1] * n
    move = [[_NORMAL] * n for _ in range(n)]
    for i in range(n - 1, -1, -1):
        best, best_next = 0, -1
        km_i, at_i, move_i = km[i], at[i], move[i]
        for j in range(i + 1, n):
            growth = km[j] - km_i
            candidate = value[j]
            if growth < -tol:
                move_i[j] = _STEP
                candidate -= step
            elif growth > floor and growth > slope * (at[j] - at_i) and growth > cap(at[j] - at_i):
                move_i[j] = _JUMP
                candidate -= jump
            if candidate > best:
                best, best_next = candidate, j
        value[i] = round(weights[i] * _WEIGHT_SCALE) * m + 1 + best
        after[i] = best_next
    start = max(range(n), key=lambda i: (value[i], -i))
    kept, moves = [start], [_NORMAL]
    while after[kept[-1]] >= 0:
        nxt = after[kept[-1]]
        moves.append(move[kept[-1]][nxt])
        kept.append(nxt)
    return kept, moves


def _trend_breaks(pts: list[Point], policy: TrendPolicy) -> list[Break]:
    weights = _evidence_weights(pts, policy)
    unit_typos = set(_miles_typed_as_km(pts, weights, policy))
    weights = [0.0 if k in unit_typos else w for k, w in enumerate(weights)]  # explained below, as typos
    kept, moves = _best_trend(pts, weights, policy)
    singles = _typo_singletons(pts, weights, kept, moves, policy)
    if singles:
        # Rule 3b: a single kept reading that a typo explains loses its vote; the trend is chosen anew.
        weights = [0.0 if k in singles else w for k, w in enumerate(weights)]
        kept, moves = _best_trend(pts, weights, policy)
    demoted = singles | unit_typos
    found: list[Break] = []
    last = len(kept) - 1
    for pos in range(1, len(kept)):
        if moves[pos] == _NORMAL:
            continue
        before, point = pts[kept[pos - 1]], pts[kept[pos]]
        below = moves[pos] == _STEP
        if pos == last and kept[pos] == len(pts) - 1 and weights[kept[pos]] > 0:
            # Rule 6: a last reading alone after the step/jump is a typo when a pattern explains it.
            rate = _regime_rate(pts, kept, moves, pos - 1, -1)
            lo, hi, centre = _trailing_window(point, before, rate, policy)
            cause, suggestion = _explain(point, lo, hi, centre)
            if cause is not SuspectedCause.UNKNOWN:
                kind = AnomalyKind.DIP if below else AnomalyKind.SPIKE
                found.append(Break(kind, point.event_id, (before.event_id,), cause, suggestion))
                continue
        kind = AnomalyKind.ROLLBACK if below else AnomalyKind.IMPLAUSIBLE_RATE
        restart = below and _restarted(point, before, _regime_rate(pts, kept, moves, pos - 1, -1), policy)
        found.append(Break(kind, point.event_id, (before.event_id,), restart=restart))
    kept_set = set(kept)
    pos = 0
    for k, s in enumerate(pts):
        while pos < len(kept) and kept[pos] < k:
            pos += 1
        if k in kept_set:
            continue
        found.append(_outlier(pts, kept, moves, pos, s, weights[k] == 0.0 and k not in demoted, policy))
    return found


def _typo_singletons(
    pts: list[Point], weights: list[float], kept: list[int], moves: list[int], policy: TrendPolicy
) -> set[int]:
    """Kept readings that are single typos (rule 3b), to be weighed anew as outliers.

    A kept reading deviates alone, while the readings on either side of it agree with each other, and a
    typo pattern explains its value in the window they leave. Either side are its kept neighbours (it makes
    a step or jump into or out of the trend: a heavy source such as an inspection would otherwise carry a
    mistyped value into the trend as a ROLLBACK, or pin one on the right reading after it); or one side
    is a reading right beside it, at least as heavy, that was dropped for it although that reading fits
    both kept neighbours and lies nearer their time interpolation than it does (the "keep the earlier
    reading" tie-break would otherwise blame the right reading that soon follows a typo).
    """
    cap = _cap_of(policy)
    kept_set = set(kept)
    last = len(kept) - 1
    found: set[int] = set()
    for pos in range(1, last):
        k = kept[pos]
        if weights[k] == 0.0:
            continue
        outer_before, outer_after = pts[kept[pos - 1]], pts[kept[pos + 1]]
        s = pts[k]
        sides: list[tuple[Point, Point]] = []
        if moves[pos] != _NORMAL or moves[pos + 1] != _NORMAL:
            sides.append((outer_before, outer_after))
        for d in (k - 1, k + 1):
            if d in kept_set or weights[d] < weights[k]:
                continue
            other = pts[d]
            if (
                _transition(outer_before, other, policy, cap) == _NORMAL
                and _transition(other, outer_after, policy, cap) == _NORMAL
                and _off_line(other, outer_before, outer_after) < _off_line(s, outer_before, outer_after)
            ):
                sides.append((outer_before, other) if d > k else (other, outer_after))
        for p, q in sides:
            if _transition(p, q, policy, cap) != _NORMAL:
                continue
            lo, hi, centre = _interior_window(s, p, q, policy)
            if not lo <= s.km <= hi and _explain(s, lo, hi, centre)[0] is not SuspectedCause.UNKNOWN:
                found.add(k)
                break
    return found


def _off_line(s: Point, p: Point, q: Point) -> int:
    """How far ``s`` lies from the time interpolation between ``p`` and ``q`` (km)."""
    span = q.observed_at - p.observed_at
    expected = p.km if span <= 0 else p.km + (q.km - p.km) * (s.observed_at - p.observed_at) // span
    return abs(s.km - expected)


def _outlier(pts: list[Point], kept: list[int], moves: list[int], pos: int, s: Point, neutral: bool,
             policy: TrendPolicy) -> Break:
    """The break of a dropped reading ``s`` lying between kept[pos - 1] and kept[pos] (rules 5 and 6)."""
    p = pts[kept[pos - 1]] if pos > 0 else None
    q = pts[kept[pos]] if pos < len(kept) else None
    related = tuple(sorted(x.event_id for x in (p, q) if x is not None))
    if neutral:
        return Break(AnomalyKind.DIP, s.event_id, related, SuspectedCause.UNKNOWN, None)
    spread: int | None = None
    if p is not None and q is not None:
        lo, hi, centre = _interior_window(s, p, q, policy)
        spread = _interior_spread(p, q, policy)
    elif p is not None:
        lo, hi, centre = _trailing_window(s, p, _regime_rate(pts, kept, moves, pos - 1, -1), policy)
    else:
        assert q is not None
        lo, hi, centre = _leading_window(s, q, _regime_rate(pts, kept, moves, pos, +1), policy)
    below = _is_below(s, p, q, centre, policy)
    kind = AnomalyKind.DIP if below else AnomalyKind.SPIKE
    cause, suggestion = _explain(s, lo, hi, centre, spread)
    if q is None and cause is SuspectedCause.UNKNOWN:
        kind = AnomalyKind.ROLLBACK if below else AnomalyKind.IMPLAUSIBLE_RATE
        restart = below and p is not None and _restarted(s, p, _regime_rate(pts, kept, moves, pos - 1, -1),
                                                         policy)  # fmt: skip
        return Break(kind, s.event_id, related, restart=restart)
    return Break(kind, s.event_id, related, cause, suggestion)


def _restarted(s: Point, p: Point, rate: float | None, policy: TrendPolicy) -> bool:
    """Whether ``s``, below ``p``, reads like a counter restarted near zero since ``p`` rather than one
    turned back (``TrendPolicy.restart_max_km``): no more than the car drives in between at its own pace
    (``rate`` km/ms; unknown: the typical rate), times ``restart_rate_factor``."""
    if s.km > policy.restart_max_km:
        return False
    pace = rate if rate is not None else policy.typical_km_per_year / MS_PER_YEAR
    driven = pace * max(0, s.observed_at - p.observed_at) * policy.restart_rate_factor
    return s.km <= max(policy.rate_floor_km, driven)


def _is_below(s: Point, p: Point | None, q: Point | None, centre: int, policy: TrendPolicy) -> bool:
    if p is not None:
        if s.km < p.km - policy.tolerance_km:
            return True
        if s.km - p.km > allowed_growth_km(s.observed_at - p.observed_at, policy):
            return False
    if q is not None:
        if s.km > q.km + policy.tolerance_km:
            return False
        if q.km - s.km > allowed_growth_km(q.observed_at - s.observed_at, policy):
            return True
    return s.km < centre


def _regime_rate(
    pts: list[Point], kept: list[int], moves: list[int], pos: int, direction: int
) -> float | None:
    """km per ms of the kept readings joined to kept[pos] by normal transitions, or None if unknown."""
    end = pos
    while 0 <= end + direction < len(kept) and moves[max(end, end + direction)] == _NORMAL:
        end += direction
    a, b = pts[kept[min(pos, end)]], pts[kept[max(pos, end)]]
    span = b.observed_at - a.observed_at
    if span < _MIN_RATE_SPAN_MS or b.km <= a.km:
        return None
    return (b.km - a.km) / span


def _edge_reach(gap_ms: int, rate: float | None, policy: TrendPolicy) -> tuple[int, int]:
    """(expected growth, widest plausible growth) over ``gap_ms`` at an end of the history."""
    per_ms = rate if rate is not None else policy.typical_km_per_year / MS_PER_YEAR
    growth = per_ms * max(gap_ms, 0)
    reach = max(policy.rate_floor_km, math.ceil(policy.edge_window_factor * growth))
    return round(growth), min(allowed_growth_km(gap_ms, policy), reach)


def _trailing_window(s: Point, p: Point, rate: float | None, policy: TrendPolicy) -> tuple[int, int, int]:
    growth, reach = _edge_reach(s.observed_at - p.observed_at, rate, policy)
    return p.km - policy.tolerance_km, p.km + reach, p.km + min(growth, reach)


def _leading_window(s: Point, q: Point, rate: float | None, policy: TrendPolicy) -> tuple[int, int, int]:
    growth, reach = _edge_reach(q.observed_at - s.observed_at, rate, policy)
    return max(0, q.km - reach), q.km + policy.tolerance_km, max(0, q.km - min(growth, reach))


def _interior_window(s: Point, p: Point, q: Point, policy: TrendPolicy) -> tuple[int, int, int]:
    tol = policy.tolerance_km
    lo = max(p.km - tol, q.km - allowed_growth_km(q.observed_at - s.observed_at, policy))
    hi = min(q.km + tol, p.km + allowed_growth_km(s.observed_at - p.observed_at, policy))
    if lo > hi:  # p → q is itself a step or a jump: only p's side is meaningful
        lo, hi = p.km - tol, p.km + allowed_growth_km(s.observed_at - p.observed_at, policy)
    span = q.observed_at - p.observed_at
    if span <= 0:
        centre = (p.km + q.km) // 2
    else:
        centre = p.km + (q.km - p.km) * (s.observed_at - p.observed_at) // span
    return lo, hi, min(max(centre, lo), hi)


def _explain(
    s: Point, lo_km: int, hi_km: int, centre_km: int, spread_km: int | None = None
) -> tuple[SuspectedCause, int | None]:
    """``explain_typo`` with the km window converted to the reading's raw unit and counter offset."""
    factor = KM_PER_MILE if s.unit is Unit.MILES else 1.0
    offset = round(s.km / factor) - s.raw_value  # non-zero for unwrapped 5-digit counters
    lo = max(0, math.floor(lo_km / factor) - offset)
    hi = math.ceil(hi_km / factor) - offset
    spread = None if spread_km is None else round(spread_km / factor)
    expected = round(centre_km / factor) - offset
    return explain_typo(s.raw_value, lo, hi, s.unit, expected=expected, spread=spread)


def _interior_spread(p: Point, q: Point, policy: TrendPolicy) -> int:
    """How far the right value of a reading between ``p`` and ``q`` may stray from their interpolation."""
    return max(policy.interior_spread_min_km, round(policy.interior_spread * abs(q.km - p.km)))
