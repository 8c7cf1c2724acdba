"""``score``, ``naive_flags`` and plate resolution on hand-made logs whose right answers are known."""

from __future__ import annotations

from datetime import date

from schemas.records import (
    AnomalyEvent,
    AnomalyKind,
    AnomalyStatus,
    Issue,
    Judgment,
    OdometerReading,
    Origin,
    PlateOdometerReading,
    ProviderKind,
    Receipt,
    ReceiptStatus,
    RegistrationKind,
    Severity,
    SuspectedCause,
    Unit,
    VehicleRegistration,
)
from streams.simulator.naive import naive_flags
from streams.simulator.plates import PlateBook, resolve_plates
from streams.simulator.report import format_report
from streams.simulator.score import ROLLBACK_EXACT, ROLLBACK_IN_VIN, score
from streams.simulator.truth import Cause, Fault, FaultKind, GroundTruth

A, B, C, D, E, F = (f"WVWZZZ1KZAW12345{n}" for n in range(6))
DAY = 86_400_000


def fault(kind: FaultKind, vin: str, event: str, cause: Cause, visible: bool = True, **more: object) -> Fault:
    return Fault(kind, vin, event, cause, visible, **more)  # type: ignore[arg-type]


TRUTH = GroundTruth(
    seed=1,
    vehicles=6,
    start=date(2016, 1, 1),
    end=date(2026, 1, 1),
    fault_rate_multiplier=1.0,
    malformed=True,
    faults=(
        fault(FaultKind.LATE, A, "a1", Cause.BACK_DATED),
        fault(FaultKind.ROLLBACK, A, "a3", Cause.DOMESTIC_SALE, true_value=200_000, typed_value=100_000),
        fault(FaultKind.SPIKE, B, "b2", Cause.EXTRA_DIGIT, true_value=45_210, typed_value=452_100),
        fault(FaultKind.DUPLICATE, B, "b4", Cause.RESUBMITTED, related_event_ids=("b3",)),
        fault(
            FaultKind.DIP, B, "b5", Cause.MISTYPED_DIGIT, visible=False, true_value=60_000, typed_value=59_990
        ),
        fault(
            FaultKind.CONFLICTING_DUPLICATE,
            C,
            "c2",
            Cause.MISSING_DIGIT,
            true_value=81_141,
            typed_value=8_114,
            related_event_ids=("c1",),
        ),
        fault(FaultKind.ODOMETER_REPLACED, D, "d2", Cause.NEW_COUNTER),
        fault(
            FaultKind.MALFORMED, A, "a9", Cause.TRUNCATED, topic="odometer.readings", payload=b"\xc3\x01\x02"
        ),
    ),
)


def anomaly(
    vin: str,
    kind: AnomalyKind,
    blamed: str,
    status: AnomalyStatus = AnomalyStatus.OPEN,
    related: tuple[str, ...] = (),
    suggested: int | None = None,
) -> AnomalyEvent:
    return AnomalyEvent(
        f"{vin}|{kind}|{blamed}",
        vin,
        kind,
        status,
        related,
        Judgment.ILLOGICAL,
        0,
        blamed,
        None,
        SuspectedCause.EXTRA_DIGIT if suggested else None,
        suggested,
    )


ANOMALIES = [
    anomaly(A, AnomalyKind.ROLLBACK, "a3", related=("a2",)),
    anomaly(B, AnomalyKind.ROLLBACK, "b3", related=("b2",)),
    anomaly(B, AnomalyKind.SPIKE, "b2", related=("b1", "b3"), suggested=45_210),
    anomaly(B, AnomalyKind.ROLLBACK, "b3", AnomalyStatus.RETRACTED),  # later evidence moved the blame
    anomaly(C, AnomalyKind.CONFLICTING_DUPLICATE, "c1", related=("c2",), suggested=811),
    anomaly(D, AnomalyKind.ODOMETER_REPLACED, "d2"),
    anomaly(E, AnomalyKind.DIP, "e1"),
]
RECEIPTS = [
    Receipt(
        "b4",
        B,
        "p",
        ReceiptStatus.ACCEPTED_WITH_WARNINGS,
        (Issue("E1", "DUPLICATE", Severity.WARNING, "dup"),),
        0,
    ),
    Receipt(
        "a1",
        A,
        "p",
        ReceiptStatus.ACCEPTED_WITH_WARNINGS,
        (Issue("E2", "LATE_SUBMISSION", Severity.WARNING, "late"),),
        0,
    ),
]


