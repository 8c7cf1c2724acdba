"""The vehicle aggregate: receipts, idempotency, duplicates, the fast path, registrations, recalls."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from schemas.records import (
    AccidentInspectionState,
    AccidentInspectionStatus,
    AnomalyKind,
    AnomalyStatus,
    ProviderKind,
    RecallState,
    RecallStatus,
    ReceiptStatus,
)
from streams.domain import evaluation
from streams.domain.errors import DomainError, WrongVehicleError
from streams.domain.ids import error_number
from streams.domain.points import Break, Point, TrendPolicy
from streams.domain.policy import DEFAULT_POLICY
from streams.domain.state import VehicleState
from streams.domain.vehicle import Decision, VehicleEvent, decide, fold
from tests.unit.streams.domain.builders import GARAGE, OTHER_GARAGE, VIN, at, reading, registration, yearly

EMPTY = VehicleState(VIN)


def run(events: Sequence[VehicleEvent], state: VehicleState = EMPTY) -> tuple[VehicleState, list[Decision]]:
    decisions = []
    for event in events:
        decision = decide(state, event, DEFAULT_POLICY, 7)
        decisions.append(decision)
        state = decision.state
    return state, decisions


def registered(upto: int = 5) -> VehicleState:
    state, _ = run([registration(), *yearly(upto)])
    return state


def test_a_reading_gets_one_accepted_receipt_and_joins_the_history() -> None:
    state, (_, decision) = run([registration(), reading("r1", 15_210, "2019-03-04")])
    (receipt,) = decision.receipts
    assert (
        receipt.event_id,
        receipt.vin,
        receipt.provider_id,
        receipt.status,
        receipt.issues,
        receipt.processed_at,
    ) == ("r1", VIN, GARAGE, ReceiptStatus.ACCEPTED, (), 7)
    assert [r.event_id for r in state.readings] == ["r1"] and decision.anomalies == ()


@pytest.mark.parametrize("which", [0, 2, 4])
def test_a_redelivered_reading_changes_nothing(which: int) -> None:
    state = registered()
    again = decide(state, yearly()[which], DEFAULT_POLICY, 99)
    assert again.state is state and again.receipts == () and again.anomalies == ()


def test_readings_are_kept_in_observed_order_whatever_the_arrival() -> None:
    events = yearly()
    state, _ = run([events[3], events[0], events[4], events[2], events[1]])
    assert [r.event_id for r in state.readings] == ["r1", "r2", "r3", "r4", "r5"]
    assert state == registered().__class__(VIN, readings=state.readings)
    assert state.anomalies == ()


def test_same_instant_readings_are_ordered_by_event_id() -> None:
    state, _ = run(
        [reading("b", 100, "2020-01-01", provider_id=OTHER_GARAGE), reading("a", 100, "2020-01-01")]
    )
    assert [r.event_id for r in state.readings] == ["a", "b"]


def test_a_rejected_reading_is_kept_aside_with_its_error_numbers() -> None:
    state, (decision,) = run([reading("r1", -5, "2019-03-04")], registered(0))
    assert decision.receipts[0].status is ReceiptStatus.REJECTED
    assert state.readings == () and [r.event_id for r in state.rejected] == ["r1"]
    assert state.rejected[0].error_numbers == (error_number("r1", "VALUE_OUT_OF_RANGE"),)
    assert decide(state, reading("r1", -5, "2019-03-04"), DEFAULT_POLICY, 8).state is state


def test_a_duplicate_is_warned_and_not_added() -> None:
    state = registered(3)
    dup = reading("r3b", 45_210, "2021-03-08T15:00")
    after, (decision,) = run([dup], state)
    (issue,) = decision.receipts[0].issues
    assert issue.code == "DUPLICATE" and "r3" in issue.message
    assert after.readings == state.readings and after.done_ids == ("r3b",)
    assert decide(after, dup, DEFAULT_POLICY, 8).state is after


def test_same_value_same_day_other_provider_is_no_duplicate() -> None:
    after, (decision,) = run(
        [reading("t3", 45_210, "2021-03-08T15:00", provider_id=OTHER_GARAGE)], registered(3)
    )
    assert decision.receipts[0].issues == () and len(after.readings) == 4


def test_same_value_other_brussels_day_is_no_duplicate() -> None:
    state, _ = run(
        [reading("a", 100, "2020-01-01T22:00"), reading("b", 100, "2020-01-01T23:30")], registered(0)
    )
    assert len(state.readings) == 2  # 23:00 and 00:30 in Brussels


def test_wrong_vehicle_is_a_programming_error() -> None:
    with pytest.raises(WrongVehicleError) as raised:
        decide(VehicleState("VF1RFB00X56789012"), reading("r1", 1, "2020-01-01"))
    assert isinstance(raised.value, DomainError)


# --- the fast path (issue 3 item 6) ---------------------------------------------------------------------


@pytest.fixture
def breaks_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    calls: list[tuple[str, ...]] = []
    real = evaluation.find_breaks

    def spy(points: Sequence[Point], policy: TrendPolicy) -> tuple[Break, ...]:
        calls.append(tuple(p.event_id for p in points))
        return real(points, policy)

    monkeypatch.setattr(evaluation, "find_breaks", spy)
    return calls


def test_consistent_appends_never_run_the_trend_engine(breaks_calls: list[tuple[str, ...]]) -> None:
    registered(5)
    assert breaks_calls == []


def test_an_inconsistent_append_runs_it_on_its_segment(breaks_calls: list[tuple[str, ...]]) -> None:
    state, (decision,) = run([reading("r6", 750_200, "2024-03-04")], registered(5))
    assert breaks_calls == [("r1", "r2", "r3", "r4", "r5", "r6")]
    (issue,) = decision.receipts[0].issues
    assert (issue.code, issue.suggested_value) == ("TREND_BREAK", 75_020)
    assert state.readings[-1].error_numbers == (issue.error_number,)
    assert [(a.kind, a.status) for a in decision.anomalies] == [(AnomalyKind.SPIKE, AnomalyStatus.OPEN)]


def test_after_a_break_later_readings_are_judged_in_full(breaks_calls: list[tuple[str, ...]]) -> None:
    run([reading("r6", 750_200, "2024-03-04"), reading("r7", 104_800, "2025-03-03")], registered(5))
    assert len(breaks_calls) == 2


def test_a_back_dated_reading_re_judges_only_its_segment(breaks_calls: list[tuple[str, ...]]) -> None:
    events = [
        registration(),
        *yearly(3),
        reading("n1", 50, "2021-09-06", odometer_replaced=True),
        reading("n2", 7_400, "2022-03-07"),
        reading("n3", 22_000, "2023-03-06"),
    ]
    state, _ = run(events)
    breaks_calls.clear()
    state, (decision,) = run([reading("m", 37_900, "2020-09-14", submitted_at=at("2020-09-14T10:00"))], state)
    assert breaks_calls == [("r1", "r2", "m", "r3")]
    assert [a.kind for a in state.anomalies] == [AnomalyKind.ODOMETER_REPLACED] and decision.anomalies == ()


def test_the_first_reading_after_a_step_down_is_told_without_blame() -> None:
    history = [(30_120, "2014-05-05"), (61_050, "2016-05-09"), (90_480, "2018-05-07"),
               (121_300, "2020-05-04"), (150_870, "2022-05-09")]  # fmt: skip
    state, _ = run(
        [registration("2013-03-01"), *(reading(f"r{i}", km, day) for i, (km, day) in enumerate(history, 1))]
    )
    state, (first, second) = run(
        [reading("r6", 48_600, "2023-05-08"), reading("r7", 62_900, "2024-05-06")], state
    )
    assert [i.code for i in first.receipts[0].issues] == ["LOWER_THAN_HISTORY"]
    assert first.receipts[0].issues[0].suggested_value is None
    assert [(a.kind, a.blamed_event_id, a.restart) for a in state.anomalies] == [
        (AnomalyKind.ROLLBACK, "r6", False)
    ]
    assert [(e.kind, e.blamed_provider_id) for e in first.anomalies] == [(AnomalyKind.ROLLBACK, None)]
    assert second.receipts[0].issues == ()


def test_a_counter_restarted_near_zero_is_an_unreported_replacement_not_a_rollback() -> None:
    """#17 item 1: a drop to near zero that grows on at the car's pace is what a new instrument cluster
    fitted without the R6 tick box shows: still an anomaly (the certificate, the OK label), blaming nobody,
    marked ``counter_restarted``; the garage is asked to report the replacement."""
    state = registered(5)
    state, (first, second) = run(
        [reading("r6", 315, "2024-03-04"), reading("r7", 14_800, "2025-03-03")], state
    )
    assert [i.code for i in first.receipts[0].issues] == ["REPLACEMENT_NOT_REPORTED"]
    assert "report the replacement" in first.receipts[0].issues[0].message
    assert [(a.kind, a.blamed_event_id, a.restart) for a in state.anomalies] == [
        (AnomalyKind.ROLLBACK, "r6", True)
    ]
    (event,) = first.anomalies
    ROLLBACK = AnomalyKind.ROLLBACK
    assert (event.kind, event.blamed_provider_id, event.counter_restarted) == (ROLLBACK, None, True)
    assert second.receipts[0].issues == ()


# --- registrations, recalls, accident inspections --------------------------------------------------------


def test_the_latest_registration_wins_and_none_gets_a_receipt() -> None:
    newer = registration(event_id="reg2", effective_at=at("2022-01-01"), plate="2-XYZ-987")
    older = registration(event_id="reg0", effective_at=at("2017-01-01"), plate="0-OLD-000")
    state, decisions = run([registration(), newer, older, newer])
    assert state.registration is not None and state.registration.plate == "2-XYZ-987"
    assert all(d.receipts == () and d.anomalies == () for d in decisions)
    assert decisions[2].state is decisions[1].state


def test_learning_a_five_digit_counter_re_judges_the_history() -> None:
    events = [
        reading("r1", 82_400, "2019-03-04"),
        reading("r2", 94_900, "2020-03-09"),
        reading("r3", 7_300, "2021-03-08"),
        reading("r4", 19_800, "2022-03-07"),
    ]
    state, _ = run(events)
    assert [a.kind for a in state.anomalies] == [AnomalyKind.ROLLBACK]
    state, (decision,) = run(
        [registration("2006-03-01", counter_digits=5, effective_at=at("2022-04-01"))], state
    )
    assert [(a.kind, a.status) for a in decision.anomalies] == [
        (AnomalyKind.ROLLBACK, AnomalyStatus.RETRACTED),
        (AnomalyKind.COUNTER_WRAPPED, AnomalyStatus.OPEN),
    ]
    assert decision.receipts == ()


def recall(event_id: str, status: RecallState, day: str, campaign: str = "24A7") -> RecallStatus:
    return RecallStatus(event_id, VIN, campaign, "Volkswagen", "airbag", status, at(day))


def test_recalls_keep_the_latest_status_per_campaign() -> None:
    events = [
        recall("a", RecallState.COMPLETED, "2022-01-01"),
        recall("b", RecallState.OPEN, "2021-06-01"),
        recall("c", RecallState.OPEN, "2023-01-01", campaign="19Z1"),
    ]
    state, decisions = run(events)
    assert [(r.campaign_id, r.status) for r in state.recalls] == [
        ("19Z1", RecallState.OPEN),
        ("24A7", RecallState.COMPLETED),
    ]
    assert all(d.receipts == () and d.anomalies == () for d in decisions)


def test_a_tie_shows_the_recall() -> None:
    one, _ = run(
        [recall("a", RecallState.COMPLETED, "2022-01-01"), recall("b", RecallState.OPEN, "2022-01-01")]
    )
    other, _ = run(
        [recall("b", RecallState.OPEN, "2022-01-01"), recall("a", RecallState.COMPLETED, "2022-01-01")]
    )
    assert one == other and one.recalls[0].status is RecallState.OPEN


def accident(event_id: str, status: AccidentInspectionState, day: str) -> AccidentInspectionStatus:
    return AccidentInspectionStatus(event_id, VIN, status, "expert-1", at(day))


def test_the_latest_accident_status_wins_in_any_order() -> None:
    events = [
        accident("a", AccidentInspectionState.REQUIRED, "2022-01-01"),
        accident("b", AccidentInspectionState.PASSED, "2022-02-01"),
    ]
    forward, _ = run(events)
    backward, _ = run(events[::-1])
    assert forward == backward and forward.accident is not None
    assert forward.accident.status is AccidentInspectionState.PASSED


def test_fold() -> None:
    events = [registration(), *yearly(), reading("r6", 750_200, "2024-03-04")]
    assert fold(events) == run(events)[0]
    assert fold([]) is None
    assert fold([], state=EMPTY) == EMPTY


def test_inspection_bodies_are_weighted_above_workshops() -> None:
    # A workshop's 60,000 followed by two garage readings at 20,000 is the outlier; an inspection's is not.
    def first_then_two(kind: ProviderKind) -> list[tuple[AnomalyKind, str | None]]:
        first = reading("r1", 60_000, "2019-01-07", provider_kind=kind)
        state, _ = run([first, reading("r2", 20_000, "2019-03-04"), reading("r3", 21_500, "2019-05-06")])
        return [(a.kind, a.blamed_event_id) for a in state.anomalies]

    assert first_then_two(ProviderKind.GARAGE) == [(AnomalyKind.SPIKE, "r1")]
    assert first_then_two(ProviderKind.INSPECTION_BODY) == [(AnomalyKind.ROLLBACK, "r2")]


def test_registrations_at_the_same_instant_are_ordered_by_content() -> None:
    a = registration(event_id="a", plate="1-AAA-111")
    b = registration(event_id="b", plate="2-BBB-222")
    forward, _ = run([a, b])
    backward, _ = run([b, a])
    assert forward == backward and forward.registration is not None
    assert forward.registration.plate == "2-BBB-222"
