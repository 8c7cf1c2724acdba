"""The RDW-style judgment: LOGICAL, ILLOGICAL, NO_JUDGMENT with reasons."""

from __future__ import annotations

from dataclasses import replace

from schemas.records import AnomalyKind, Judgment, Origin, ProviderKind, RegistrationKind, Unit
from streams.domain.judgment import VehicleJudgment, judge_state
from streams.domain.state import OpenAnomaly, RegistrationFacts, StoredReading, VehicleState

VIN = "WVWZZZ1KZAW123456"


def stored(event_id: str, day: int, *, replaced: bool = False, digits: int | None = None) -> StoredReading:
    return StoredReading(
        event_id,
        day * 86_400_000,
        day * 40,
        Unit.KM,
        "0412345678",
        ProviderKind.GARAGE,
        Origin.WORKSHOP,
        day * 86_400_000,
        replaced,
        digits,
    )


def facts(**changes: object) -> RegistrationFacts:
    base = RegistrationFacts(RegistrationKind.FIRST_REGISTRATION, 0, 17_000, False, "VW", "Golf", "M1")
    return replace(base, **changes)  # type: ignore[arg-type]


TWO = (stored("a", 17_100), stored("b", 17_500))


def test_increasing_readings_are_logical() -> None:
    assert judge_state(VehicleState(VIN, readings=TWO, registration=facts())) == VehicleJudgment(
        Judgment.LOGICAL
    )


def test_too_few_readings() -> None:
    for readings in ((), TWO[:1]):
        verdict = judge_state(VehicleState(VIN, readings=readings))
        assert verdict == VehicleJudgment(Judgment.NO_JUDGMENT, ("TOO_FEW_READINGS",))


def test_every_no_judgment_reason_is_listed_in_order() -> None:
    readings = (stored("a", 17_100, digits=5), stored("b", 17_500, replaced=True))
    state = VehicleState(VIN, readings=readings, registration=facts(imported_used=True))
    assert judge_state(state).reasons == ("ODOMETER_REPLACED", "FIVE_DIGIT_COUNTER", "IMPORTED_USED")


def test_registered_five_digit_counter_and_later_belgian_registration() -> None:
    state = VehicleState(
        VIN, readings=TWO, registration=facts(counter_digits=5, first_registration_be_date=17_050)
    )
    assert judge_state(state) == VehicleJudgment(
        Judgment.NO_JUDGMENT, ("FIVE_DIGIT_COUNTER", "IMPORTED_USED")
    )


def test_a_belgian_registration_on_the_first_day_is_not_an_import() -> None:
    state = VehicleState(VIN, readings=TWO, registration=facts(first_registration_be_date=17_000))
    assert judge_state(state).judgment is Judgment.LOGICAL


def test_markers_alone_do_not_make_a_history_illogical() -> None:
    state = VehicleState(
        VIN,
        readings=(TWO[0], replace(TWO[1], odometer_replaced=True)),
        anomalies=(OpenAnomaly(AnomalyKind.ODOMETER_REPLACED, "b"),),
    )
    assert judge_state(state) == VehicleJudgment(Judgment.NO_JUDGMENT, ("ODOMETER_REPLACED",))


def test_an_open_break_makes_it_illogical_even_with_no_judgment_reasons() -> None:
    anomalies = (OpenAnomaly(AnomalyKind.SPIKE, "a"), OpenAnomaly(AnomalyKind.ROLLBACK, "b"))
    state = VehicleState(VIN, readings=TWO, registration=facts(imported_used=True), anomalies=anomalies)
    assert judge_state(state) == VehicleJudgment(Judgment.ILLOGICAL, ("ROLLBACK", "SPIKE", "IMPORTED_USED"))
