"""Re-judging a history after a change: the shared slow path of readings, corrections and registrations.

``reevaluate`` recomputes the anomalies of the counter segments a change touched (``find_breaks`` per
segment) and keeps those of untouched segments as they were; ``settle`` stores the result and emits the
``AnomalyEvent``s that take consumers from the old open set to the new one.
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
    for segment in segments:
        ids = [p.event_id for p in segment.points]
        if touched is None or any(eid in touched for eid in ids):
            found.extend(from_break(b) for b in find_breaks(segment.points, policy.trend))
        else:
            kept_ids.update(ids)
    found.extend(a for a in before if not a.is_marker and a.blamed_event_id in kept_ids)
    return canonical(found)


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
    is LOWER_THAN_HISTORY (the dashboard was read correctly, R9).
    """
    issues: list[Issue] = []
    for anomaly in anomalies:
        if anomaly.blamed_event_id != reading.event_id or anomaly.is_marker:
            continue
        code = _TREND_ISSUES[anomaly.kind]
        if any(issue.code == code for issue in issues):
            continue  # one issue per code: error numbers stay unique
        suggested = anomaly.suggested_value
        suggestion = f"; did you mean {suggested}?" if suggested is not None else ""
        cause = anomaly.cause.value if anomaly.cause is not None else "UNKNOWN"
        issues.append(
            make_issue(
                receipt_event_id,
                code,
                suggested if code is not IssueCode.LOWER_THAN_HISTORY else None,
                value=reading.value,
                unit=reading.unit.value,
                kind=anomaly.kind.value,
                cause=cause,
                suggestion=suggestion,
            )
        )
    return issues


def with_error_numbers(reading: StoredReading, issues: Iterable[Issue]) -> StoredReading:
    numbers = tuple(issue.error_number for issue in issues)
    if not numbers:
        return reading
    return replace(reading, error_numbers=reading.error_numbers + numbers)


def insert_sorted(values: tuple[str, ...], value: str) -> tuple[str, ...]:
    """``values`` (sorted, unique) with ``value`` added."""
    if value in values:
        return values
    return tuple(sorted((*values, value)))
