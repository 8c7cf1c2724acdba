"""From trend breaks and counter markers to ``AnomalyEvent``s: diff the anomalies open before a decision
against those found after it.

* found now, not open before: OPEN (``anomaly_id = uuid5(vin|kind|blamed_event_id)``, stable);
* open before and found again with other details (cause, suggested value, related readings): OPEN again,
  superseding the earlier event with the same id;
* open before, not found now: RESOLVED when the decision is a correction (R5: the error was fixed or the
  reading withdrawn), RETRACTED otherwise (later evidence moved the blame, R9);
* ODOMETER_REPLACED (R6) and COUNTER_WRAPPED (R7) markers are OPENed once, never blamed on a provider.

The blamed provider is named only for data-entry errors (SPIKE, DIP, IMPLAUSIBLE_RATE,
CONFLICTING_DUPLICATE): a ROLLBACK's first lower reading was read correctly from a tampered dashboard (R9),
so its provider is not blamed (R10 counts only blamed breaks).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from schemas.records import AnomalyEvent, AnomalyKind, AnomalyStatus, Judgment
from streams.domain.history import Segment
from streams.domain.ids import anomaly_id
from streams.domain.points import Break
from streams.domain.state import OpenAnomaly, StoredReading, anomaly_key

BLAMING_KINDS = frozenset(
    {AnomalyKind.SPIKE, AnomalyKind.DIP, AnomalyKind.IMPLAUSIBLE_RATE, AnomalyKind.CONFLICTING_DUPLICATE}
)
"""Breaks that are a provider's data-entry error (R9, R10)."""


def from_break(found: Break) -> OpenAnomaly:
    return OpenAnomaly(
        found.kind,
        found.blamed_event_id,
        tuple(found.related_event_ids),
        found.cause,
        found.suggested_value,
        found.restart,
    )


def markers(readings: Sequence[StoredReading], segments: Iterable[Segment]) -> list[OpenAnomaly]:
    """The no-judgment markers of a history: each odometer replacement (R6) and 5-digit wrap (R7)."""
    found = [OpenAnomaly(AnomalyKind.ODOMETER_REPLACED, r.event_id) for r in readings if r.odometer_replaced]
    for segment in segments:
        found.extend(OpenAnomaly(AnomalyKind.COUNTER_WRAPPED, eid) for eid in segment.wrapped_event_ids)
    return found


def canonical(anomalies: Iterable[OpenAnomaly]) -> tuple[OpenAnomaly, ...]:
    """One anomaly per identity, sorted by identity: the form stored in ``VehicleState.anomalies``."""
    unique = {anomaly_key(a): a for a in anomalies}
    return tuple(unique[key] for key in sorted(unique))


def to_event(
    vin: str,
    anomaly: OpenAnomaly,
    status: AnomalyStatus,
    blamed: StoredReading | None,
    judgment: Judgment,
    detected_at: int,
) -> AnomalyEvent:
    return AnomalyEvent(
        anomaly_id=anomaly_id(vin, anomaly.kind.value, anomaly.blamed_event_id),
        vin=vin,
        kind=anomaly.kind,
        status=status,
        related_event_ids=anomaly.related_event_ids,
        judgment=judgment,
        detected_at=detected_at,
        blamed_event_id=anomaly.blamed_event_id,
        blamed_provider_id=blamed.provider_id
        if blamed is not None and anomaly.kind in BLAMING_KINDS
        else None,
        suspected_cause=anomaly.cause,
        suggested_value=anomaly.suggested_value,
        observed_at=blamed.observed_at if blamed is not None else None,
        counter_restarted=anomaly.restart,
    )


def diff(
    vin: str,
    before: Sequence[OpenAnomaly],
    after: Sequence[OpenAnomaly],
    *,
    closing: AnomalyStatus,
    readings: Mapping[str, StoredReading],
    judgment: Judgment,
    detected_at: int,
) -> tuple[AnomalyEvent, ...]:
    """The events that take consumers from ``before`` to ``after`` (both canonical).

    ``closing`` is the status of anomalies that disappear (RESOLVED or RETRACTED); ``readings`` finds a
    blamed reading by event id (it may be one withdrawn by this decision). Closings come first, then
    openings in history order.
    """
    old = {anomaly_key(a): a for a in before}
    new = {anomaly_key(a): a for a in after}
    closed = [a for key, a in old.items() if key not in new]
    opened = [a for key, a in new.items() if old.get(key) != a]

    def observed(anomaly: OpenAnomaly) -> int:
        blamed = readings.get(anomaly.blamed_event_id or "")
        return blamed.observed_at if blamed is not None else 0

    opened.sort(key=lambda a: (observed(a), anomaly_key(a)))
    events = [
        to_event(vin, a, closing, readings.get(a.blamed_event_id or ""), judgment, detected_at)
        for a in closed
    ]
    events.extend(
        to_event(vin, a, AnomalyStatus.OPEN, readings.get(a.blamed_event_id or ""), judgment, detected_at)
        for a in opened
    )
    return tuple(events)
