"""Pure view functions over the per-VIN state: the certificate (R11) and the OK label (R12).

::

    VehicleState ──certificate_view(state, as_of)──► CertificateView   (topic carpass.certificates)
                 ──ok_label_view(state, as_of)─────► OkLabelView       (topic carpass.ok-labels)
    OkLabelView | VehicleState | None
                 ──ok_label_decision(v, query_day, advertised_km)──► OkLabelDecision (at query time)

No I/O, no clock: ``as_of`` (epoch ms, the event time of the newest event folded into the state) and the
query day come in as arguments, so a replay gives the same views byte for byte. Days are ``int`` days since
1970-01-01; an instant's day is its Brussels calendar day (``streams.domain.calendar.brussels_day``).

The eight R12 rules, each giving one :class:`~schemas.views.OkLabelDenial` (in rule order):

1. ``ANOMALY_IN_HISTORY``: any open anomaly, the R6/R7 markers included (the contract lists
   ODOMETER_REPLACED and COUNTER_WRAPPED as anomaly kinds; a restarted counter cannot vouch for the
   advertised mileage).
2. ``ADVERTISED_BELOW_REGISTRY``: the advertised km are lower than the most recent reading (by
   ``(observed_at, event_id)``), converted to km. Query time only.
3. ``VIN_NOT_REGISTERED``: no state, or no DIV registration for the VIN.
4. ``OLD_WITH_FEW_READINGS``: older than 4 years (strictly after the 4th anniversary of the first
   registration) with fewer than 4 readings.
5. ``FIVE_DIGIT_ODOMETER``: a 5-digit counter, on the registration or on any reading.
6. ``YOUNG_WITH_FEW_READINGS``: not older than 4 years and fewer readings than the age requires, in
   completed months: 0-12: 1, 13-24: 2, 25-36: 3, over 36: 4.
7. ``IMPORTED_USED``: imported second-hand (R8, ``RegistrationFacts.imported_second_hand``).
8. ``NO_RECENT_READING``: the query day is 24 months or more after the most recent reading's day (without
   readings: after the first registration).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from schemas.records import AccidentInspectionState, RecallState, Unit
from schemas.views import (
    CertificateAnomaly,
    CertificateReading,
    CertificateView,
    OkLabelDenial,
    OkLabelView,
    OpenRecall,
)
from streams.domain.calendar import brussels_day, date_of, day_of
from streams.domain.history import is_five_digit, to_km
from streams.domain.ids import anomaly_id
from streams.domain.judgment import judge_state
from streams.domain.state import StoredReading, VehicleState

OLD_AGE_MONTHS = 48
"""R12.4/R12.6: "older than 4 years"."""
MIN_READINGS_OLD = 4
"""R12.4: an old vehicle needs at least this many readings."""
STALE_AFTER_MONTHS = 24
"""R12.8: no reading for 24 months."""
STATIC_DENIALS = frozenset(
    {
        OkLabelDenial.ANOMALY_IN_HISTORY,
        OkLabelDenial.VIN_NOT_REGISTERED,
        OkLabelDenial.FIVE_DIGIT_ODOMETER,
        OkLabelDenial.IMPORTED_USED,
    }
)
"""Reasons that depend only on the folded events, never on the query day or the advert (R12.1/3/5/7)."""
_RULE_ORDER = {denial: index for index, denial in enumerate(OkLabelDenial)}

DENIAL_TEXT: dict[OkLabelDenial, str] = {
    OkLabelDenial.ANOMALY_IN_HISTORY: "R12.1: the mileage history contains an anomaly",
    OkLabelDenial.ADVERTISED_BELOW_REGISTRY: "R12.2: the advertised mileage is lower than the most recent "
    "value in the registry",
    OkLabelDenial.VIN_NOT_REGISTERED: "R12.3: the VIN is not in the registry",
    OkLabelDenial.OLD_WITH_FEW_READINGS: "R12.4: the vehicle is older than 4 years and has fewer than 4 "
    "readings",
    OkLabelDenial.FIVE_DIGIT_ODOMETER: "R12.5: the vehicle has a 5-digit odometer",
    OkLabelDenial.YOUNG_WITH_FEW_READINGS: "R12.6: the vehicle has fewer readings than its age requires",
    OkLabelDenial.IMPORTED_USED: "R12.7: the vehicle was imported second-hand",
    OkLabelDenial.NO_RECENT_READING: "R12.8: no reading was received for 24 months",
}
"""One sentence per denial, for people (the enum value is the stable code)."""


# --- calendar ------------------------------------------------------------------------------------------


def add_months(day: int, months: int) -> int:
    """``day`` plus ``months`` calendar months, the day of month clamped to the target month's end."""
    d = date_of(day)
    index = d.year * 12 + d.month - 1 + months
    year, month0 = divmod(index, 12)
    next_first = date(year + (month0 + 1) // 12, (month0 + 1) % 12 + 1, 1)
    last_dom = (next_first - date(year, month0 + 1, 1)).days
    return day_of(date(year, month0 + 1, min(d.day, last_dom)))


def completed_months(start_day: int, end_day: int) -> int:
    """Whole calendar months from ``start_day`` to ``end_day`` (0 when ``end_day`` is not later)."""
    if end_day <= start_day:
        return 0
    s, e = date_of(start_day), date_of(end_day)
    months = (e.year - s.year) * 12 + e.month - s.month
    if add_months(start_day, months) > end_day:
        months -= 1
    return months


def required_readings(age_months: int) -> int:
    """R12.6: the readings a vehicle of ``age_months`` completed months needs (4 from 37 months on)."""
    if age_months <= 12:
        return 1
    if age_months <= 24:
        return 2
    if age_months <= 36:
        return 3
    return MIN_READINGS_OLD


# --- certificate (R11) ---------------------------------------------------------------------------------


def state_as_of(state: VehicleState) -> int:
    """A lower bound of the newest event time folded into ``state`` (epoch ms), from what it stores:
    readings' ``submitted_at``, the registration's ``effective_at``, recalls' and the accident status's
    ``changed_at`` (a correction's own time is not stored). For views built outside the stream."""
    times = [r.submitted_at for r in (*state.readings, *state.rejected)]
    times += [r.changed_at for r in state.recalls]
    if state.registration is not None:
        times.append(state.registration.effective_at)
    if state.accident is not None:
        times.append(state.accident.changed_at)
    return max(times, default=0)


def latest_reading(state: VehicleState) -> StoredReading | None:
    """The most recent reading by ``(observed_at, event_id)`` (``state.readings`` is sorted so)."""
    return state.readings[-1] if state.readings else None


def has_five_digit_counter(state: VehicleState) -> bool:
    """R7: a 5-digit counter on the registration or on any reading."""
    registered = state.five_digit_registered
    return registered or any(is_five_digit(r, registered) for r in state.readings)


def certificate_view(state: VehicleState, as_of: int) -> CertificateView:
    """Everything R11 lists for ``state``'s vehicle, as of event time ``as_of`` (epoch ms).

    Readings oldest first with their counter segment (+1 per replacement, R6), whether an open trend
    break blames them and when their provider confirmed them (``odometer.confirmations``);
    ``open_anomalies`` lists every open anomaly, the R6/R7 markers included; ``open_recalls`` the
    campaigns whose latest status is OPEN.
    """
    blamed = {a.blamed_event_id for a in state.anomalies if not a.is_marker and a.blamed_event_id}
    confirmed = {c.event_id: c.confirmed_at for c in state.confirmations}
    observed = {r.event_id: r.observed_at for r in state.readings}
    readings: list[CertificateReading] = []
    segment = 0
    for index, r in enumerate(state.readings):
        if r.odometer_replaced and index > 0:
            segment += 1
        readings.append(
            CertificateReading(
                event_id=r.event_id,
                observed_at=r.observed_at,
                odometer_value=r.value,
                origin=r.origin,
                provider_kind=r.provider_kind,
                unit=r.unit,
                odometer_replaced=r.odometer_replaced,
                counter_segment=segment,
                in_open_anomaly=r.event_id in blamed,
                confirmed_by_provider_at=confirmed.get(r.event_id),
                work_description=r.work_description,
            )
        )
    anomalies = tuple(
        CertificateAnomaly(
            anomaly_id=anomaly_id(state.vin, a.kind.value, a.blamed_event_id),
            kind=a.kind,
            blamed_event_id=a.blamed_event_id,
            observed_at=observed.get(a.blamed_event_id or ""),
            suspected_cause=a.cause,
            suggested_value=a.suggested_value,
            counter_restarted=a.restart,
        )
        for a in state.anomalies
    )
    recalls = tuple(
        OpenRecall(r.campaign_id, r.manufacturer, r.description, r.changed_at)
        for r in sorted(state.recalls, key=lambda f: f.campaign_id)
        if r.status is RecallState.OPEN
    )
    verdict = judge_state(state)
    reg = state.registration
    five = has_five_digit_counter(state)
    digits = 5 if five else (reg.counter_digits if reg is not None else None)
    accident = state.accident is not None and state.accident.status is AccidentInspectionState.REQUIRED
    return CertificateView(
        vin=state.vin,
        as_of=as_of,
        judgment=verdict.judgment,
        plate=reg.plate if reg else None,
        make=reg.make if reg else None,
        model=reg.model if reg else None,
        vehicle_category=reg.vehicle_category if reg else None,
        first_registration_date=reg.first_registration_date if reg else None,
        first_registration_be_date=reg.first_registration_be_date if reg else None,
        imported_used=reg.imported_second_hand if reg else False,
        import_country=reg.import_country if reg else None,
        euro_norm=reg.euro_norm if reg else None,
        co2_g_km=reg.co2_g_km if reg else None,
        co2_test_procedure=reg.co2_test_procedure if reg else None,
        fuel_type=reg.fuel_type if reg else None,
        electric_motor=reg.electric_motor if reg else None,
        electric_range_km=reg.electric_range_km if reg else None,
        counter_digits=digits,
        readings=tuple(readings),
        judgment_reasons=verdict.reasons,
        open_anomalies=anomalies,
        open_recalls=recalls,
        accident_inspection_required=accident,
    )


# --- OK label (R12) ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OkLabelDecision:
    """The OK label for one advert at one query day: granted iff ``denial_reasons`` is empty.

    ``denial_reasons`` in R12 order; ``explanations`` one sentence each (``DENIAL_TEXT``).
    ``advertised_km`` None means the advert's mileage was not given, so R12.2 was not checked.
    """

    vin: str
    query_day: int
    advertised_km: int | None
    eligible: bool
    denial_reasons: tuple[OkLabelDenial, ...]
    most_recent_km: int | None
    reading_count: int

    @property
    def explanations(self) -> tuple[str, ...]:
        return tuple(DENIAL_TEXT[d] for d in self.denial_reasons)


def _static_denials(state: VehicleState) -> list[OkLabelDenial]:
    reasons: list[OkLabelDenial] = []
    if state.anomalies:
        reasons.append(OkLabelDenial.ANOMALY_IN_HISTORY)
    if state.registration is None:
        reasons.append(OkLabelDenial.VIN_NOT_REGISTERED)
    if has_five_digit_counter(state):
        reasons.append(OkLabelDenial.FIVE_DIGIT_ODOMETER)
    if state.registration is not None and state.registration.imported_second_hand:
        reasons.append(OkLabelDenial.IMPORTED_USED)
    return reasons


def _dated_denials(
    first_registration: int | None, reading_count: int, latest_observed_at: int | None, query_day: int
) -> list[OkLabelDenial]:
    """R12.4, R12.6 and R12.8 at ``query_day``."""
    reasons: list[OkLabelDenial] = []
    if first_registration is not None:
        older = query_day > add_months(first_registration, OLD_AGE_MONTHS)
        if older and reading_count < MIN_READINGS_OLD:
            reasons.append(OkLabelDenial.OLD_WITH_FEW_READINGS)
        needed = required_readings(completed_months(first_registration, query_day))
        if not older and reading_count < needed:
            reasons.append(OkLabelDenial.YOUNG_WITH_FEW_READINGS)
    reference = brussels_day(latest_observed_at) if latest_observed_at is not None else first_registration
    if reference is not None and query_day >= add_months(reference, STALE_AFTER_MONTHS):
        reasons.append(OkLabelDenial.NO_RECENT_READING)
    return reasons


def _ordered(reasons: list[OkLabelDenial]) -> tuple[OkLabelDenial, ...]:
    return tuple(sorted(set(reasons), key=_RULE_ORDER.__getitem__))


def ok_label_view(state: VehicleState, as_of: int) -> OkLabelView:
    """The OK label as of event time ``as_of`` (epoch ms) without the advert (R12.2 is query-time only);
    the dated rules (R12.4/6/8) are evaluated at ``as_of``'s Brussels day."""
    latest = latest_reading(state)
    reg = state.registration
    first = reg.first_registration_date if reg is not None else None
    reasons = _static_denials(state)
    reasons += _dated_denials(
        first, len(state.readings), latest.observed_at if latest else None, brussels_day(as_of)
    )
    denials = _ordered(reasons)
    return OkLabelView(
        vin=state.vin,
        as_of=as_of,
        eligible=not denials,
        denial_reasons=denials,
        most_recent_value=latest.value if latest else None,
        most_recent_unit=latest.unit if latest else None,
        most_recent_observed_at=latest.observed_at if latest else None,
        reading_count=len(state.readings),
        first_registration_date=first,
    )


def ok_label_decision(
    subject: OkLabelView | VehicleState | None,
    query_day: int,
    advertised_km: int | None,
    *,
    vin: str = "",
) -> OkLabelDecision:
    """R12 for an advert showing ``advertised_km`` km, at ``query_day`` (days since 1970-01-01).

    ``subject`` is the stored label view (its static reasons are kept, the dated ones re-evaluated at
    ``query_day``), the vehicle state, or None for a VIN the registry does not know (R12.3: then ``vin``
    names it in the decision).
    """
    if subject is None:
        unknown = (OkLabelDenial.VIN_NOT_REGISTERED,)
        return OkLabelDecision(vin, query_day, advertised_km, False, unknown, None, 0)
    view = ok_label_view(subject, 0) if isinstance(subject, VehicleState) else subject
    reasons = [d for d in view.denial_reasons if d in STATIC_DENIALS]
    reasons += _dated_denials(
        view.first_registration_date, view.reading_count, view.most_recent_observed_at, query_day
    )
    most_recent_km = (
        to_km(view.most_recent_value, view.most_recent_unit or Unit.KM)
        if view.most_recent_value is not None
        else None
    )
    if advertised_km is not None and most_recent_km is not None and advertised_km < most_recent_km:
        reasons.append(OkLabelDenial.ADVERTISED_BELOW_REGISTRY)
    denials = _ordered(reasons)
    return OkLabelDecision(
        view.vin, query_day, advertised_km, not denials, denials, most_recent_km, view.reading_count
    )
