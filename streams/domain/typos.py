"""Guess which keying error turned the right odometer value into the one typed (domain: error patterns).

``explain_typo`` rebuilds every value one keying error away from the typed one and keeps those that land in
the window where the right value must lie (given by the neighbouring readings, in the typed value's unit).

Patterns, grouped in tiers by how many candidates they produce — a pattern that yields a single candidate
and still lands in the window is far stronger evidence than one of ~80 single-digit edits landing there by
chance, so a fitting lower tier always wins:

* tier 0, one candidate each: factor 10 (a zero too many → ``EXTRA_DIGIT``, a zero too few →
  ``MISSING_DIGIT``), and miles typed as km (``MILES_AS_KM``, suggestion ``round(value * 1.609344)``, only
  when the value was recorded in km);
* tier 1: two adjacent digits swapped (``SWAPPED_DIGITS``), and a key pressed twice (``EXTRA_DIGIT``: one of
  two equal adjacent digits deleted);
* tier 2: one digit mistyped (``MISTYPED_DIGIT``), any digit too many (``EXTRA_DIGIT``, delete one digit) or
  too few (``MISSING_DIGIT``, insert one of 0–9 anywhere).

Within the best tier the candidate nearest the expected value wins; ties go to the cause order
SWAPPED_DIGITS, MISTYPED_DIGIT, EXTRA_DIGIT, MISSING_DIGIT, MILES_AS_KM, then to the smaller value. No
candidate is allowed to start with a 0 (nobody types leading zeros). Nothing fits: ``(UNKNOWN, None)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from schemas.records import SuspectedCause, Unit

KM_PER_MILE = 1.609344
"""International mile, exactly."""

_CAUSE_ORDER: dict[SuspectedCause, int] = {
    SuspectedCause.SWAPPED_DIGITS: 0,
    SuspectedCause.MISTYPED_DIGIT: 1,
    SuspectedCause.EXTRA_DIGIT: 2,
    SuspectedCause.MISSING_DIGIT: 3,
    SuspectedCause.MILES_AS_KM: 4,
}
_DIGITS = "0123456789"


def typo_candidates(value: int, unit: Unit) -> Iterator[tuple[int, SuspectedCause, int]]:
    """Yield ``(tier, cause, candidate)`` for every value one keying error away from ``value``, by tier.

    Candidates may repeat (one value reachable by two patterns) and may equal ``value``; callers filter.
    """
    if value < 0:
        return
    yield from _single_candidates(value, unit)
    text = str(value)
    yield from _swaps(text)
    yield from _bounces(text)
    yield from _digit_edits(text)


def _single_candidates(value: int, unit: Unit) -> Iterator[tuple[int, SuspectedCause, int]]:
    if value > 0:
        yield 0, SuspectedCause.MISSING_DIGIT, value * 10
    if value >= 10 and value % 10 == 0:
        yield 0, SuspectedCause.EXTRA_DIGIT, value // 10
    if unit is Unit.KM and value > 0:
        yield 0, SuspectedCause.MILES_AS_KM, round(value * KM_PER_MILE)


def _swaps(text: str) -> Iterator[tuple[int, SuspectedCause, int]]:
    for i in range(len(text) - 1):
        if text[i] != text[i + 1] and not (i == 0 and text[1] == "0"):
            yield 1, SuspectedCause.SWAPPED_DIGITS, int(text[:i] + text[i + 1] + text[i] + text[i + 2:])


def _bounces(text: str) -> Iterator[tuple[int, SuspectedCause, int]]:
    """A key pressed twice: one of two equal adjacent digits too many (a few candidates, like swaps)."""
    for i in range(len(text) - 1):
        if text[i] == text[i + 1] and (i > 0 or text[1] != "0" or len(text) == 2):
            yield 1, SuspectedCause.EXTRA_DIGIT, int(text[:i] + text[i + 1 :])


def _digit_edits(text: str) -> Iterator[tuple[int, SuspectedCause, int]]:
    size = len(text)
    for i in range(size):
        for digit in _DIGITS:
            if digit != text[i] and not (i == 0 and digit == "0" and size > 1):
                yield 2, SuspectedCause.MISTYPED_DIGIT, int(text[:i] + digit + text[i + 1:])
    yield from _deletions(text)
    yield from _insertions(text)


def _deletions(text: str) -> Iterator[tuple[int, SuspectedCause, int]]:
    size = len(text)
    if size > 1:
        for i in range(size):
            rest = text[:i] + text[i + 1:]
            if rest[0] != "0" or len(rest) == 1:
                yield 2, SuspectedCause.EXTRA_DIGIT, int(rest)


def _insertions(text: str) -> Iterator[tuple[int, SuspectedCause, int]]:
    for i in range(len(text) + 1):
        for digit in _DIGITS:
            grown = text[:i] + digit + text[i:]
            if grown[0] != "0":
                yield 2, SuspectedCause.MISSING_DIGIT, int(grown)


def explain_typo(
    value: int,
    expected_low: int,
    expected_high: int,
    unit: Unit,
    expected: int | None = None,
    spread: int | None = None,
) -> tuple[SuspectedCause, int | None]:
    """Return the most likely keying error and the value it suggests, or ``(UNKNOWN, None)``.

    ``value`` is the reading as typed and ``unit`` its unit; the right value is assumed to lie in
    ``[expected_low, expected_high]`` (inclusive, same unit as ``value``) and to be near ``expected``
    (default: the middle of the window). The suggestion always lies in the window and differs from
    ``value``. Pure and deterministic.

    ``spread`` (same unit): how far from ``expected`` the right value may plausibly be, when ``expected``
    can be trusted (between two readings). Then a factor-10 winner (``MISSING_DIGIT``/``EXTRA_DIGIT``,
    tier 0) competes with every digit inserted / deleted anywhere (tier 2, same cause) on the distance to
    ``expected``, the tier-2 candidate handicapped by ``2 * spread``: it wins only when it lands clearly
    nearer (a digit left out at the front, where ×10 only gets the leading digits right). ``spread=0``
    compares on distance alone.
    """
    if expected_low > expected_high:
        return SuspectedCause.UNKNOWN, None
    centre = (expected_low + expected_high) // 2 if expected is None else expected
    if value < 0:
        return SuspectedCause.UNKNOWN, None
    if spread is not None:
        return _nearest(value, unit, expected_low, expected_high, centre, spread)
    return _by_tier(value, unit, expected_low, expected_high, centre)


def _by_tier(
    value: int, unit: Unit, expected_low: int, expected_high: int, centre: int
) -> tuple[SuspectedCause, int | None]:
    text = str(value)
    tier_1 = itertools.chain(_swaps(text), _bounces(text))
    tiers = (_single_candidates(value, unit), tier_1, _digit_edits(text))
    for tier in tiers:
        best: tuple[int, int, int] | None = None
        best_cause = SuspectedCause.UNKNOWN
        for _tier, cause, candidate in tier:
            if candidate == value or not expected_low <= candidate <= expected_high:
                continue
            key = (abs(candidate - centre), _CAUSE_ORDER[cause], candidate)
            if best is None or key < best:
                best, best_cause = key, cause
        if best is not None:  # a fitting candidate of a lower tier always wins
            return best_cause, best[2]
    return SuspectedCause.UNKNOWN, None


def _nearest(
    value: int, unit: Unit, low: int, high: int, centre: int, spread: int
) -> tuple[SuspectedCause, int | None]:
    """Tier order, except that a factor of 10 competes with a digit inserted or deleted anywhere."""
    cause, best = _by_tier(value, unit, low, high, centre)
    if best is None or cause not in (SuspectedCause.MISSING_DIGIT, SuspectedCause.EXTRA_DIGIT):
        return cause, best
    key = (abs(best - centre), best)
    edits = _insertions if cause is SuspectedCause.MISSING_DIGIT else _deletions
    for _tier, _cause, candidate in edits(str(value)):
        if candidate == value or not low <= candidate <= high:
            continue
        other_key = (abs(candidate - centre) + 2 * spread, candidate)
        if other_key < key:
            key, best = other_key, candidate
    return cause, best
