"""Diffing open anomalies into AnomalyEvents: OPEN, superseding OPEN, RESOLVED/RETRACTED, stable ids."""

from __future__ import annotations

from schemas.records import AnomalyKind, AnomalyStatus, Judgment, Origin, ProviderKind, SuspectedCause, Unit
from streams.domain.anomalies import canonical, diff, from_break, markers
from streams.domain.history import Segment
from streams.domain.ids import anomaly_id
from streams.domain.points import Break
from streams.domain.state import OpenAnomaly, StoredReading

VIN = "WVWZZZ1KZAW123456"
K = AnomalyKind


def stored(event_id: str, day: int, provider: str = "0412345678", replaced: bool = False) -> StoredReading:
    ms = day * 86_400_000
    return StoredReading(
        event_id, ms, 1000, Unit.KM, provider, ProviderKind.GARAGE, Origin.WORKSHOP, ms, replaced
    )


READINGS = {r.event_id: r for r in (stored("r1", 1), stored("r2", 2, "0498765432"), stored("r3", 3))}
SPIKE = OpenAnomaly(K.SPIKE, "r2", ("r1", "r3"), SuspectedCause.EXTRA_DIGIT, 1_000)


def run(
    before: tuple[OpenAnomaly, ...],
    after: tuple[OpenAnomaly, ...],
    closing: AnomalyStatus = AnomalyStatus.RETRACTED,
):  # type: ignore[no-untyped-def]
    return diff(
        VIN, before, after, closing=closing, readings=READINGS, judgment=Judgment.ILLOGICAL, detected_at=42
    )


def test_a_new_break_is_opened_with_blame_and_a_stable_id() -> None:
    (event,) = run((), (SPIKE,))
    assert event.status is AnomalyStatus.OPEN and event.kind is K.SPIKE
    assert event.anomaly_id == anomaly_id(VIN, "SPIKE", "r2") == run((), (SPIKE,))[0].anomaly_id
    assert event.blamed_provider_id == "0498765432" and event.observed_at == 2 * 86_400_000
    assert (event.suspected_cause, event.suggested_value, event.related_event_ids) == (
        SuspectedCause.EXTRA_DIGIT,
        1_000,
        ("r1", "r3"),
    )
    assert event.detected_at == 42 and event.judgment is Judgment.ILLOGICAL


def test_nothing_changed_nothing_emitted() -> None:
    assert run((SPIKE,), (SPIKE,)) == ()


def test_changed_details_supersede_with_the_same_id() -> None:
    moved = OpenAnomaly(K.SPIKE, "r2", ("r1",), SuspectedCause.EXTRA_DIGIT, 1_000)
    (event,) = run((SPIKE,), (moved,))
    assert event.status is AnomalyStatus.OPEN and event.anomaly_id == anomaly_id(VIN, "SPIKE", "r2")
    assert event.related_event_ids == ("r1",)


def test_a_vanished_break_is_closed_with_the_given_status_before_new_ones_open() -> None:
    dip = OpenAnomaly(K.DIP, "r3")
    closed, opened = run((SPIKE,), (dip,))
    assert (closed.kind, closed.status, closed.related_event_ids) == (
        K.SPIKE,
        AnomalyStatus.RETRACTED,
        ("r1", "r3"),
    )
    assert (opened.kind, opened.status) == (K.DIP, AnomalyStatus.OPEN)
    (resolved,) = run((SPIKE,), (), AnomalyStatus.RESOLVED)
    assert resolved.status is AnomalyStatus.RESOLVED


def test_rollbacks_and_markers_blame_no_provider() -> None:
    for kind in (K.ROLLBACK, K.ODOMETER_REPLACED, K.COUNTER_WRAPPED):
        (event,) = run((), (OpenAnomaly(kind, "r2"),))
        assert event.blamed_provider_id is None and event.observed_at is not None
    for kind in (K.SPIKE, K.DIP, K.IMPLAUSIBLE_RATE, K.CONFLICTING_DUPLICATE):
        assert run((), (OpenAnomaly(kind, "r2"),))[0].blamed_provider_id == "0498765432"


def test_openings_come_in_history_order() -> None:
    events = run((), canonical([OpenAnomaly(K.SPIKE, "r3"), OpenAnomaly(K.DIP, "r1")]))
    assert [e.blamed_event_id for e in events] == ["r1", "r3"]


def test_from_break_and_canonical_form() -> None:
    found = from_break(Break(K.DIP, "r2", ("r1", "r3"), SuspectedCause.MISSING_DIGIT, 45_210))
    assert found == OpenAnomaly(K.DIP, "r2", ("r1", "r3"), SuspectedCause.MISSING_DIGIT, 45_210)
    assert canonical([SPIKE, found, SPIKE]) == (found, SPIKE)


def test_markers_for_replacements_and_wraps() -> None:
    readings = [stored("r1", 1), stored("r2", 2, replaced=True)]
    segments = [Segment(0, (), ("w1",)), Segment(1, (), ())]
    assert markers(readings, segments) == [
        OpenAnomaly(K.ODOMETER_REPLACED, "r2"),
        OpenAnomaly(K.COUNTER_WRAPPED, "w1"),
    ]
