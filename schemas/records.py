"""Python record types of the event contracts (the event contracts), namespace ``carpass.events``.

Frozen, slotted dataclasses; field names are the contract's. Conventions, chosen for speed on the hot path
and for byte-exact replays:

* timestamps (``timestamp-millis``) are ``int`` milliseconds since the Unix epoch, UTC;
* dates (``date``) are ``int`` days since 1970-01-01;
* enums are ``StrEnum`` members whose value is the Avro symbol.

The Avro schemas in ``schemas/avro/`` are the source of truth; ``tests/unit/schemas`` checks that every
field here exists there with a compatible type.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from schemas import topics


class Unit(StrEnum):
    KM = "KM"
    MILES = "MILES"


class ProviderKind(StrEnum):
    GARAGE = "GARAGE"
    BODY_SHOP = "BODY_SHOP"
    TYRE_CENTRE = "TYRE_CENTRE"
    FAST_FIT = "FAST_FIT"
    DEALER = "DEALER"
    INSPECTION_BODY = "INSPECTION_BODY"
    MANUFACTURER = "MANUFACTURER"
    IMPORTER = "IMPORTER"
    RDW = "RDW"
    OTHER = "OTHER"


class Origin(StrEnum):
    WORKSHOP = "WORKSHOP"
    INSPECTION = "INSPECTION"
    CONNECTED_VEHICLE = "CONNECTED_VEHICLE"
    FOREIGN_HISTORY = "FOREIGN_HISTORY"
    MANUAL = "MANUAL"


class CorrectionChannel(StrEnum):
    ELECTRONIC = "ELECTRONIC"
    FORM = "FORM"


class RegistrationKind(StrEnum):
    FIRST_REGISTRATION = "FIRST_REGISTRATION"
    RE_REGISTRATION = "RE_REGISTRATION"
    PLATE_CHANGE = "PLATE_CHANGE"
    DEREGISTRATION = "DEREGISTRATION"


class Co2TestProcedure(StrEnum):
    NEDC = "NEDC"
    WLTP = "WLTP"


class RecallState(StrEnum):
    OPEN = "OPEN"
    COMPLETED = "COMPLETED"
    WITHDRAWN = "WITHDRAWN"


class AccidentInspectionState(StrEnum):
    REQUIRED = "REQUIRED"
    PASSED = "PASSED"


class ReceiptStatus(StrEnum):
    ACCEPTED = "ACCEPTED"
    ACCEPTED_WITH_WARNINGS = "ACCEPTED_WITH_WARNINGS"
    REJECTED = "REJECTED"


class Severity(StrEnum):
    WARNING = "WARNING"
    ERROR = "ERROR"


class AnomalyKind(StrEnum):
    ROLLBACK = "ROLLBACK"
    SPIKE = "SPIKE"
    DIP = "DIP"
    IMPLAUSIBLE_RATE = "IMPLAUSIBLE_RATE"
    CONFLICTING_DUPLICATE = "CONFLICTING_DUPLICATE"
    ODOMETER_REPLACED = "ODOMETER_REPLACED"
    COUNTER_WRAPPED = "COUNTER_WRAPPED"
    STALE_HISTORY = "STALE_HISTORY"


class AnomalyStatus(StrEnum):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"
    RETRACTED = "RETRACTED"


class SuspectedCause(StrEnum):
    EXTRA_DIGIT = "EXTRA_DIGIT"
    MISSING_DIGIT = "MISSING_DIGIT"
    SWAPPED_DIGITS = "SWAPPED_DIGITS"
    MISTYPED_DIGIT = "MISTYPED_DIGIT"
    MILES_AS_KM = "MILES_AS_KM"
    UNKNOWN = "UNKNOWN"


class Judgment(StrEnum):
    LOGICAL = "LOGICAL"
    ILLOGICAL = "ILLOGICAL"
    NO_JUDGMENT = "NO_JUDGMENT"


# --- input records -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OdometerReading:
    """Topic ``odometer.readings``, key VIN."""

    event_id: str
    vin: str
    odometer_value: int
    observed_at: int
    submitted_at: int
    provider_id: str
    provider_kind: ProviderKind
    origin: Origin
    unit: Unit = Unit.KM
    odometer_replaced: bool = False
    counter_digits: int | None = None
    work_description: str | None = None


@dataclass(frozen=True, slots=True)
class PlateOdometerReading:
    """Topic ``odometer.plate-readings``, key plate: an ``OdometerReading`` with ``plate`` for ``vin``."""

    event_id: str
    plate: str
    odometer_value: int
    observed_at: int
    submitted_at: int
    provider_id: str
    provider_kind: ProviderKind
    origin: Origin
    unit: Unit = Unit.KM
    odometer_replaced: bool = False
    counter_digits: int | None = None
    work_description: str | None = None


@dataclass(frozen=True, slots=True)
class CorrectionRequest:
    """Topic ``odometer.corrections``, key VIN (R5)."""

    event_id: str
    error_number: str
    vin: str
    channel: CorrectionChannel
    requested_by: str
    submitted_at: int
    corrected_value: int | None = None
    corrected_observed_at: int | None = None
    withdraw: bool = False
    justification: str | None = None


@dataclass(frozen=True, slots=True)
class ReadingConfirmation:
    """Topic ``odometer.confirmations``, key VIN: the provider of a flagged reading states it is right.

    Shown in the history (the reading is marked confirmed by its provider); it does not change the
    judgment: Car-Pass staff decide."""

    event_id: str
    vin: str
    confirmed_event_id: str
    provider_id: str
    submitted_at: int
    note: str | None = None


@dataclass(frozen=True, slots=True)
class VehicleRegistration:
    """Topic ``vehicle.registrations``, key VIN (DIV / Crossroads Bank for Vehicles)."""

    event_id: str
    vin: str
    kind: RegistrationKind
    effective_at: int
    first_registration_date: int
    imported_used: bool
    make: str
    model: str
    vehicle_category: str
    plate: str | None = None
    first_registration_be_date: int | None = None
    import_country: str | None = None
    euro_norm: str | None = None
    co2_g_km: int | None = None
    co2_test_procedure: Co2TestProcedure | None = None
    fuel_type: str | None = None
    electric_motor: bool | None = None
    electric_range_km: int | None = None
    counter_digits: int | None = None


@dataclass(frozen=True, slots=True)
class RecallStatus:
    """Topic ``vehicle.recalls``, key VIN."""

    event_id: str
    vin: str
    campaign_id: str
    manufacturer: str
    description: str
    status: RecallState
    changed_at: int


@dataclass(frozen=True, slots=True)
class AccidentInspectionStatus:
    """Topic ``vehicle.accident-inspections``, key VIN."""

    event_id: str
    vin: str
    status: AccidentInspectionState
    reported_by: str
    changed_at: int


@dataclass(frozen=True, slots=True)
class ProviderRegistration:
    """Topic ``providers.registry``, key provider id."""

    event_id: str
    provider_id: str
    name: str
    kind: ProviderKind
    nace_codes: tuple[str, ...]
    active: bool
    changed_at: int


# --- output records ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in a submission; ``error_number`` is unique and stable (R4)."""

    error_number: str
    code: str
    severity: Severity
    message: str
    suggested_value: int | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """Topic ``odometer.receipts``, key VIN: exactly one per distinct submission ``event_id``."""

    event_id: str
    vin: str
    provider_id: str
    status: ReceiptStatus
    issues: tuple[Issue, ...]
    processed_at: int


