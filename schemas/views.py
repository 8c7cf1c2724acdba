"""Python record types of the three views (the contract's views), namespace ``carpass.events``.

Same conventions as :mod:`schemas.records`: frozen, slotted dataclasses whose field names are the Avro
schema's (``schemas/avro/CertificateView.avsc``, ``OkLabelView.avsc``, ``ProviderQuality.avsc``, the source
of truth); timestamps are ``int`` epoch milliseconds (UTC), dates ``int`` days since 1970-01-01, enums
``StrEnum`` members whose value is the Avro symbol, arrays tuples.

Every view carries ``as_of``: the event time of the newest event folded into it, never the wall clock, so a
replay from offset 0 gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from schemas import topics
from schemas.records import (
    AnomalyKind,
    Co2TestProcedure,
    Judgment,
    Origin,
    ProviderKind,
    SuspectedCause,
    Unit,
)


class OkLabelDenial(StrEnum):
    """Why R12 denies the OK label; the comment names the rule."""

    ANOMALY_IN_HISTORY = "ANOMALY_IN_HISTORY"  # R12.1
    ADVERTISED_BELOW_REGISTRY = "ADVERTISED_BELOW_REGISTRY"  # R12.2, query time only
    VIN_NOT_REGISTERED = "VIN_NOT_REGISTERED"  # R12.3
    OLD_WITH_FEW_READINGS = "OLD_WITH_FEW_READINGS"  # R12.4
    FIVE_DIGIT_ODOMETER = "FIVE_DIGIT_ODOMETER"  # R12.5
    YOUNG_WITH_FEW_READINGS = "YOUNG_WITH_FEW_READINGS"  # R12.6
    IMPORTED_USED = "IMPORTED_USED"  # R12.7
    NO_RECENT_READING = "NO_RECENT_READING"  # R12.8


# --- certificate (R11) ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CertificateReading:
    """One recorded reading on a certificate, as displayed (``odometer_value`` in ``unit``)."""

    event_id: str
    observed_at: int
    odometer_value: int
    origin: Origin
    provider_kind: ProviderKind
    unit: Unit = Unit.KM
    odometer_replaced: bool = False
    counter_segment: int = 0
    in_open_anomaly: bool = False
    confirmed_by_provider_at: int | None = None
    """When the reading's own provider confirmed it as right (``ReadingConfirmation``), or ``None``."""
    work_description: str | None = None
    """What the workshop did (R1's maintenance book), as the state keeps it (``WORK_KEPT_BYTES``)."""


@dataclass(frozen=True, slots=True)
class CertificateAnomaly:
    """An open anomaly of the history, as the certificate lists it."""

    anomaly_id: str
    kind: AnomalyKind
    blamed_event_id: str | None = None
    observed_at: int | None = None
    suspected_cause: SuspectedCause | None = None
    suggested_value: int | None = None
    counter_restarted: bool = False


@dataclass(frozen=True, slots=True)
class OpenRecall:
    """A recall not carried out."""

    campaign_id: str
    manufacturer: str
    description: str
    changed_at: int


@dataclass(frozen=True, slots=True)
class CertificateView:
    """Topic ``carpass.certificates`` (compacted), key VIN: everything R11 lists.

    ``readings`` oldest first; ``judgment_reasons`` are stable codes, not prose.
    """

    vin: str
    as_of: int
    judgment: Judgment
    plate: str | None = None
    make: str | None = None
    model: str | None = None
    vehicle_category: str | None = None
    first_registration_date: int | None = None
    first_registration_be_date: int | None = None
    imported_used: bool = False
    import_country: str | None = None
    euro_norm: str | None = None
    co2_g_km: int | None = None
    co2_test_procedure: Co2TestProcedure | None = None
    fuel_type: str | None = None
    electric_motor: bool | None = None
    electric_range_km: int | None = None
    counter_digits: int | None = None
    readings: tuple[CertificateReading, ...] = ()
    judgment_reasons: tuple[str, ...] = ()
    open_anomalies: tuple[CertificateAnomaly, ...] = ()
    open_recalls: tuple[OpenRecall, ...] = ()
    accident_inspection_required: bool = False


# --- OK label (R12) ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OkLabelView:
    """Topic ``carpass.ok-labels`` (compacted), key VIN.

    ``eligible`` and ``denial_reasons`` as of ``as_of``; the advertised-mileage check (R12.2) and the
    age/recency reasons (R12.4, R12.6, R12.8) can be re-evaluated at query time from the other fields.
    """

    vin: str
    as_of: int
    eligible: bool
    denial_reasons: tuple[OkLabelDenial, ...] = ()
    most_recent_value: int | None = None
    most_recent_unit: Unit | None = None
    most_recent_observed_at: int | None = None
    reading_count: int = 0
    first_registration_date: int | None = None


# --- provider quality (R10, R14) -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProviderYear:
    """A provider's figures for one calendar year of ``observed_at``."""

    year: int
    readings: int
    trend_breaks: int
    trend_break_rate: float
    late_submissions: int
    trusted_provider_next_year: bool


@dataclass(frozen=True, slots=True)
class ProviderQuality:
    """Topic ``providers.quality`` (compacted), key provider id."""

    provider_id: str
    as_of: int
    name: str | None = None
    kind: ProviderKind | None = None
    active: bool = False
    years: tuple[ProviderYear, ...] = ()
    last_reading_at: int | None = None


# View record type -> topic name (the contract); all compacted.
VIEW_RECORD_TOPICS: dict[type, str] = {
    CertificateView: topics.CERTIFICATES,
    OkLabelView: topics.OK_LABELS,
    ProviderQuality: topics.PROVIDER_QUALITY,
}
