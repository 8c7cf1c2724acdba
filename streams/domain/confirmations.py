"""Confirmations: the provider of a reading states that it is right (``ReadingConfirmation``).

::

    ReadingConfirmation ──► the reading ``confirmed_event_id`` (in the history or kept aside)
        ├─ not found, or another provider's reading ──► nothing changes (the gateway refuses both first)
        ├─ already confirmed ───────────────────────► the earliest confirmation time is kept
        └─ otherwise ───────────────────────────────► ``VehicleState.confirmations`` gains it

A confirmation is a statement shown in the history (the certificate view marks the reading); it never
changes the judgment, the anomalies or a receipt: Car-Pass staff decide. It is idempotent and independent
of arrival order by construction (a set of readings, each with its earliest confirmation time), so it needs
no remembered event id.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import replace

from schemas.records import ReadingConfirmation
from streams.domain.evaluation import Decision
from streams.domain.state import ConfirmedReading, VehicleState


def decide_confirmation(state: VehicleState, c: ReadingConfirmation) -> Decision:
    """The state with ``c`` folded in; no receipt, no anomaly."""
    target = c.confirmed_event_id
    owner = next((r.provider_id for r in (*state.readings, *state.rejected) if r.event_id == target), None)
    if owner is None or owner != c.provider_id:
        return Decision(state)
    confirmations = state.confirmations
    ids = [k.event_id for k in confirmations]
    index = bisect_left(ids, target)
    if index < len(ids) and ids[index] == target:
        if confirmations[index].confirmed_at <= c.submitted_at:
            return Decision(state)
        rest = confirmations[index + 1 :]
    else:
        rest = confirmations[index:]
    updated = (*confirmations[:index], ConfirmedReading(target, c.submitted_at), *rest)
    return Decision(replace(state, confirmations=updated))


def confirmed_at(state: VehicleState, event_id: str) -> int | None:
    """When the reading ``event_id`` was confirmed by its provider, or ``None``."""
    for confirmation in state.confirmations:
        if confirmation.event_id == event_id:
            return confirmation.confirmed_at
    return None