@dataclass(frozen=True, slots=True)
class AnomalyEvent:
    """Topic ``odometer.anomalies``, key VIN. A later event with the same ``anomaly_id`` supersedes."""

    anomaly_id: str
    vin: str
    kind: AnomalyKind
    status: AnomalyStatus
    related_event_ids: tuple[str, ...]
    judgment: Judgment
    detected_at: int
    blamed_event_id: str | None = None
    blamed_provider_id: str | None = None
    suspected_cause: SuspectedCause | None = None
    suggested_value: int | None = None
    observed_at: int | None = None
    counter_restarted: bool = False


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Topic ``dead-letters``: an input that could not be decoded, validated or answered; its value kept
    whole up to a bound, then cut (``original_size`` and ``original_sha256`` describe the whole)."""

    original_value: bytes | None
    original_key: bytes | None
    topic: str
    partition: int
    offset: int
    reason: str
    error_type: str
    failed_at: int
    original_size: int | None = None
    original_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class CertificateIssued:
    """Topic ``certificates.issued`` (kept forever), key the number: one certificate issued (R11, R16).
    The first record of a number is the certificate; a later one of the same number changes nothing."""

    number: str
    issuance_event_id: str
    vin: str
    issued_at: int
    issue_date: int
    valid_until: int
    fee_cents: int
    fee_rule: str
    content_json: str
    content_sha256: str
    key_id: str
    signature: str
    issuer: str | None = None
    language: str = "en"


# Input record type -> topic name (the contract).
INPUT_TOPICS: dict[type, str] = {
    OdometerReading: topics.READINGS,
    PlateOdometerReading: topics.PLATE_READINGS,
    CorrectionRequest: topics.CORRECTIONS,
    VehicleRegistration: topics.REGISTRATIONS,
    RecallStatus: topics.RECALLS,
    AccidentInspectionStatus: topics.ACCIDENT_INSPECTIONS,
    ProviderRegistration: topics.PROVIDERS,
    ReadingConfirmation: topics.CONFIRMATIONS,
}

OUTPUT_TOPICS: dict[type, str] = {
    Receipt: topics.RECEIPTS,
    AnomalyEvent: topics.ANOMALIES,
    DeadLetter: topics.DEAD_LETTERS,
}

VIEW_TOPICS: tuple[str, ...] = (topics.CERTIFICATES, topics.OK_LABELS, topics.PROVIDER_QUALITY)

RECORD_TOPICS: dict[type, str] = {CertificateIssued: topics.CERTIFICATES_ISSUED}
"""The registry's own acts, written by the workers and kept forever (like the inputs, part of the event
store: a replay rebuilds what they recorded)."""
