"""Corrections (R5): by error number, once electronically by the provider, always by staff on a form."""

from __future__ import annotations

from collections.abc import Sequence

from schemas.records import AnomalyKind, AnomalyStatus, CorrectionChannel, ReceiptStatus
from streams.domain.ids import error_number
from streams.domain.policy import DEFAULT_POLICY
from streams.domain.state import VehicleState
from streams.domain.vehicle import Decision, VehicleEvent, decide
from tests.unit.streams.domain.builders import (
    GARAGE,
    OTHER_GARAGE,
    at,
    correction,
    reading,
    registration,
    yearly,
)

FORM = CorrectionChannel.FORM


def run(events: Sequence[VehicleEvent], state: VehicleState) -> tuple[VehicleState, list[Decision]]:
    decisions = []
    for event in events:
        decisions.append(decide(state, event, DEFAULT_POLICY, 9))
        state = decisions[-1].state
    return state, decisions


def spiked() -> VehicleState:
    """r3 typed 452,100 for 45,210: a SPIKE with a TREND_BREAK error on r3's receipt."""
    events = [registration(), *yearly(2), reading("r3", 452_100, "2021-03-08"), *yearly(5)[3:]]
    state, _ = run(events, VehicleState(registration().vin))
    assert [(a.kind, a.blamed_event_id) for a in state.anomalies] == [(AnomalyKind.SPIKE, "r3")]
    return state


def outcome(decision: Decision) -> tuple[ReceiptStatus, list[str]]:
    (receipt,) = decision.receipts
    return receipt.status, [i.code for i in receipt.issues]


def test_an_electronic_correction_fixes_the_value_and_resolves_the_spike() -> None:
    state, (decision,) = run([correction("c1", "r3", "TREND_BREAK", corrected_value=45_210)], spiked())
    assert outcome(decision) == (ReceiptStatus.ACCEPTED, [])
    assert decision.receipts[0].provider_id == "0412345678"
    assert [(a.kind, a.status) for a in decision.anomalies] == [(AnomalyKind.SPIKE, AnomalyStatus.RESOLVED)]
    r3 = next(r for r in state.readings if r.event_id == "r3")
    assert r3.value == 45_210 and state.anomalies == ()
    assert state.electronic_closed == (error_number("r3", "TREND_BREAK"),)
    assert "c1" in state.done_ids


def test_the_electronic_correction_is_used_once() -> None:
    first = correction("c1", "r3", "TREND_BREAK", corrected_value=45_210)
    again = correction("c2", "r3", "TREND_BREAK", corrected_value=45_211)
    state, (_, decision) = run([first, again], spiked())
    assert outcome(decision) == (ReceiptStatus.REJECTED, ["CORRECTION_ALREADY_USED"])
    assert state.readings == run([first], spiked())[0].readings


def test_a_redelivered_correction_changes_nothing() -> None:
    state, _ = run([correction("c1", "r3", "TREND_BREAK", corrected_value=45_210)], spiked())
    again = decide(state, correction("c1", "r3", "TREND_BREAK", corrected_value=45_210), DEFAULT_POLICY, 10)
    assert again.state is state and again.receipts == ()


def test_only_the_provider_that_sent_it_corrects_electronically_but_staff_always_can() -> None:
    wrong = correction("c1", "r3", "TREND_BREAK", corrected_value=45_210, requested_by=OTHER_GARAGE)
    staff = correction("c2", "r3", "TREND_BREAK", FORM, corrected_value=45_210, requested_by="staff-017")
    state, (refused, applied) = run([wrong, staff], spiked())
    assert outcome(refused) == (ReceiptStatus.REJECTED, ["CORRECTION_UNKNOWN_ERROR_NUMBER"])  # names nobody
    message = refused.receipts[0].issues[0].message
    assert OTHER_GARAGE not in message and GARAGE not in message
    assert outcome(applied) == (ReceiptStatus.ACCEPTED, []) and state.anomalies == ()
    assert state.electronic_closed == ()  # a form does not use the electronic correction


def test_unknown_number_and_empty_correction_are_refused_and_use_nothing() -> None:
    unknown = correction("c1", "r3", "DUPLICATE", corrected_value=45_210)
    empty = correction("c2", "r3", "TREND_BREAK")
    state, decisions = run([unknown, empty], spiked())
    assert [outcome(d) for d in decisions] == [
        (ReceiptStatus.REJECTED, ["CORRECTION_UNKNOWN_ERROR_NUMBER"]),
        (ReceiptStatus.REJECTED, ["CORRECTION_EMPTY"]),
    ]
    assert state.electronic_closed == () and len(state.anomalies) == 1
    assert state.done_ids == ("c1", "c2")


