"""The vehicle aggregate: ``decide(state, event, policy, processed_at) -> Decision`` per VIN-keyed event.

::

    OdometerReading ──► checks (intake) ──ERROR──► receipt REJECTED, reading kept aside (R5)
                          │ duplicate ──────────► receipt with DUPLICATE, not added
                          ▼
                      insert by (observed_at, event_id)
                          │ appended and consistent_append ──► fast path: O(1), no find_breaks
                          ▼
                      reevaluate touched segment ──► settle: AnomalyEvents, trend warnings on the receipt
    CorrectionRequest ──► corrections.decide_correction (R5)
    ReadingConfirmation ► confirmations.decide_confirmation: the reading marked confirmed (no output)
    VehicleRegistration ─► latest facts; a changed counter kind (R7) re-judges every segment
    RecallStatus / AccidentInspectionStatus ──► latest status per campaign / of the vehicle

Receipts: exactly one per distinct reading or correction ``event_id`` (R4). Registrations, recalls and
accident statuses get none: they come from DIV, manufacturers and experts through their own channels, and
the receipt contract (key VIN, ``provider_id``) is about odometer submissions.

Idempotent on ``event_id``: a re-delivered event returns the same state and no output. Registrations,
recalls and accident statuses are idempotent by construction (the latest by event time wins, ties broken
deterministically), so they need no remembered id.

``evolve`` is ``decide`` without the outputs: the state holds judgment results (open anomalies, issued
error numbers), so the one function computes both; ``fold`` is a replay.
"""

from __future__ import annotations

import functools
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import replace

from schemas.records import (
    AccidentInspectionState,
    AccidentInspectionStatus,
    AnomalyStatus,
    CorrectionRequest,
    Issue,
    OdometerReading,
    ProviderKind,
    ReadingConfirmation,
    RecallState,
    RecallStatus,
    Receipt,
    ReceiptStatus,
    Severity,
    Unit,
    VehicleRegistration,
)
from streams.domain.calendar import MS_PER_DAY, brussels_day
from streams.domain.catalogue import IssueCode, make_issue
from streams.domain.confirmations import decide_confirmation
from streams.domain.corrections import decide_correction
from streams.domain.errors import WrongVehicleError
from streams.domain.evaluation import (
    Decision,
    receipt,
    reevaluate,
    remember,
    set_aside,
    settle,
    trend_issues,
    with_error_numbers,
)
from streams.domain.fastbuild import builder
from streams.domain.history import to_km
from streams.domain.intake import iso_instant, reading_issues
from streams.domain.policy import DEFAULT_POLICY, ORIGINS_OF_KIND, Policy
from streams.domain.providers import ProviderDirectory
from streams.domain.state import (
    AccidentFact,
    RecallFact,
    RegistrationFacts,
    StoredReading,
    VehicleState,
    kept_work,
    reading_key,
)
from streams.domain.trend import append_is_consistent

VehicleEvent = (
    OdometerReading | CorrectionRequest | VehicleRegistration | RecallStatus | AccidentInspectionStatus
    | ReadingConfirmation
)

__all__ = ["Decision", "VehicleEvent", "decide", "evolve", "fold"]

# Hot-path constructors (see ``fastbuild``).
_DECISION = builder(Decision)
_STATE = builder(VehicleState)
_READING = builder(StoredReading)
_RECEIPT = builder(Receipt)
_ACCEPTED = ReceiptStatus.ACCEPTED


def decide(
    state: VehicleState,
    event: VehicleEvent,
    policy: Policy = DEFAULT_POLICY,
    processed_at: int = 0,
    providers: ProviderDirectory | None = None,
) -> Decision:
    """Apply ``event`` to ``state``: the new state, the receipt (readings, corrections) and anomaly events.

    ``processed_at`` (epoch ms) stamps the outputs (``Receipt.processed_at``, ``AnomalyEvent.detected_at``);
    the state never depends on it. ``providers``: the registry of providers; a reading is then weighed by
    its provider's registered kind and refused from an unregistered or inactive provider, or from an origin
    its kind does not send (``streams.domain.providers``); ``None``: by the reading's own fields.
    """
    if event.vin != state.vin:
        raise WrongVehicleError(f"event {event.event_id} is for VIN {event.vin!r}, state for {state.vin!r}")
    if isinstance(event, OdometerReading):
        return _decide_reading(state, event, policy, processed_at, providers)
    if isinstance(event, CorrectionRequest):
        return decide_correction(state, event, policy, processed_at)
    if isinstance(event, VehicleRegistration):
        return _decide_registration(state, event, policy, processed_at)
    if isinstance(event, RecallStatus):
        return Decision(_apply_recall(state, event, policy.bounds.recalls))
    if isinstance(event, ReadingConfirmation):
        return decide_confirmation(state, event)
    return Decision(_apply_accident(state, event))


