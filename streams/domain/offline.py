"""Judge a log of events offline, over many VINs, with the same core as the stream (``carpass judge``).

::

    records (any VIN-keyed contract records, in log order)
      └─► per VIN: vehicle.decide(state, event, processed_at = the event's own time)
            ├─► Receipt / AnomalyEvent, in order
            └─► at the end, one VehicleSummary per VIN (in order of first appearance)

``processed_at`` is the event's ``submitted_at`` (readings, corrections), ``effective_at``
(registrations) or ``changed_at`` (recalls, accident inspections), so the output depends only on the
input: no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from schemas.records import (
    AnomalyEvent,
    CorrectionRequest,
    Judgment,
    OdometerReading,
    ReadingConfirmation,
    Receipt,
    VehicleRegistration,
)
from streams.domain.ids import anomaly_id
from streams.domain.judgment import judge_state
from streams.domain.policy import DEFAULT_POLICY, Policy
from streams.domain.providers import ProviderDirectory
from streams.domain.state import OpenAnomaly, VehicleState
from streams.domain.vehicle import VehicleEvent, decide


@dataclass(frozen=True, slots=True)
class SummaryAnomaly:
    """An anomaly open at the end of the log."""

    anomaly_id: str
    kind: str
    blamed_event_id: str | None
    suspected_cause: str | None
    suggested_value: int | None


@dataclass(frozen=True, slots=True)
class VehicleSummary:
    """The judgment of one VIN's history at the end of the log."""

    vin: str
    judgment: Judgment
    reasons: tuple[str, ...]
    open_anomalies: tuple[SummaryAnomaly, ...]
    readings_used: tuple[str, ...]
    """Event ids of the readings in the history (accepted, after corrections), oldest first."""


def event_time(event: VehicleEvent) -> int:
    """The event's own time (epoch ms), used as ``processed_at``."""
    if isinstance(event, OdometerReading | CorrectionRequest | ReadingConfirmation):
        return event.submitted_at
    if isinstance(event, VehicleRegistration):
        return event.effective_at
    return event.changed_at


def summarize(state: VehicleState) -> VehicleSummary:
    verdict = judge_state(state)
    return VehicleSummary(
        vin=state.vin,
        judgment=verdict.judgment,
        reasons=verdict.reasons,
        open_anomalies=tuple(_summary_anomaly(state.vin, a) for a in state.anomalies),
        readings_used=tuple(r.event_id for r in state.readings),
    )


def _summary_anomaly(vin: str, anomaly: OpenAnomaly) -> SummaryAnomaly:
    return SummaryAnomaly(
        anomaly_id=anomaly_id(vin, anomaly.kind.value, anomaly.blamed_event_id),
        kind=anomaly.kind.value,
        blamed_event_id=anomaly.blamed_event_id,
        suspected_cause=anomaly.cause.value if anomaly.cause is not None else None,
        suggested_value=anomaly.suggested_value,
    )


def judge(
    records: Iterable[VehicleEvent],
    policy: Policy = DEFAULT_POLICY,
    providers: ProviderDirectory | None = None,
) -> Iterator[Receipt | AnomalyEvent | VehicleSummary]:
    """Every receipt and anomaly event of ``records`` in order, then one summary per VIN. ``providers``:
    the registry of providers readings are judged by, as the worker does (``None``: by their own fields)."""
    states: dict[str, VehicleState] = {}
    for event in records:
        state = states.get(event.vin) or VehicleState(event.vin)
        decision = decide(state, event, policy, event_time(event), providers)
        states[event.vin] = decision.state
        yield from decision.receipts
        yield from decision.anomalies
    for state in states.values():
        yield summarize(state)
