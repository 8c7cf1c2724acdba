"""Re-judging a history after a change: the shared slow path of readings, corrections and registrations.

``reevaluate`` recomputes the anomalies of the counter segments a change touched (``find_breaks`` per
segment) and keeps those of untouched segments as they were; ``settle`` stores the result and emits the
``AnomalyEvent``s that take consumers from the old open set to the new one.

A segment longer than ``VehicleBounds.trend_window`` is read in windows (``trend_windows``): overlapping
windows of that many readings tiling the segment from its newest reading back, each judging the middle of
its readings (its first and last quarter are context, except at the segment's ends). Only the windows
judging a touched reading are run; the anomalies blamed on readings elsewhere stay as they were. So one
change costs O(window²) however long the history, and a history no longer than the window is judged
whole, exactly as before.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace

from schemas.records import AnomalyEvent, AnomalyKind, AnomalyStatus, Issue, Receipt, ReceiptStatus, Severity
from streams.domain.anomalies import canonical, diff, from_break, markers
from streams.domain.catalogue import IssueCode, make_issue
from streams.domain.fastbuild import builder
from streams.domain.history import build_segments
from streams.domain.judgment import judge_state
from streams.domain.points import Point, TrendPolicy
from streams.domain.policy import Policy
from streams.domain.state import OpenAnomaly, StoredReading, VehicleState
from streams.domain.trend import find_breaks

_RECEIPT = builder(Receipt)  # the hot path's one output (see ``fastbuild``)


@dataclass(frozen=True, slots=True)
class Decision:
    """What one event did: the new state and the outputs to send (in order)."""

    state: VehicleState
    receipts: tuple[Receipt, ...] = ()
    anomalies: tuple[AnomalyEvent, ...] = ()


def receipt(
    event_id: str, vin: str, provider_id: str, issues: tuple[Issue, ...], processed_at: int
) -> Receipt:
    """R4: any ERROR rejects; warnings only accept with warnings."""
    if not issues:
        status = ReceiptStatus.ACCEPTED
    elif any(issue.severity is Severity.ERROR for issue in issues):
        status = ReceiptStatus.REJECTED
    else:
        status = ReceiptStatus.ACCEPTED_WITH_WARNINGS
    return _RECEIPT(event_id=event_id, vin=vin, provider_id=provider_id, status=status, issues=issues,
                    processed_at=processed_at)  # fmt: skip


def reevaluate(
    before: tuple[OpenAnomaly, ...],
    readings: tuple[StoredReading, ...],
    registered_five_digit: bool,
    touched: Collection[str] | None,
    policy: Policy,
) -> tuple[OpenAnomaly, ...]:
    """The open anomalies of ``readings`` (canonical).

    ``touched``: event ids next to the change (the changed reading, its old and new neighbours); the
    segments holding any of them are re-run through ``find_breaks``, the others keep the anomalies of
    ``before`` blamed on their readings. ``None`` re-runs every segment (a registration changed how the
    counter is read). Markers (R6, R7) are always recomputed: they cost no trend analysis.
    """
    segments = build_segments(readings, registered_five_digit, policy.weights)
    found = markers(readings, segments)
    kept_ids: set[str] = set()
    window = policy.bounds.trend_window
    for segment in segments:
        points = segment.points
        ids = [p.event_id for p in points]
        if touched is not None and not any(eid in touched for eid in ids):
            kept_ids.update(ids)
        elif len(points) <= window:
            found.extend(from_break(b) for b in find_breaks(points, policy.trend))
        else:
            found.extend(_windowed(points, ids, touched, window, policy.trend, kept_ids))
    found.extend(a for a in before if not a.is_marker and a.blamed_event_id in kept_ids)
    return canonical(found)


def trend_windows(count: int, window: int) -> list[tuple[int, int, int, int]]:
    """``(start, end, low, high)`` per window of a segment of ``count`` readings: the window reads readings
    ``start:end`` (at most ``window``) and judges ``low:high``; the judged parts tile ``0:count``. Newest
    first: the newest readings are always judged with a whole window of history before them."""
    margin = window // 4
    windows = []
    end = count
    while True:
        start = max(0, end - window)
        windows.append((start, end, start + margin if start else 0, end - margin if end < count else count))
        if start == 0:
            return windows
        end = start + 2 * margin


def _windowed(
    points: tuple[Point, ...], ids: list[str], touched: Collection[str] | None, window: int,
    policy: TrendPolicy, kept_ids: set[str],
) -> list[OpenAnomaly]:  # fmt: skip
    """The anomalies of the windows of a long segment that judge a touched reading (all: ``None``); the ids
    of the readings judged by no such window go to ``kept_ids`` (their anomalies stay as they were)."""
    positions = None if touched is None else [i for i, eid in enumerate(ids) if eid in touched]
    found: list[OpenAnomaly] = []
    for start, end, low, high in trend_windows(len(points), window):
        judged = ids[low:high]
        if positions is not None and not any(low <= i < high for i in positions):
            kept_ids.update(judged)
            continue
        mine = set(judged)
        found.extend(
            from_break(b) for b in find_breaks(points[start:end], policy)
            if b.blamed_event_id is None or b.blamed_event_id in mine
        )  # fmt: skip
    return found


def settle(
    state: VehicleState,
    before: tuple[OpenAnomaly, ...],
    lookup: Iterable[StoredReading],
    closing: AnomalyStatus,
    processed_at: int,
) -> tuple[AnomalyEvent, ...]:
    """The events from ``before`` to ``state.anomalies``; ``lookup`` finds blamed readings (old and new)."""
    if before == state.anomalies:
        return ()
    return diff(
        state.vin,
        before,
        state.anomalies,
        closing=closing,
        readings={r.event_id: r for r in lookup},
        judgment=judge_state(state).judgment,
        detected_at=processed_at,
    )


_TREND_ISSUES = {
    AnomalyKind.SPIKE: IssueCode.TREND_BREAK,
    AnomalyKind.DIP: IssueCode.TREND_BREAK,
    AnomalyKind.IMPLAUSIBLE_RATE: IssueCode.IMPLAUSIBLE_RATE,
    AnomalyKind.CONFLICTING_DUPLICATE: IssueCode.CONFLICTING_DUPLICATE,
    AnomalyKind.ROLLBACK: IssueCode.LOWER_THAN_HISTORY,
}


def trend_issues(
    receipt_event_id: str, reading: StoredReading, anomalies: Iterable[OpenAnomaly]
) -> list[Issue]:
    """Warnings for ``reading`` from the open breaks blamed on it, numbered for ``receipt_event_id``.

    A SPIKE/DIP is a TREND_BREAK with the suggested value; a ROLLBACK's first lower reading is only told it
    is LOWER_THAN_HISTORY (the dashboard was read correctly, R9), or, when the counter restarted near zero,
    REPLACEMENT_NOT_REPORTED (R6: report the replacement).
    """
    issues: list[Issue] = []
    for anomaly in anomalies:
        if anomaly.blamed_event_id != reading.event_id or anomaly.is_marker:
            continue
        code = IssueCode.REPLACEMENT_NOT_REPORTED if anomaly.restart else _TREND_ISSUES[anomaly.kind]
        if any(issue.code == code for issue in issues):
            continue  # one issue per code: error numbers stay unique
        suggested = anomaly.suggested_value
        suggestion = f"; did you mean {suggested}?" if suggested is not None else ""
        cause = anomaly.cause.value if anomaly.cause is not None else "UNKNOWN"
        issues.append(
            make_issue(
                receipt_event_id,
                code,
                suggested if anomaly.kind is not AnomalyKind.ROLLBACK else None,
                value=reading.value,
                unit=reading.unit.value,
                kind=anomaly.kind.value,
                cause=cause,
                suggestion=suggestion,
            )
        )
    return issues


def with_error_numbers(reading: StoredReading, issues: Iterable[Issue], most: int) -> StoredReading:
    """``reading`` with the error numbers of ``issues`` added; at most ``most`` kept (the newest)."""
    numbers = tuple(issue.error_number for issue in issues)
    if not numbers:
        return reading
    numbers = reading.error_numbers + numbers
    return replace(reading, error_numbers=numbers[-most:] if len(numbers) > most else numbers)


def remember(values: tuple[str, ...], value: str, most: int) -> tuple[str, ...]:
    """``values`` (in the order received) with ``value`` added last, unless present; beyond ``most`` the
    oldest are forgotten (``VehicleBounds.done_ids``)."""
    if value in values:
        return values
    values = (*values, value)
    return values[-most:] if len(values) > most else values


def set_aside(
    state: VehicleState, reading: StoredReading, most: int
) -> tuple[tuple[StoredReading, ...], tuple[str, ...]]:
    """``state.rejected`` with ``reading`` added last, and ``state.electronic_closed``: beyond ``most``
    rejected readings the oldest received goes, with its closed error numbers (nothing can name it now)."""
    rejected = (*state.rejected, reading)
    if len(rejected) <= most:
        return rejected, state.electronic_closed
    gone = {number for old in rejected[:-most] for number in old.error_numbers}
    return rejected[-most:], tuple(n for n in state.electronic_closed if n not in gone)


def insert_sorted(values: tuple[str, ...], value: str) -> tuple[str, ...]:
    """``values`` (sorted, unique) with ``value`` added."""
    if value in values:
        return values
    return tuple(sorted((*values, value)))