def evolve(state: VehicleState, event: VehicleEvent, policy: Policy = DEFAULT_POLICY) -> VehicleState:
    """The state after ``event`` (``decide`` without its outputs)."""
    return decide(state, event, policy).state


def fold(
    events: Iterable[VehicleEvent], policy: Policy = DEFAULT_POLICY, state: VehicleState | None = None
) -> VehicleState | None:
    """Replay ``events`` (all of one VIN) from ``state``, or from an empty state of the first event's VIN.

    ``None`` only when there is neither a state nor an event.
    """
    iterator = iter(events)
    if state is None:
        first = next(iterator, None)
        if first is None:
            return None
        state = evolve(VehicleState(first.vin), first, policy)
    return functools.reduce(lambda s, e: evolve(s, e, policy), iterator, state)


# --- odometer readings -----------------------------------------------------------------------------------


def _rejected_before(state: VehicleState, event_id: str) -> bool:
    return any(r.event_id == event_id for r in state.rejected)


def _provider_issues(
    r: OdometerReading, providers: ProviderDirectory
) -> tuple[ProviderKind, tuple[Issue, ...]]:
    """The kind ``r`` is weighed as, and what its provider's registration says of it."""
    eid, claimed = r.event_id, r.provider_kind
    standing = providers.standing(r.provider_id, r.submitted_at)
    if standing is None:
        issue = make_issue(eid, IssueCode.PROVIDER_NOT_REGISTERED, provider=r.provider_id,
                           submitted=iso_instant(r.submitted_at))  # fmt: skip
        return claimed, (issue,)
    if not standing.active:
        issue = make_issue(eid, IssueCode.PROVIDER_INACTIVE, provider=r.provider_id,
                           since=iso_instant(standing.since))  # fmt: skip
        return claimed, (issue,)
    kind = standing.kind
    allowed = ORIGINS_OF_KIND[kind]
    if r.origin not in allowed:
        names = " or ".join(sorted(o.value for o in allowed))
        return kind, (make_issue(eid, IssueCode.ORIGIN_NOT_ALLOWED, kind=kind.value, allowed=names,
                                 origin=r.origin.value),)  # fmt: skip
    if kind is not claimed:
        corrected = make_issue(eid, IssueCode.PROVIDER_KIND_CORRECTED, claimed=claimed.value, kind=kind.value)
        return kind, (corrected,)
    return kind, ()


