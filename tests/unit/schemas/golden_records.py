"""One fixed record per contract type, and the golden files made from them.

``golden/<Name>.hex`` holds the single-object encoding of ``GOLDEN[<Name>]`` as hex;
``golden/fingerprints.json`` the CRC-64-AVRO fingerprint (little-endian hex) of each schema. A failing
golden test means the bytes on the wire changed: if that is intended (a new schema version), regenerate with
``python -m tests.unit.schemas.golden_records`` and commit the files with the new history version.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from schemas.catalog import SCHEMAS, AnyRecord
from schemas.codec import encode
from schemas.records import (
    AccidentInspectionState,
    AccidentInspectionStatus,
    AnomalyEvent,
    AnomalyKind,
    AnomalyStatus,
    CertificateIssued,
    Co2TestProcedure,
    CorrectionChannel,
    CorrectionRequest,
    DeadLetter,
    Issue,
    Judgment,
    OdometerReading,
    Origin,
    PlateOdometerReading,
    ProviderKind,
    ProviderRegistration,
    ReadingConfirmation,
    RecallState,
    RecallStatus,
    Receipt,
    ReceiptStatus,
    RegistrationKind,
    Severity,
    SuspectedCause,
    Unit,
    VehicleRegistration,
)
from schemas.views import (
    CertificateAnomaly,
    CertificateReading,
    CertificateView,
    OkLabelDenial,
    OkLabelView,
    OpenRecall,
    ProviderQuality,
    ProviderYear,
)

GOLDEN_DIR = Path(__file__).with_name("golden")
VIN = "WVWZZZ1JZXW000001"
T0 = 1_709_288_100_000  # 2024-03-01T10:15:00Z
DAY = 86_400_000

GOLDEN: dict[str, AnyRecord] = {
    "OdometerReading": OdometerReading(
        event_id="3f1c2b9e-8a4d-4c1e-9b7a-000000000001", vin=VIN, odometer_value=123_456, observed_at=T0,
        submitted_at=T0 + 60_000, provider_id="0123456789", provider_kind=ProviderKind.GARAGE,
        origin=Origin.WORKSHOP, unit=Unit.KM, odometer_replaced=False, counter_digits=None,
        work_description="Oil change, brake pads",
    ),
    "PlateOdometerReading": PlateOdometerReading(
        event_id="3f1c2b9e-8a4d-4c1e-9b7a-000000000002", plate="1-ABC-123", odometer_value=76_543,
        observed_at=T0, submitted_at=T0 + 1_000, provider_id="0987654321",
        provider_kind=ProviderKind.TYRE_CENTRE, origin=Origin.WORKSHOP, unit=Unit.MILES,
        odometer_replaced=True, counter_digits=5, work_description=None,
    ),
    "CorrectionRequest": CorrectionRequest(
        event_id="3f1c2b9e-8a4d-4c1e-9b7a-000000000003", error_number="E-2024-000042", vin=VIN,
        channel=CorrectionChannel.ELECTRONIC, requested_by="0123456789", submitted_at=T0 + DAY,
        corrected_value=123_465, corrected_observed_at=T0, withdraw=False, justification="swapped digits",
    ),
    "VehicleRegistration": VehicleRegistration(
        event_id="3f1c2b9e-8a4d-4c1e-9b7a-000000000004", vin=VIN, kind=RegistrationKind.FIRST_REGISTRATION,
        effective_at=T0 - 400 * DAY, first_registration_date=19_000, imported_used=True, make="Volkswagen",
        model="Golf", vehicle_category="M1", plate="1-ABC-123", first_registration_be_date=19_500,
        import_country="NL", euro_norm="EURO 6d", co2_g_km=118, co2_test_procedure=Co2TestProcedure.WLTP,
        fuel_type="PETROL", electric_motor=False, electric_range_km=None, counter_digits=6,
    ),
    "RecallStatus": RecallStatus(
        event_id="3f1c2b9e-8a4d-4c1e-9b7a-000000000005", vin=VIN, campaign_id="23V-123",
        manufacturer="Volkswagen", description="Airbag inflator", status=RecallState.OPEN, changed_at=T0,
    ),
    "AccidentInspectionStatus": AccidentInspectionStatus(
        event_id="3f1c2b9e-8a4d-4c1e-9b7a-000000000006", vin=VIN, status=AccidentInspectionState.REQUIRED,
        reported_by="expert-17", changed_at=T0,
    ),
    "ProviderRegistration": ProviderRegistration(
        event_id="3f1c2b9e-8a4d-4c1e-9b7a-000000000007", provider_id="0123456789", name="Garage Janssens",
        kind=ProviderKind.GARAGE, nace_codes=("45201", "45320"), active=True, changed_at=T0,
    ),
    "ReadingConfirmation": ReadingConfirmation(
        event_id="3f1c2b9e-8a4d-4c1e-9b7a-000000000008", vin=VIN,
        confirmed_event_id="3f1c2b9e-8a4d-4c1e-9b7a-000000000001", provider_id="0123456789",
        submitted_at=T0 + DAY, note="the customer's invoice shows 123,456 km",
    ),
    "Receipt": Receipt(
        event_id="3f1c2b9e-8a4d-4c1e-9b7a-000000000001", vin=VIN, provider_id="0123456789",
        status=ReceiptStatus.ACCEPTED_WITH_WARNINGS,
        issues=(Issue("E-2024-000042", "RATE_TOO_HIGH", Severity.WARNING, "over 1,000 km/day", 12_346),),
        processed_at=T0 + 61_000,
    ),
    "AnomalyEvent": AnomalyEvent(
        anomaly_id="9d5c-anomaly-1", vin=VIN, kind=AnomalyKind.SPIKE, status=AnomalyStatus.OPEN,
        related_event_ids=("3f1c2b9e-8a4d-4c1e-9b7a-000000000001",), judgment=Judgment.ILLOGICAL,
        detected_at=T0 + 61_000, blamed_event_id="3f1c2b9e-8a4d-4c1e-9b7a-000000000001",
        blamed_provider_id="0123456789", suspected_cause=SuspectedCause.EXTRA_DIGIT, suggested_value=12_345,
        observed_at=T0,
    ),
    "DeadLetter": DeadLetter(
        original_value=b"\xc3\x01\x00\xff", original_key=VIN.encode(), topic="odometer.readings", partition=3,
        offset=1_234_567, reason="unknown schema fingerprint 00ff", error_type="unknown-schema",
        failed_at=T0, original_size=4, original_sha256=hashlib.sha256(b"\xc3\x01\x00\xff").hexdigest(),
    ),
    "CertificateView": CertificateView(
        vin=VIN, as_of=T0, judgment=Judgment.LOGICAL, plate="1-ABC-123", make="Volkswagen", model="Golf",
        vehicle_category="M1", first_registration_date=19_000, first_registration_be_date=None,
        imported_used=False, euro_norm="EURO 6d", co2_g_km=118, co2_test_procedure=Co2TestProcedure.WLTP,
        fuel_type="PETROL", electric_motor=False, counter_digits=6,
        readings=(
            CertificateReading(
                "r1", T0 - 365 * DAY, 100_000, Origin.INSPECTION, ProviderKind.INSPECTION_BODY
            ),
            CertificateReading(
                "r2", T0, 123_456, Origin.WORKSHOP, ProviderKind.GARAGE, in_open_anomaly=True,
                confirmed_by_provider_at=T0 + DAY, work_description="periodic service",
            ),
        ),
        judgment_reasons=("RISING",),
        open_anomalies=(CertificateAnomaly("9d5c-anomaly-1", AnomalyKind.SPIKE, "r2", T0),),
        open_recalls=(OpenRecall("23V-123", "Volkswagen", "Airbag inflator", T0),),
        accident_inspection_required=True,
    ),
    "OkLabelView": OkLabelView(
        vin=VIN, as_of=T0, eligible=False,
        denial_reasons=(OkLabelDenial.ANOMALY_IN_HISTORY, OkLabelDenial.IMPORTED_USED),
        most_recent_value=123_456, most_recent_unit=Unit.KM, most_recent_observed_at=T0, reading_count=2,
        first_registration_date=19_000,
    ),
    "ProviderQuality": ProviderQuality(
        provider_id="0123456789", as_of=T0, name="Garage Janssens", kind=ProviderKind.GARAGE, active=True,
        years=(ProviderYear(2023, 1_000, 3, 0.003, 12, True), ProviderYear(2024, 200, 2, 0.01, 0, False)),
        last_reading_at=T0,
    ),
    "CertificateIssued": CertificateIssued(
        number="3f1c2a7e-5b0d-5c8e-9a41-2d6f0b7c9e13", issuance_event_id="sale-42", vin=VIN, issued_at=T0,
        issue_date=19_700, valid_until=19_760, fee_cents=1_050, fee_rule="STANDARD",
        content_json='{"vin":"WVWZZZ1JZXW000001"}',
        content_sha256=hashlib.sha256(b'{"vin":"WVWZZZ1JZXW000001"}').hexdigest(),
        key_id="k-2026", signature="c2lnbmF0dXJl", issuer="provider:0123456789", language="nl",
    ),
}  # fmt: skip


def write_golden_files() -> None:
    """Rewrite ``golden/`` from :data:`GOLDEN` and the current schemas."""
    GOLDEN_DIR.mkdir(exist_ok=True)
    for name, record in GOLDEN.items():
        (GOLDEN_DIR / f"{name}.hex").write_text(encode(record).hex() + "\n")
    prints = {rs.name: rs.fingerprint.hex() for rs in SCHEMAS.values()}
    (GOLDEN_DIR / "fingerprints.json").write_text(json.dumps(prints, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    write_golden_files()
