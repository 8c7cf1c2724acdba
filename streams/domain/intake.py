"""The checks of a submitted reading that need no trend (R1, R2, R7, R8, R17): each finding an ``Issue``.

Every check is a few comparisons on the hot path; the message (dates, formatting) is only built when the
check fails. The trend-based issues (TREND_BREAK, IMPLAUSIBLE_RATE, CONFLICTING_DUPLICATE,
LOWER_THAN_HISTORY) and DUPLICATE are decided in ``vehicle`` once the reading's place in the history is
known.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache

from schemas.records import Issue, OdometerReading, Origin, Unit
from streams.domain.calendar import MS_PER_DAY, brussels_day, date_of, working_days_after
from streams.domain.catalogue import IssueCode, make_issue
from streams.domain.history import to_km
from streams.domain.policy import ReceiptPolicy
from streams.domain.state import RegistrationFacts

VIN_LENGTH = 17
_VIN_CHARACTERS = re.compile(r"[0-9A-HJ-NPR-Z]*")
"""ISO 3779: digits and capital letters except I, O and Q (mistaken for 1 and 0)."""
_TIMELY_ORIGINS = frozenset({Origin.WORKSHOP, Origin.INSPECTION})
"""R2 binds the professionals that work on or inspect the car; connected-vehicle feeds and foreign
histories are sent by manufacturers, importers and RDW on their own schedules (R8)."""


def iso_instant(instant_ms: int) -> str:
    """``instant_ms`` as ISO-8601 UTC (for messages)."""
    return datetime.fromtimestamp(instant_ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def vin_issues(event_id: str, vin: str) -> list[Issue]:
    """R1: a VIN of 17 ISO 3779 characters."""
    if vin_is_valid(vin):
        return []
    issues = []
    if len(vin) != VIN_LENGTH:
        issues.append(make_issue(event_id, IssueCode.INVALID_VIN_LENGTH, vin=vin, length=len(vin)))
    if _VIN_CHARACTERS.fullmatch(vin) is None:
        bad = "".join(sorted({c for c in vin if _VIN_CHARACTERS.fullmatch(c) is None}))
        issues.append(make_issue(event_id, IssueCode.INVALID_VIN_CHARACTERS, vin=vin, bad=repr(bad)))
    return issues


def value_issues(
    event_id: str, value: int, unit: Unit, five_digit: bool, policy: ReceiptPolicy
) -> list[Issue]:
    """R1/R7: a value a counter can show."""
    why = None
    if value < 0:
        why = "negative"
    elif five_digit and value >= policy.five_digit_limit:
        why = f"a 5-digit counter shows at most {policy.five_digit_limit - 1}"
    elif to_km(value, unit) > policy.max_km:
        why = f"more than {policy.max_km} km"
    if why is None:
        return []
    return [make_issue(event_id, IssueCode.VALUE_OUT_OF_RANGE, value=value, unit=unit.value, why=why)]


def date_issues(
    event_id: str,
    observed_at: int,
    submitted_at: int,
    registration: RegistrationFacts | None,
    policy: ReceiptPolicy,
) -> list[Issue]:
    """R17 future date (ERROR) and R8 before first registration (WARNING)."""
    issues = []
    if observed_at > submitted_at + policy.future_tolerance_ms:
        issues.append(
            make_issue(
                event_id,
                IssueCode.FUTURE_DATE,
                observed=iso_instant(observed_at),
                submitted=iso_instant(submitted_at),
            )
        )
    if registration is not None and observed_at < (registration.first_registration_date + 1) * MS_PER_DAY:
        day = brussels_day(observed_at)
        if day < registration.first_registration_date:
            issues.append(
                make_issue(
                    event_id,
                    IssueCode.BEFORE_FIRST_REGISTRATION,
                    observed=date_of(day).isoformat(),
                    first_registration=date_of(registration.first_registration_date).isoformat(),
                )
            )
    return issues


def submission_issues(
    event_id: str,
    vin: str,
    origin: Origin,
    observed_at: int,
    submitted_at: int,
    work_description: str | None,
    registration: RegistrationFacts | None,
    policy: ReceiptPolicy,
) -> list[Issue]:
    """Obligations of the submission itself: a known vehicle (R1), on time (R2), with the work (R1)."""
    issues = []
    if registration is None:
        issues.append(make_issue(event_id, IssueCode.UNKNOWN_VEHICLE, vin=vin))
    if origin in _TIMELY_ORIGINS and submitted_at - observed_at >= MS_PER_DAY:
        # Sent within 24 hours is at most the next calendar day: never late (allowed >= 1 working day).
        observed_day = brussels_day(observed_at)
        allowed = (
            policy.late_working_days_since_2019
            if observed_day >= policy.immediate_from_day
            else policy.late_working_days_before_2019
        )
        late_by = working_days_after(observed_day, brussels_day(submitted_at))
        if late_by > allowed:
            issues.append(
                make_issue(
                    event_id,
                    IssueCode.LATE_SUBMISSION,
                    observed=date_of(observed_day).isoformat(),
                    working_days=late_by,
                    allowed=allowed,
                )
            )
    if (
        origin is Origin.WORKSHOP
        and not (work_description and work_description.strip())
        and brussels_day(observed_at) >= policy.work_description_from_day
    ):
        issues.append(make_issue(event_id, IssueCode.MISSING_WORK_DESCRIPTION))
    return issues


@lru_cache(maxsize=1024)
def vin_is_valid(vin: str) -> bool:
    return len(vin) == VIN_LENGTH and _VIN_CHARACTERS.fullmatch(vin) is not None


def reading_issues(
    vin: str,
    r: OdometerReading,
    five_digit: bool,
    registration: RegistrationFacts | None,
    policy: ReceiptPolicy,
    *,
    vin_valid: bool = False,
) -> tuple[Issue, ...]:
    """Every non-trend issue of the new reading ``r`` (catalogue order), numbered for ``r.event_id``.

    A clean reading costs a handful of comparisons: each check's cheap necessary condition is tested
    first and the detailed check (dates, messages, error numbers) only runs when it fails.
    ``vin_valid``: the caller knows ``vin`` passed R1 (the vehicle has an accepted reading), so the VIN
    check is skipped on the clean path (the detailed path checks it anyway).
    """
    value, unit, origin, description = r.odometer_value, r.unit, r.origin, r.work_description
    observed, submitted = r.observed_at, r.submitted_at
    if (
        (vin_valid or vin_is_valid(vin))
        and value >= 0
        and (
            value < policy.five_digit_limit
            if five_digit
            else (value if unit is Unit.KM else to_km(value, unit)) <= policy.max_km
        )
        and observed <= submitted + policy.future_tolerance_ms
        and registration is not None
        and observed >= (registration.first_registration_date + 1) * MS_PER_DAY
        and (submitted - observed < MS_PER_DAY or origin not in _TIMELY_ORIGINS)
        and (origin is not Origin.WORKSHOP or (description and description.strip()))
    ):
        return ()
    eid = r.event_id
    issues = vin_issues(eid, vin)
    issues += value_issues(eid, value, unit, five_digit, policy)
    issues += date_issues(eid, observed, submitted, registration, policy)
    issues += submission_issues(eid, vin, origin, observed, submitted, description, registration, policy)
    return tuple(issues)
