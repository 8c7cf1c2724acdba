"""The per-VIN state folded from every VIN-keyed event: what the core must remember, and nothing it can
recompute.

Layout (the stream stores one ``VehicleState`` per VIN, encoded by ``streams.state.codec``: about 400
bytes for a realistic 10-reading history, 720 for 20, within the 600-byte budget on average over a fleet;
``tests/unit/streams/domain/test_state.py``):

``readings``
    Accepted readings, sorted by ``(observed_at, event_id)``, each as typed (value and unit), with the
    source fields the judgment needs (origin and provider kind give the weight, R6/R7 flags). Kilometres,
    counter segments, 5-digit unwraps and trend points are *derived* (``history``), never stored.
``rejected``
    Readings refused with an ERROR, kept so that a correction (R5) can still fix and admit them, in the
    order received (the newest ``VehicleBounds.rejected``). Rare.
``done_ids``
    Ids, in the order received (the newest ``VehicleBounds.done_ids`` of them), of processed submissions
    that cannot be found at their delivered ``(observed_at, event_id)`` place in ``readings`` or in
    ``rejected``: duplicates, withdrawn readings, date-corrected
    readings and corrections. With ``readings`` and ``rejected`` it answers "seen this event_id?" (the
    idempotency key) without a copy of every id: a bisection in ``readings`` plus two short scans.
``electronic_closed``
    Error numbers that can no longer be corrected electronically (R5): used once, or raised on a
    correction's own receipt (a second mistake needs the signed form). The issued error numbers
    themselves live on their reading (``StoredReading.error_numbers``), so a correction finds its reading.
``registration`` / ``recalls`` / ``accident``
    The latest registration facts (DIV), recall campaigns and post-accident status, without the VIN
    (the key) - what R8, R7, R11 need.
``confirmations``
    Readings their own provider has confirmed as right (``ReadingConfirmation``), sorted by reading id,
    with the earliest confirmation time: shown in the history, never part of the judgment. Empty for
    nearly every vehicle (the stored form then has no trace of it).
``anomalies``
    The anomalies currently OPEN (including the ODOMETER_REPLACED / COUNTER_WRAPPED markers), as last
    emitted: the next decision diffs against them. Blamed/related readings are referred to by event id.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from schemas.records import (
    AccidentInspectionState,
    AnomalyKind,
    Co2TestProcedure,
    Origin,
    ProviderKind,
    RecallState,
    RegistrationKind,
    SuspectedCause,
    Unit,
)

WORK_KEPT_BYTES = 160
"""The UTF-8 bytes of a reading's work description kept in the state and shown (a submission may hold 2,000
characters: ``schemas.limits``; the whole text stays on the input topic). With the bounds of one VIN
(``VehicleBounds``), 1,100 readings with as many different descriptions keep a state under Kafka's 1 MB
(``tests/unit/streams/domain/test_bounds.py``)."""


def kept_work(description: str | None) -> str | None:
    """A work description as the state keeps it: white space collapsed, cut to :data:`WORK_KEPT_BYTES` of
    UTF-8 on a character boundary (an ellipsis marks the cut), ``None`` when empty."""
    if description is None:
        return None
    text = " ".join(description.split())
    if not text:
        return None
    data = text.encode("utf-8")
    if len(data) <= WORK_KEPT_BYTES:
        return text
    return data[: WORK_KEPT_BYTES - 3].decode("utf-8", "ignore").rstrip() + "…"


MARKER_KINDS = frozenset({AnomalyKind.ODOMETER_REPLACED, AnomalyKind.COUNTER_WRAPPED})
"""No-judgment markers (R6, R7): shown, never fraud, never blamed on a provider."""


@dataclass(frozen=True, slots=True)
class StoredReading:
    """One reading as the provider typed it (``value`` in ``unit``), after any correction (R5)."""

    event_id: str
    observed_at: int
    value: int
    unit: Unit
    provider_id: str
    provider_kind: ProviderKind
    origin: Origin
    submitted_at: int
    odometer_replaced: bool = False
    counter_digits: int | None = None
    error_numbers: tuple[str, ...] = ()
    """Error numbers issued about this reading (its receipt, and receipts of corrections of it)."""
    work_description: str | None = None
    """What the workshop did (R1, the digital maintenance book), at most :data:`WORK_KEPT_BYTES` kept."""


@dataclass(frozen=True, slots=True)
class RegistrationFacts:
    """The latest ``VehicleRegistration``, without the VIN (the key) and without its event id.

    "Latest" is by ``effective_at``; two different registrations at the same instant are ordered by their
    content (``order_key``), so the result never depends on arrival order and a redelivery changes nothing.
    """

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

    def order_key(self) -> tuple[int, tuple[str, ...]]:
        # The fields are scalars: read one by one (``dataclasses.astuple`` deep-copies, 10x slower).
        values = (getattr(self, name) for name in _REGISTRATION_FIELDS)
        return (self.effective_at, tuple("" if v is None else str(v) for v in values))

    @property
    def imported_second_hand(self) -> bool:
        """R8: flagged as imported used, or registered in Belgium later than its first use."""
        be = self.first_registration_be_date
        return self.imported_used or (be is not None and be > self.first_registration_date)


_REGISTRATION_FIELDS = tuple(f.name for f in fields(RegistrationFacts))


@dataclass(frozen=True, slots=True)
class RecallFact:
    """The latest status of one recall campaign (R11: recalls not carried out)."""

    campaign_id: str
    manufacturer: str
    description: str
    status: RecallState
    changed_at: int


@dataclass(frozen=True, slots=True)
class AccidentFact:
    """The latest post-accident inspection status (R11)."""

    status: AccidentInspectionState
    changed_at: int


@dataclass(frozen=True, slots=True)
class OpenAnomaly:
    """An anomaly as last emitted with status OPEN; ``(kind, blamed_event_id)`` is its identity."""

    kind: AnomalyKind
    blamed_event_id: str | None
    related_event_ids: tuple[str, ...] = ()
    cause: SuspectedCause | None = None
    suggested_value: int | None = None
    restart: bool = False
    """A ROLLBACK whose counter restarted near zero (``points.Break.restart``)."""

    @property
    def is_marker(self) -> bool:
        return self.kind in MARKER_KINDS


@dataclass(frozen=True, slots=True)
class ConfirmedReading:
    """A reading (``event_id``) confirmed by its own provider at ``confirmed_at`` (epoch ms, the earliest
    confirmation's ``submitted_at``)."""

    event_id: str
    confirmed_at: int


@dataclass(frozen=True, slots=True)
class VehicleState:
    """Everything the core remembers about one VIN. Replace, never mutate."""

    vin: str
    readings: tuple[StoredReading, ...] = ()
    rejected: tuple[StoredReading, ...] = ()
    done_ids: tuple[str, ...] = ()
    electronic_closed: tuple[str, ...] = ()
    registration: RegistrationFacts | None = None
    recalls: tuple[RecallFact, ...] = ()
    accident: AccidentFact | None = None
    anomalies: tuple[OpenAnomaly, ...] = ()
    confirmations: tuple[ConfirmedReading, ...] = ()

    @property
    def five_digit_registered(self) -> bool:
        return self.registration is not None and self.registration.counter_digits == 5


def reading_key(reading: StoredReading) -> tuple[int, str]:
    """The history order: ``(observed_at, event_id)``."""
    return (reading.observed_at, reading.event_id)


def anomaly_key(anomaly: OpenAnomaly) -> tuple[str, str]:
    return (anomaly.kind.value, anomaly.blamed_event_id or "")
