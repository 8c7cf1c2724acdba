"""The certificate view (R11) over states built by the real core and by hand."""

from __future__ import annotations

import uuid
from dataclasses import replace

from projections.views import certificate_view, ok_label_view, state_as_of
from schemas.codec import decode, encode
from schemas.records import (
    AccidentInspectionState,
    AnomalyKind,
    Co2TestProcedure,
    Judgment,
    OdometerReading,
    Origin,
    ProviderKind,
    RecallState,
    RegistrationKind,
    VehicleRegistration,
)
from schemas.views import CertificateView, OkLabelDenial, OkLabelView
from streams.domain.state import AccidentFact, OpenAnomaly, RecallFact, VehicleState
from streams.domain.vehicle import fold
from tests.unit.projections.builders import (
    PROVIDER,
    VIN,
    clean_old_vehicle,
    day,
    ms,
    reading,
    registration,
)


def _reading(when: tuple[int, int, int], value: int) -> OdometerReading:
    at = ms(*when)
    return OdometerReading(
        event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{when}")),
        vin=VIN,
        odometer_value=value,
        observed_at=at,
        submitted_at=at + 60_000,
        provider_id=PROVIDER,
        provider_kind=ProviderKind.GARAGE,
        origin=Origin.WORKSHOP,
        work_description="service",
    )


def _registration() -> VehicleRegistration:
    return VehicleRegistration(
        event_id="reg-1",
        vin=VIN,
        kind=RegistrationKind.FIRST_REGISTRATION,
        effective_at=ms(2018, 1, 10),
        first_registration_date=day(2018, 1, 10),
        imported_used=False,
        make="Volkswagen",
        model="Golf",
        vehicle_category="M1",
        euro_norm="EURO 6d",
        co2_g_km=118,
        co2_test_procedure=Co2TestProcedure.WLTP,
        fuel_type="PETROL",
        electric_motor=False,
    )


def test_a_spike_from_the_real_core_is_an_open_anomaly_on_the_certificate_and_denies_the_label() -> None:
    values = [15_000, 30_000, 450_000, 60_000, 75_000, 90_000]
    events = [_registration(), *(_reading((2018 + i, 3, 1), v) for i, v in enumerate(values))]
    state = fold(events)
    assert state is not None
    view = certificate_view(state, ms(2023, 3, 2))
    assert view.judgment is Judgment.ILLOGICAL
    spiked = [r for r in view.readings if r.in_open_anomaly]
    assert [r.odometer_value for r in spiked] == [450_000]
    assert view.open_anomalies and view.open_anomalies[0].blamed_event_id == spiked[0].event_id
    assert view.open_anomalies[0].observed_at == spiked[0].observed_at
    label = ok_label_view(state, ms(2023, 3, 2))
    assert OkLabelDenial.ANOMALY_IN_HISTORY in label.denial_reasons and not label.eligible


def test_every_r11_item_is_on_the_view() -> None:
    recalls = (
        RecallFact("RC-1", "VW", "Airbag", RecallState.OPEN, ms(2023, 1, 1)),
        RecallFact("RC-0", "VW", "Done", RecallState.COMPLETED, ms(2023, 1, 1)),
    )
    reg = registration(
        (2018, 1, 10),
        first_registration_be_date=day(2019, 2, 2),
        import_country="DE",
        co2_test_procedure=Co2TestProcedure.WLTP,
        electric_motor=True,
        electric_range_km=55,
        fuel_type="PLUGIN_HYBRID",
    )
    state = replace(
        clean_old_vehicle(),
        registration=reg,
        recalls=recalls,
        accident=AccidentFact(AccidentInspectionState.REQUIRED, ms(2024, 1, 1)),
    )
    view = certificate_view(state, 123)
    assert (view.vin, view.as_of, view.make, view.model) == (VIN, 123, "Volkswagen", "Golf")
    assert view.first_registration_date == day(2018, 1, 10)
    assert view.first_registration_be_date == day(2019, 2, 2)
    assert view.imported_used  # registered in Belgium after its first use (R8)
    assert (view.euro_norm, view.co2_g_km, view.co2_test_procedure) == ("EURO 6d", 118, Co2TestProcedure.WLTP)
    assert (view.fuel_type, view.electric_motor, view.electric_range_km) == ("PLUGIN_HYBRID", True, 55)
    assert [r.campaign_id for r in view.open_recalls] == ["RC-1"]
    assert view.accident_inspection_required
    assert [r.odometer_value for r in view.readings] == [15_000 * i for i in range(1, 8)]
    assert all(r.origin is Origin.WORKSHOP for r in view.readings)
    assert view.judgment is Judgment.NO_JUDGMENT and "IMPORTED_USED" in view.judgment_reasons


def test_replacement_and_five_digit_mentions() -> None:
    readings = (
        reading((2019, 1, 1), 90_000, digits=5),
        reading((2020, 1, 1), 5_000, digits=5),
        reading((2021, 1, 1), 2_000, replaced=True),
        reading((2022, 1, 1), 17_000),
    )
    markers = (
        OpenAnomaly(AnomalyKind.COUNTER_WRAPPED, readings[1].event_id),
        OpenAnomaly(AnomalyKind.ODOMETER_REPLACED, readings[2].event_id),
    )
    state = VehicleState(VIN, readings=readings, registration=registration((2018, 1, 1)), anomalies=markers)
    view = certificate_view(state, 0)
    assert view.counter_digits == 5
    assert [r.counter_segment for r in view.readings] == [0, 0, 1, 1]
    assert [r.odometer_replaced for r in view.readings] == [False, False, True, False]
    assert not any(r.in_open_anomaly for r in view.readings)  # markers blame no reading
    kinds = {a.kind for a in view.open_anomalies}
    assert kinds == {AnomalyKind.COUNTER_WRAPPED, AnomalyKind.ODOMETER_REPLACED}


def test_views_encode_as_their_contract_records_and_are_deterministic() -> None:
    state = clean_old_vehicle()
    as_of = state_as_of(state)
    assert as_of == state.readings[-1].submitted_at
    cert, label = certificate_view(state, as_of), ok_label_view(state, as_of)
    assert encode(cert) == encode(certificate_view(state, as_of))
    assert decode(encode(cert), CertificateView) == cert
    assert decode(encode(label), OkLabelView) == label