def test_an_impossible_corrected_value_rejects_the_correction_only() -> None:
    bad = correction("c1", "r3", "TREND_BREAK", corrected_value=-1)
    good = correction("c2", "r3", "TREND_BREAK", corrected_value=45_210)
    state, (refused, applied) = run([bad, good], spiked())
    assert outcome(refused) == (ReceiptStatus.REJECTED, ["VALUE_OUT_OF_RANGE"])
    assert outcome(applied) == (ReceiptStatus.ACCEPTED, []) and state.anomalies == ()


def test_a_future_corrected_date_is_refused() -> None:
    late = correction("c1", "r3", "TREND_BREAK", corrected_observed_at=at("2021-03-10"))
    _, (decision,) = run([late], spiked())
    assert outcome(decision) == (ReceiptStatus.REJECTED, ["FUTURE_DATE"])


def test_withdrawal_removes_the_reading_and_resolves() -> None:
    state, (decision,) = run([correction("c1", "r3", "TREND_BREAK", withdraw=True)], spiked())
    assert [r.event_id for r in state.readings] == ["r1", "r2", "r4", "r5"]
    assert [(a.kind, a.status) for a in decision.anomalies] == [(AnomalyKind.SPIKE, AnomalyStatus.RESOLVED)]
    assert "r3" in state.done_ids
    redelivered = decide(state, reading("r3", 452_100, "2021-03-08"), DEFAULT_POLICY, 11)
    assert redelivered.state is state and redelivered.receipts == ()


def test_a_corrected_date_moves_the_reading_and_keeps_its_event_id() -> None:
    state, _ = run(
        [
            registration(),
            *yearly(3),
            reading("r4", 60_730, "2012-03-07", submitted_at=at("2022-03-07")),
            reading("r5", 75_020, "2023-03-06"),
        ],
        VehicleState(registration().vin),
    )
    assert state.anomalies != ()
    fix = correction("c1", "r4", "BEFORE_FIRST_REGISTRATION", corrected_observed_at=at("2022-03-07"))
    state, (decision,) = run([fix], state)
    assert [r.event_id for r in state.readings] == ["r1", "r2", "r3", "r4", "r5"]
    assert state.anomalies == () and {"c1", "r4"} <= set(state.done_ids)
    assert all(e.status is AnomalyStatus.RESOLVED for e in decision.anomalies)
    redelivered = decide(
        state, reading("r4", 60_730, "2012-03-07", submitted_at=at("2022-03-07")), DEFAULT_POLICY, 12
    )
    assert redelivered.state is state


def test_a_rejected_reading_is_admitted_by_its_correction() -> None:
    state, _ = run(
        [registration(), *yearly(3), reading("r4", 6_073_000, "2022-03-07")], VehicleState(registration().vin)
    )
    assert [r.event_id for r in state.rejected] == ["r4"]
    state, (decision,) = run([correction("c1", "r4", "VALUE_OUT_OF_RANGE", corrected_value=60_730)], state)
    assert outcome(decision) == (ReceiptStatus.ACCEPTED, [])
    assert state.rejected == () and [r.value for r in state.readings][-1] == 60_730


def test_a_rejected_reading_can_be_withdrawn() -> None:
    state, _ = run([reading("r4", -4, "2022-03-07")], VehicleState(registration().vin))
    state, (decision,) = run([correction("c1", "r4", "VALUE_OUT_OF_RANGE", withdraw=True)], state)
    assert outcome(decision) == (ReceiptStatus.ACCEPTED, []) and state.rejected == ()
    assert state.done_ids == ("c1", "r4")


def test_a_wrong_correction_is_warned_and_only_a_form_may_fix_it() -> None:
    wrong = correction("c1", "r3", "TREND_BREAK", corrected_value=4_521)
    state, (decision,) = run([wrong], spiked())
    status, codes = outcome(decision)
    assert (status, codes) == (ReceiptStatus.ACCEPTED_WITH_WARNINGS, ["TREND_BREAK"])
    second_error = decision.receipts[0].issues[0].error_number
    assert second_error == error_number("c1", "TREND_BREAK") and second_error in state.electronic_closed
    retry = correction("c2", "c1", "TREND_BREAK", corrected_value=45_210)
    form = correction("c3", "c1", "TREND_BREAK", FORM, corrected_value=45_210, requested_by="staff-017")
    state, (refused, applied) = run([retry, form], state)
    assert outcome(refused) == (ReceiptStatus.REJECTED, ["CORRECTION_ALREADY_USED"])
    assert outcome(applied) == (ReceiptStatus.ACCEPTED, []) and state.anomalies == ()
