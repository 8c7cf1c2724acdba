"""R12: one test per rule, each against a control that is eligible, so each fails if its rule is dropped."""

from __future__ import annotations

from dataclasses import replace

import pytest

from projections.views import add_months, completed_months, ok_label_decision, ok_label_view
from schemas.records import Unit
from schemas.views import OkLabelDenial
from streams.domain.calendar import date_of
from streams.domain.state import VehicleState
from tests.unit.projections.builders import (
    VIN,
    clean_old_vehicle,
    day,
    ms,
    reading,
    registration,
    spike,
)

QUERY = day(2024, 6, 1)
ADVERT = 110_000


def reasons(
    state: VehicleState | None, query: int = QUERY, advert: int | None = ADVERT
) -> tuple[OkLabelDenial, ...]:
    return ok_label_decision(state, query, advert, vin=VIN).denial_reasons


def test_control_vehicle_is_eligible() -> None:
    decision = ok_label_decision(clean_old_vehicle(), QUERY, ADVERT)
    assert decision.eligible and decision.denial_reasons == ()
    assert decision.most_recent_km == 105_000 and decision.reading_count == 7


def test_r12_1_an_anomaly_in_the_history_denies() -> None:
    assert reasons(spike(clean_old_vehicle())) == (OkLabelDenial.ANOMALY_IN_HISTORY,)


def test_r12_2_advertised_below_the_most_recent_value_denies_at_query_time() -> None:
    state = clean_old_vehicle()
    assert reasons(state, advert=104_999) == (OkLabelDenial.ADVERTISED_BELOW_REGISTRY,)
    assert reasons(state, advert=105_000) == ()
    view = ok_label_view(state, ms(2024, 3, 2))
    assert OkLabelDenial.ADVERTISED_BELOW_REGISTRY not in view.denial_reasons  # never in the stored view


def test_r12_2_compares_in_km_when_the_registry_has_miles() -> None:
    last = replace(clean_old_vehicle().readings[-1], value=65_000, unit=Unit.MILES)  # 104,607 km
    state = replace(clean_old_vehicle(), readings=(*clean_old_vehicle().readings[:-1], last))
    assert reasons(state, advert=104_000) == (OkLabelDenial.ADVERTISED_BELOW_REGISTRY,)
    assert reasons(state, advert=104_607) == ()


def test_r12_3_an_unknown_or_unregistered_vin_denies() -> None:
    assert reasons(None) == (OkLabelDenial.VIN_NOT_REGISTERED,)
    unregistered = replace(clean_old_vehicle(), registration=None)
    assert reasons(unregistered) == (OkLabelDenial.VIN_NOT_REGISTERED,)


def test_r12_4_older_than_4_years_with_fewer_than_4_readings_denies() -> None:
    state = replace(clean_old_vehicle(), readings=clean_old_vehicle().readings[-3:])
    assert reasons(state) == (OkLabelDenial.OLD_WITH_FEW_READINGS,)
    four = replace(clean_old_vehicle(), readings=clean_old_vehicle().readings[-4:])
    assert reasons(four) == ()


def test_r12_5_a_five_digit_odometer_denies() -> None:
    on_registration = replace(clean_old_vehicle(), registration=registration((2018, 1, 10), counter_digits=5))
    assert reasons(on_registration) == (OkLabelDenial.FIVE_DIGIT_ODOMETER,)
    readings = clean_old_vehicle().readings
    five = replace(readings[-1], counter_digits=5)
    on_reading = replace(clean_old_vehicle(), readings=(*readings[:-1], five))
    assert reasons(on_reading) == (OkLabelDenial.FIVE_DIGIT_ODOMETER,)


@pytest.mark.parametrize(
    ("age_months", "count", "denied"),
    [
        (0, 0, True), (0, 1, False), (12, 1, False), (13, 1, True), (13, 2, False), (24, 2, False),
        (25, 2, True), (25, 3, False), (36, 3, False), (37, 3, True), (37, 4, False), (47, 3, True),
    ],
)  # fmt: skip
def test_r12_6_a_young_vehicle_needs_readings_by_age(age_months: int, count: int, denied: bool) -> None:
    first = add_months(QUERY, -age_months) - 3  # a few days past the completed month
    assert completed_months(first, QUERY) == age_months
    d = date_of(first)
    readings = tuple(reading((2024, 5, 1 + i), 1000 * (i + 1)) for i in range(count))
    state = VehicleState(VIN, readings=readings, registration=registration((d.year, d.month, d.day)))
    expected = (OkLabelDenial.YOUNG_WITH_FEW_READINGS,) if denied else ()
    assert reasons(state, advert=50_000) == expected


def test_r12_7_an_import_second_hand_denies() -> None:
    flagged = replace(clean_old_vehicle(), registration=registration((2018, 1, 10), imported_used=True))
    assert reasons(flagged) == (OkLabelDenial.IMPORTED_USED,)
    later_in_belgium = registration((2018, 1, 10), first_registration_be_date=day(2020, 5, 5))
    later = replace(clean_old_vehicle(), registration=later_in_belgium)
    assert reasons(later) == (OkLabelDenial.IMPORTED_USED,)


def test_r12_8_no_reading_for_24_months_at_the_query_date_denies() -> None:
    state = clean_old_vehicle()  # latest reading 2024-03-01
    assert reasons(state, query=day(2026, 2, 28)) == ()
    assert reasons(state, query=day(2026, 3, 1)) == (OkLabelDenial.NO_RECENT_READING,)


def test_reasons_come_in_rule_order_and_all_at_once() -> None:
    state = replace(
        spike(clean_old_vehicle()),
        registration=registration((2018, 1, 10), imported_used=True, counter_digits=5),
    )
    assert reasons(state, advert=1) == (
        OkLabelDenial.ANOMALY_IN_HISTORY,
        OkLabelDenial.ADVERTISED_BELOW_REGISTRY,
        OkLabelDenial.FIVE_DIGIT_ODOMETER,
        OkLabelDenial.IMPORTED_USED,
    )


def test_the_stored_view_is_re_evaluated_at_the_query_day() -> None:
    state = clean_old_vehicle()
    view = ok_label_view(state, ms(2024, 3, 2))
    assert view.eligible
    for query in (QUERY, day(2026, 3, 1), day(2030, 1, 1)):
        for advert in (1, ADVERT):
            assert ok_label_decision(view, query, advert) == ok_label_decision(state, query, advert)


def test_a_young_vehicle_ages_into_the_reading_requirement() -> None:
    one = (reading((2023, 8, 1), 9_000),)
    state = VehicleState(VIN, readings=one, registration=registration((2023, 6, 1)))
    view = ok_label_view(state, ms(2023, 8, 2))
    assert view.eligible
    later = ok_label_decision(view, day(2024, 8, 1), 20_000)
    assert later.denial_reasons == (OkLabelDenial.YOUNG_WITH_FEW_READINGS,)
    assert later.explanations[0].startswith("R12.6")
