"""Corrections (R5): by error number, once electronically by the provider, always by staff on a form.

::

    CorrectionRequest ──► the reading whose receipt carried ``error_number`` (accepted or kept aside)
        ├─ not found ───────────────────────────────► REJECTED  CORRECTION_UNKNOWN_ERROR_NUMBER
        ├─ ELECTRONIC, that error already used ─────► REJECTED  CORRECTION_ALREADY_USED
        ├─ ELECTRONIC, not the reading's provider ──► REJECTED  CORRECTION_UNKNOWN_ERROR_NUMBER (as not found:
        │                                              an error number does not tell whose it is)
        ├─ nothing to change ───────────────────────► REJECTED  CORRECTION_EMPTY
        ├─ withdraw ───► the reading leaves the history
        └─ corrected value/date ─► checked like a reading (ERRORs reject the correction) and put in its
                                   place, keeping its event_id
    then the touched segment is re-judged; anomalies that disappear are RESOLVED.

The error numbers of a reading live on it (``StoredReading.error_numbers``); a DUPLICATE's reading was
never added, so its number names nothing to correct. A rejected correction changes nothing and does not use
up the electronic correction. Warnings raised by an
accepted correction (the corrected reading still breaks the trend) get error numbers of the correction's
receipt; they are a second mistake, so they can only be corrected by form (R5).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import replace

from schemas.records import AnomalyStatus, CorrectionChannel, CorrectionRequest, Issue, Severity
from streams.domain.catalogue import IssueCode, make_issue
from streams.domain.evaluation import (
    Decision,
    insert_sorted,
    receipt,
    reevaluate,
    remember,
    settle,
    trend_issues,
    with_error_numbers,
)
from streams.domain.history import is_five_digit
from streams.domain.intake import date_issues, value_issues, vin_issues
from streams.domain.policy import Policy
from streams.domain.state import StoredReading, VehicleState, reading_key


def find_target(state: VehicleState, number: str) -> tuple[StoredReading, bool] | None:
    """The reading that ``number`` was issued about, and whether it sits in the history (else aside)."""
    for reading in state.readings:
        if number in reading.error_numbers:
            return reading, True
    for reading in state.rejected:
        if number in reading.error_numbers:
            return reading, False
    return None


def decide_correction(
    state: VehicleState, c: CorrectionRequest, policy: Policy, processed_at: int
) -> Decision:
    if c.event_id in state.done_ids:
        return Decision(state)
    most = policy.bounds.done_ids
    done = remember(state.done_ids, c.event_id, most)

    def refuse(issues: list[Issue]) -> Decision:
        return Decision(
            replace(state, done_ids=done),
            (receipt(c.event_id, state.vin, c.requested_by, tuple(issues), processed_at),),
        )

    found = find_target(state, c.error_number)
    if found is None:
        return refuse(
            [
                make_issue(
                    c.event_id,
                    IssueCode.CORRECTION_UNKNOWN_ERROR_NUMBER,
                    number=c.error_number,
                    vin=state.vin,
                )
            ]
        )
    target, in_history = found
    electronic = c.channel is CorrectionChannel.ELECTRONIC
    if electronic and c.error_number in state.electronic_closed:
        return refuse([make_issue(c.event_id, IssueCode.CORRECTION_ALREADY_USED, number=c.error_number)])
    if electronic and c.requested_by != target.provider_id:  # answered as "not found": no provider named
        unknown = IssueCode.CORRECTION_UNKNOWN_ERROR_NUMBER
        return refuse([make_issue(c.event_id, unknown, number=c.error_number, vin=state.vin)])
    if not c.withdraw and c.corrected_value is None and c.corrected_observed_at is None:
        return refuse([make_issue(c.event_id, IssueCode.CORRECTION_EMPTY)])

    closed = insert_sorted(state.electronic_closed, c.error_number) if electronic else state.electronic_closed
    old = state.readings
    position = old.index(target) if in_history else -1
    touched: set[str] = set()
    if in_history:
        touched.update(r.event_id for r in old[max(position - 1, 0) : position + 2] if r is not target)
    remaining = old[:position] + old[position + 1 :] if in_history else old
    rejected = state.rejected if in_history else tuple(r for r in state.rejected if r is not target)

    if c.withdraw:
        done = remember(done, target.event_id, most)
        issues: list[Issue] = []
        readings = remaining
    else:
        corrected = replace(
            target,
            value=target.value if c.corrected_value is None else c.corrected_value,
            observed_at=target.observed_at if c.corrected_observed_at is None else c.corrected_observed_at,
        )
        rp = policy.receipts
        five = is_five_digit(corrected, state.five_digit_registered)
        issues = vin_issues(c.event_id, state.vin)
        issues += value_issues(c.event_id, corrected.value, corrected.unit, five, rp)
        issues += date_issues(c.event_id, corrected.observed_at, target.submitted_at, state.registration, rp)
        if any(issue.severity is Severity.ERROR for issue in issues):
            return refuse(issues)
        if c.corrected_observed_at is not None:
            done = remember(done, target.event_id, most)  # no longer at its delivered place
        index = _insertion_index(remaining, corrected)
        readings = (*remaining[:index], corrected, *remaining[index:])
        touched.add(corrected.event_id)
        touched.update(r.event_id for r in remaining[max(index - 1, 0) : index + 1])

    after = reevaluate(state.anomalies, readings, state.five_digit_registered, touched, policy)
    if not c.withdraw:
        issues += trend_issues(c.event_id, corrected, after)
        if issues:
            corrected = with_error_numbers(corrected, issues, policy.bounds.error_numbers)
            readings = tuple(corrected if r.event_id == corrected.event_id else r for r in readings)
            for issue in issues:
                closed = insert_sorted(closed, issue.error_number)
    if len(closed) > len(state.electronic_closed):  # a closed number nothing names any more is forgotten
        named = {n for r in (*readings, *rejected) for n in r.error_numbers}
        closed = tuple(n for n in closed if n in named)
    new_state = replace(
        state, readings=readings, rejected=rejected, done_ids=done, electronic_closed=closed, anomalies=after
    )
    events = settle(new_state, state.anomalies, (*old, *readings), AnomalyStatus.RESOLVED, processed_at)
    return Decision(
        new_state, (receipt(c.event_id, state.vin, c.requested_by, tuple(issues), processed_at),), events
    )


def _insertion_index(readings: tuple[StoredReading, ...], reading: StoredReading) -> int:
    return bisect_left(readings, reading_key(reading), key=reading_key)