def test_recall_per_kind_counts_visible_faults_and_the_latest_status() -> None:
    report = score(
        ANOMALIES, TRUTH, receipts=RECEIPTS, dead_letters=[b"\xc3\x01\x02"], vins=[A, B, C, D, E, F]
    )
    found = {r.kind: (r.found, r.visible, r.faults) for r in report.recall}
    assert found[ROLLBACK_EXACT] == (1, 1, 1) and found[ROLLBACK_IN_VIN] == (1, 1, 1)
    assert found["SPIKE"] == (1, 1, 1)
    assert found["DIP"] == (0, 0, 1) and report.recall_of("DIP").recall is None
    assert found["CONFLICTING_DUPLICATE"] == (1, 1, 1)  # either reading of the pair
    assert found["ODOMETER_REPLACED"] == (1, 1, 1)
    assert found["DUPLICATE"] == (1, 1, 1) and found["LATE"] == (1, 1, 1) and found["MALFORMED"] == (1, 1, 1)


def test_precision_blame_suggestion_and_clean_vehicles() -> None:
    report = score(ANOMALIES, TRUTH, vins=[A, B, C, D, E, F])
    precision = {p.kind: (p.right, p.flagged) for p in report.precision}
    assert precision["ROLLBACK"] == (1, 1)  # the RETRACTED one is no detection
    assert precision["SPIKE"] == (1, 1) and precision["DIP"] == (0, 1)
    assert precision["CONFLICTING_DUPLICATE"] == (1, 1) and precision["ODOMETER_REPLACED"] == (1, 1)
    assert (report.blame.hits, report.blame.total) == (2, 3)  # the pair was noticed, the right one blamed
    assert (report.suggestion.hits, report.suggestion.total) == (1, 1)
    assert (report.clean_vehicles_flagged.hits, report.clean_vehicles_flagged.total) == (1, 2)
    assert (report.breaks.hits, report.breaks.total) == (3, 4)
    assert report.recall_of("DUPLICATE").found is None  # no receipts given: not scorable
    text = format_report(report)
    assert "SPIKE" in text and "100.0%" in text
    assert report.to_dict()["recall"]["SPIKE"]["recall"] == 1.0


def reading(event_id: str, vin: str, value: int, day: int, unit: Unit = Unit.KM) -> OdometerReading:
    return OdometerReading(
        event_id,
        vin,
        value,
        day * DAY,
        day * DAY + 60_000,
        "0412345678",
        ProviderKind.GARAGE,
        Origin.WORKSHOP,
        unit,
    )


def registration(vin: str, plate: str | None, day: int, kind: RegistrationKind) -> VehicleRegistration:
    return VehicleRegistration(f"r-{vin}-{day}", vin, kind, day * DAY, 0, False, "VW", "Golf", "M1", plate)


def test_naive_flags_every_reading_lower_than_the_previous_one_in_observed_order() -> None:
    log = [
        reading("x1", A, 100_000, 10),
        reading("x3", A, 150_000, 30),  # arrives before x2, observed after it
        reading("x2", A, 200_000, 20),
        reading("x4", A, 200_050, 40),
        reading("y1", B, 100_000, 10, Unit.MILES),
        reading("y2", B, 150_000, 20),  # km: lower than 100,000 miles
    ]
    flags = naive_flags(log)
    assert [(f.vin, f.blamed_event_id, f.related_event_ids) for f in flags] == [
        (A, "x3", ("x2",)),
        (B, "y2", ("y1",)),
    ]
    report = score(flags, TRUTH, kind_agnostic=True, detector="naive")
    assert report.recall_of("ODOMETER_REPLACED").found is None and report.precision == ()


def test_plates_resolve_to_the_vehicle_that_carried_them_at_the_reading() -> None:
    book = PlateBook()
    book.learn(registration(A, "1-ABC-123", 10, RegistrationKind.FIRST_REGISTRATION))
    book.learn(registration(A, "1-XYZ-999", 20, RegistrationKind.RE_REGISTRATION))
    book.learn(registration(B, "1-ABC-123", 30, RegistrationKind.PLATE_CHANGE))
    book.learn(registration(B, None, 40, RegistrationKind.DEREGISTRATION))
    at = [book.resolve("1-ABC-123", day * DAY) for day in (5, 15, 25, 35, 45)]
    assert at == [None, A, None, B, None]
    plate_reading = PlateOdometerReading(
        "p1",
        "1-ABC-123",
        50_000,
        15 * DAY,
        15 * DAY + 1,
        "0412345678",
        ProviderKind.FAST_FIT,
        Origin.WORKSHOP,
    )
    lost = PlateOdometerReading(
        "p2", "9-NOP-000", 1, 15 * DAY, 15 * DAY + 1, "0412345678", ProviderKind.FAST_FIT, Origin.WORKSHOP
    )
    unresolved: list[PlateOdometerReading] = []
    events = list(
        resolve_plates(
            [registration(A, "1-ABC-123", 10, RegistrationKind.FIRST_REGISTRATION), plate_reading, lost],
            unresolved,
        )
    )
    assert isinstance(events[1], OdometerReading) and events[1].vin == A and events[1].event_id == "p1"
    assert unresolved == [lost]