def _decide_reading(
    state: VehicleState,
    r: OdometerReading,
    policy: Policy,
    processed_at: int,
    providers: ProviderDirectory | None = None,
) -> Decision:
    eid = r.event_id
    vin = state.vin
    readings = state.readings
    count = len(readings)
    last = readings[-1] if count else None
    observed = r.observed_at
    if last is None or observed > last.observed_at or (observed == last.observed_at and eid > last.event_id):
        index = count
    else:
        index = bisect_left(readings, (observed, eid), key=reading_key)
        if index < count and readings[index].event_id == eid:
            return _DECISION(state=state, receipts=(), anomalies=())
    # Not at its delivered place: seen only as a duplicate, withdrawn, date-corrected or rejected reading.
    if eid in state.done_ids or (state.rejected and _rejected_before(state, eid)):
        return _DECISION(state=state, receipts=(), anomalies=())

    registration = state.registration
    digits = r.counter_digits
    five = (registration is not None and registration.counter_digits == 5) if digits is None else digits == 5
    # A VIN with an accepted reading passed its check (R1 errors reject, corrections re-check it).
    issues = reading_issues(vin, r, five, registration, policy.receipts, vin_valid=count > 0)
    bounds = policy.bounds
    if count >= bounds.readings:
        issues = (*issues, make_issue(eid, IssueCode.HISTORY_FULL, vin=vin, limit=f"{bounds.readings:,}"))
    kind = r.provider_kind
    if providers is not None:
        kind, standing_issues = _provider_issues(r, providers)
        if standing_issues:
            issues = (*standing_issues, *issues)
    value, unit, provider_id, replaced = r.odometer_value, r.unit, r.provider_id, r.odometer_replaced
    stored = _READING(
        event_id=eid,
        observed_at=observed,
        value=value,
        unit=unit,
        provider_id=provider_id,
        provider_kind=kind,
        origin=r.origin,
        submitted_at=r.submitted_at,
        odometer_replaced=replaced,
        counter_digits=digits,
        error_numbers=tuple(issue.error_number for issue in issues) if issues else (),
        work_description=kept_work(r.work_description) if r.work_description is not None else None,
    )
    if issues and any(issue.severity is Severity.ERROR for issue in issues):
        rejected, closed = set_aside(state, stored, bounds.rejected)
        return Decision(
            replace(state, rejected=rejected, electronic_closed=closed),
            (receipt(eid, vin, provider_id, issues, processed_at),),
        )
    near = (index > 0 and observed - readings[index - 1].observed_at < MS_PER_DAY) or (
        index < count and readings[index].observed_at - observed < MS_PER_DAY
    )
    original = _duplicate_of(readings, index, stored) if near else None
    if original is not None:
        duplicate = make_issue(eid, IssueCode.DUPLICATE, original=original.event_id)
        return Decision(
            replace(state, done_ids=remember(state.done_ids, eid, bounds.done_ids)),
            (receipt(eid, vin, provider_id, (*issues, duplicate), processed_at),),
        )

    if index == count:
        new_readings = readings + (stored,)  # noqa: RUF005 (concatenation builds no list: faster)
        if not (five or replaced) and (last is None or _fast_append(state, last, stored, policy)):
            # Appended consistently after a clean history, or a first reading: no trend analysis.
            return _DECISION(
                state=_STATE(
                    vin=vin,
                    readings=new_readings,
                    rejected=state.rejected,
                    done_ids=state.done_ids,
                    electronic_closed=state.electronic_closed,
                    registration=registration,
                    recalls=state.recalls,
                    accident=state.accident,
                    anomalies=state.anomalies,
                    confirmations=state.confirmations,
                ),
                receipts=(
                    receipt(eid, vin, provider_id, issues, processed_at)
                    if issues
                    else _RECEIPT(
                        event_id=eid, vin=vin, provider_id=provider_id, status=_ACCEPTED, issues=(),
                        processed_at=processed_at,
                    ),
                ),
                anomalies=(),
            )
    else:
        new_readings = (*readings[:index], stored, *readings[index:])

    touched = {eid}
    if index > 0:
        touched.add(readings[index - 1].event_id)
    if index < count:
        touched.add(readings[index].event_id)
    after = reevaluate(state.anomalies, new_readings, state.five_digit_registered, touched, policy)
    warnings = trend_issues(eid, stored, after)
    if warnings:
        issues = (*issues, *warnings)
        stored = with_error_numbers(stored, warnings, bounds.error_numbers)
        new_readings = (*readings[:index], stored, *readings[index:])
    new_state = replace(state, readings=new_readings, anomalies=after)
    events = settle(new_state, state.anomalies, new_readings, AnomalyStatus.RETRACTED, processed_at)
    return Decision(new_state, (receipt(eid, state.vin, provider_id, issues, processed_at),), events)


def _fast_append(state: VehicleState, last: StoredReading, new: StoredReading, policy: Policy) -> bool:
    """Issue 3 item 6: ``new`` comes after ``last`` on the same continuous counter, no break is open, and
    the trend engine vouches that appending it cannot create one (``consistent_append``, asked on bare
    values: building the two trend points would cost more than the check itself)."""
    if not policy.fast_path:
        return False
    digits = last.counter_digits
    registration = state.registration
    if digits == 5 or (digits is None and registration is not None and registration.counter_digits == 5):
        return False  # R7: a 5-digit counter may wrap
    anomalies = state.anomalies
    if anomalies and any(not a.is_marker for a in anomalies):
        return False
    return append_is_consistent(
        last.observed_at,
        last.event_id,
        last.value if last.unit is Unit.KM else to_km(last.value, last.unit),
        new.observed_at,
        new.event_id,
        new.value if new.unit is Unit.KM else to_km(new.value, new.unit),
        policy.trend,
    )


def _duplicate_of(
    readings: tuple[StoredReading, ...], index: int, new: StoredReading
) -> StoredReading | None:
    """An accepted reading of the same provider, Brussels day, value and unit (R17 "already sent today")."""
    day: int | None = None
    for step, start in ((-1, index - 1), (1, index)):
        position = start
        while 0 <= position < len(readings):
            other = readings[position]
            if abs(other.observed_at - new.observed_at) >= MS_PER_DAY:
                break
            if other.provider_id == new.provider_id and other.value == new.value and other.unit is new.unit:
                if day is None:
                    day = brussels_day(new.observed_at)
                if brussels_day(other.observed_at) == day:
                    return other
            position += step
    return None


# --- registrations, recalls, accident inspections ------------------------------------------------------


def _decide_registration(
    state: VehicleState, event: VehicleRegistration, policy: Policy, processed_at: int
) -> Decision:
    facts = RegistrationFacts(
        kind=event.kind,
        effective_at=event.effective_at,
        first_registration_date=event.first_registration_date,
        imported_used=event.imported_used,
        make=event.make,
        model=event.model,
        vehicle_category=event.vehicle_category,
        plate=event.plate,
        first_registration_be_date=event.first_registration_be_date,
        import_country=event.import_country,
        euro_norm=event.euro_norm,
        co2_g_km=event.co2_g_km,
        co2_test_procedure=event.co2_test_procedure,
        fuel_type=event.fuel_type,
        electric_motor=event.electric_motor,
        electric_range_km=event.electric_range_km,
        counter_digits=event.counter_digits,
    )
    current = state.registration
    if current is not None and facts.order_key() <= current.order_key():
        return Decision(state)
    new_state = replace(state, registration=facts)
    if new_state.five_digit_registered == state.five_digit_registered or not state.readings:
        return Decision(new_state)
    # R7: how the counter is read changed, so every segment is read anew.
    after = reevaluate(state.anomalies, state.readings, new_state.five_digit_registered, None, policy)
    new_state = replace(new_state, anomalies=after)
    events = settle(new_state, state.anomalies, state.readings, AnomalyStatus.RETRACTED, processed_at)
    return Decision(new_state, (), events)


_RECALL_RANK = {RecallState.WITHDRAWN: 0, RecallState.COMPLETED: 1, RecallState.OPEN: 2}
"""Tie-break of two statuses at the same instant: show the recall (the safer reading for a buyer)."""
_ACCIDENT_RANK = {AccidentInspectionState.PASSED: 0, AccidentInspectionState.REQUIRED: 1}


def _apply_recall(state: VehicleState, event: RecallStatus, most: int) -> VehicleState:
    new_key = (event.changed_at, _RECALL_RANK[event.status])
    recalls = list(state.recalls)
    for position, recall in enumerate(recalls):
        if recall.campaign_id == event.campaign_id:
            if (recall.changed_at, _RECALL_RANK[recall.status]) >= new_key:
                return state
            del recalls[position]
            break
    recalls.append(
        RecallFact(event.campaign_id, event.manufacturer, event.description, event.status, event.changed_at)
    )
    if len(recalls) > most:  # VehicleBounds.recalls: the campaign changed longest ago goes, closed ones first
        recalls.sort(key=lambda r: (r.status is RecallState.OPEN, r.changed_at, r.campaign_id))
        del recalls[: len(recalls) - most]
    recalls.sort(key=lambda recall: recall.campaign_id)
    return replace(state, recalls=tuple(recalls))


def _apply_accident(state: VehicleState, event: AccidentInspectionStatus) -> VehicleState:
    current = state.accident
    new_key = (event.changed_at, _ACCIDENT_RANK[event.status])
    if current is not None and (current.changed_at, _ACCIDENT_RANK[current.status]) >= new_key:
        return state
    return replace(state, accident=AccidentFact(event.status, event.changed_at))
