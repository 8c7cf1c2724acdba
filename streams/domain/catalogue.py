"""The catalogue of issue codes: every ``Issue.code`` a receipt can carry (R4), with its severity and rule.

An ``ERROR`` rejects the submission: a rejected reading is not added to the history (it is kept aside so
that a correction can still fix it, R5) and a rejected correction changes nothing. ``WARNING`` issues leave
the reading in the history; the receipt is then ``ACCEPTED_WITH_WARNINGS``.

=================================  ========  ====  ========================================================
code                               severity  rule  when
=================================  ========  ====  ========================================================
INVALID_VIN_LENGTH                 ERROR     R1    the VIN is not 17 characters long
INVALID_VIN_CHARACTERS             ERROR     R1    the VIN has a character outside ISO 3779 (I, O, Q,
                                                   lower case, punctuation)
VALUE_OUT_OF_RANGE                 ERROR     R1    negative, over 2,000,000 km, or >= 100,000 on a
                                                   5-digit counter (R7)
FUTURE_DATE                        ERROR     R17   read later than it was sent (beyond a 2-hour
                                                   clock/time-zone tolerance)
BEFORE_FIRST_REGISTRATION          WARNING   R8    read before the vehicle's first registration
UNKNOWN_VEHICLE                    WARNING   R1    no registration known for the VIN (yet)
LATE_SUBMISSION                    WARNING   R2    sent after the deadline, in Belgian working days
MISSING_WORK_DESCRIPTION           WARNING   R1    a workshop reading since 2024-01-01 without work
DUPLICATE                          WARNING   R17   same provider, day and value already received; the
                                                   reading is not added twice
CONFLICTING_DUPLICATE              WARNING   R9    same provider and day, a different value (trend engine)
TREND_BREAK                        WARNING   R9    a single reading off the trend (SPIKE/DIP); the likely
                                                   right value is suggested
IMPLAUSIBLE_RATE                   WARNING   R17   more km since the previous reading than can be driven
LOWER_THAN_HISTORY                 WARNING   R9    lower than the history (first reading after a
                                                   persistent step down); the provider is not blamed
REPLACEMENT_NOT_REPORTED           WARNING   R6    the counter restarted near zero (a ROLLBACK marked
                                                   ``counter_restarted``): the garage is asked to report
                                                   the odometer replacement
CORRECTION_UNKNOWN_ERROR_NUMBER    ERROR     R5    the error number names no correctable error of the VIN
CORRECTION_ALREADY_USED            ERROR     R5    the electronic correction of this error was used; a
                                                   signed paper form is needed
CORRECTION_NOT_ALLOWED             ERROR     R5    no longer issued (receipts before 2026-12-03): an
                                                   electronic correction by another provider is now
                                                   CORRECTION_UNKNOWN_ERROR_NUMBER, naming nobody
CORRECTION_EMPTY                   ERROR     R5    neither a corrected value, a corrected date nor a
                                                   withdrawal
PLATE_NOT_RESOLVED                 ERROR     R1    a plate reading whose plate was registered to no
                                                   vehicle at the reading's date (pipeline)
HISTORY_FULL                       ERROR     R4    the vehicle's history holds the most readings one VIN
                                                   may have (``VehicleBounds.readings``): a flood on
                                                   one VIN; staff look at it
PROVIDER_NOT_REGISTERED            ERROR     R1    the provider is not in the registry of providers
                                                   when the reading was sent (pipeline with the registry)
PROVIDER_INACTIVE                  ERROR     R1    the provider is registered as inactive then
ORIGIN_NOT_ALLOWED                 ERROR     R1    the origin is not one its registered kind sends from
                                                   (``policy.ORIGINS_OF_KIND``: a garage WORKSHOP...)
PROVIDER_KIND_CORRECTED            WARNING   R1    the reading claims another kind than the registry's;
                                                   it is weighed as the registry's
=================================  ========  ====  ========================================================

Why these severities: an ERROR is kept for what makes a reading unusable or unattributable. Facts that
depend on other events (registration, history) are warnings, so that a history does not depend on the order
in which the registry learns them (a registration may arrive after the first readings, R8 imports bring
history before registration). Timeliness (R2) and the work description (R1) are obligations of the provider
(R14 counts them) whose reading is still good evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from schemas.records import Issue, Severity
from streams.domain.ids import error_number


class IssueCode(StrEnum):
    """The codes of the catalogue; the value is the ``Issue.code`` on the wire (stable)."""

    INVALID_VIN_LENGTH = "INVALID_VIN_LENGTH"
    INVALID_VIN_CHARACTERS = "INVALID_VIN_CHARACTERS"
    VALUE_OUT_OF_RANGE = "VALUE_OUT_OF_RANGE"
    FUTURE_DATE = "FUTURE_DATE"
    BEFORE_FIRST_REGISTRATION = "BEFORE_FIRST_REGISTRATION"
    UNKNOWN_VEHICLE = "UNKNOWN_VEHICLE"
    LATE_SUBMISSION = "LATE_SUBMISSION"
    MISSING_WORK_DESCRIPTION = "MISSING_WORK_DESCRIPTION"
    DUPLICATE = "DUPLICATE"
    CONFLICTING_DUPLICATE = "CONFLICTING_DUPLICATE"
    TREND_BREAK = "TREND_BREAK"
    IMPLAUSIBLE_RATE = "IMPLAUSIBLE_RATE"
    LOWER_THAN_HISTORY = "LOWER_THAN_HISTORY"
    CORRECTION_UNKNOWN_ERROR_NUMBER = "CORRECTION_UNKNOWN_ERROR_NUMBER"
    CORRECTION_ALREADY_USED = "CORRECTION_ALREADY_USED"
    CORRECTION_NOT_ALLOWED = "CORRECTION_NOT_ALLOWED"
    CORRECTION_EMPTY = "CORRECTION_EMPTY"
    PLATE_NOT_RESOLVED = "PLATE_NOT_RESOLVED"
    HISTORY_FULL = "HISTORY_FULL"
    REPLACEMENT_NOT_REPORTED = "REPLACEMENT_NOT_REPORTED"
    PROVIDER_NOT_REGISTERED = "PROVIDER_NOT_REGISTERED"
    PROVIDER_INACTIVE = "PROVIDER_INACTIVE"
    ORIGIN_NOT_ALLOWED = "ORIGIN_NOT_ALLOWED"
    PROVIDER_KIND_CORRECTED = "PROVIDER_KIND_CORRECTED"


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """One documented issue: ``template`` is formatted with the keyword arguments of :func:`make_issue`."""

    code: IssueCode
    severity: Severity
    rule: str
    template: str


_W, _E = Severity.WARNING, Severity.ERROR

CATALOGUE: dict[IssueCode, CatalogueEntry] = {
    entry.code: entry
    for entry in (
        CatalogueEntry(IssueCode.INVALID_VIN_LENGTH, _E, "R1", "VIN {vin!r} has {length} characters, not 17"),
        CatalogueEntry(
            IssueCode.INVALID_VIN_CHARACTERS,
            _E,
            "R1",
            "VIN {vin!r} has characters outside ISO 3779 (digits and capitals except I, O, Q): {bad}",
        ),
        CatalogueEntry(
            IssueCode.VALUE_OUT_OF_RANGE, _E, "R1", "odometer value {value} {unit} is out of range: {why}"
        ),
        CatalogueEntry(IssueCode.FUTURE_DATE, _E, "R17", "read at {observed} but sent at {submitted}"),
        CatalogueEntry(
            IssueCode.BEFORE_FIRST_REGISTRATION,
            _W,
            "R8",
            "read on {observed}, before the first registration on {first_registration}",
        ),
        CatalogueEntry(IssueCode.UNKNOWN_VEHICLE, _W, "R1", "no registration is known for VIN {vin!r}"),
        CatalogueEntry(
            IssueCode.LATE_SUBMISSION,
            _W,
            "R2",
            "read on {observed}, sent {working_days} working day(s) later; allowed: {allowed}",
        ),
        CatalogueEntry(
            IssueCode.MISSING_WORK_DESCRIPTION,
            _W,
            "R1",
            "a workshop reading since 2024-01-01 must describe the work done",
        ),
        CatalogueEntry(
            IssueCode.DUPLICATE,
            _W,
            "R17",
            "the same value was already sent by this provider for this day (event {original}); not added",
        ),
        CatalogueEntry(
            IssueCode.CONFLICTING_DUPLICATE,
            _W,
            "R9",
            "this provider sent a different value for the same day; the history keeps both until corrected",
        ),
        CatalogueEntry(
            IssueCode.TREND_BREAK,
            _W,
            "R9",
            "{value} {unit} breaks the vehicle's trend ({kind}, likely {cause}){suggestion}",
        ),
        CatalogueEntry(
            IssueCode.IMPLAUSIBLE_RATE,
            _W,
            "R17",
            "{value} {unit} means more km since the previous reading than can be driven{suggestion}",
        ),
        CatalogueEntry(
            IssueCode.LOWER_THAN_HISTORY,
            _W,
            "R9",
            "{value} {unit} is lower than the vehicle's history; recorded as read",
        ),
        CatalogueEntry(
            IssueCode.REPLACEMENT_NOT_REPORTED,
            _W,
            "R6",
            "{value} {unit} starts the vehicle's counter again near zero: if its odometer was replaced, "
            "report the replacement (R6: the replacement tick box on the reading); if not, correct the "
            "value read (a trip meter?); recorded as read",
        ),
        CatalogueEntry(
            IssueCode.CORRECTION_UNKNOWN_ERROR_NUMBER,
            _E,
            "R5",
            "error number {number} names no correctable error of VIN {vin!r}",
        ),
        CatalogueEntry(
            IssueCode.CORRECTION_ALREADY_USED,
            _E,
            "R5",
            "error {number} can no longer be corrected electronically; send the signed correction form",
        ),
        CatalogueEntry(
            IssueCode.CORRECTION_NOT_ALLOWED,
            _E,
            "R5",
            "only provider {provider} that sent the reading may correct it electronically",
        ),
        CatalogueEntry(
            IssueCode.CORRECTION_EMPTY,
            _E,
            "R5",
            "a correction needs a corrected value, a corrected date or a withdrawal",
        ),
        CatalogueEntry(
            IssueCode.PLATE_NOT_RESOLVED,
            _E,
            "R1",
            "plate {plate!r} was registered to no known vehicle on {observed}",
        ),
        CatalogueEntry(
            IssueCode.PROVIDER_NOT_REGISTERED,
            _E,
            "R1",
            "provider {provider} is not in the registry of providers on {submitted}: ask Car-Pass to "
            "register it, then send the reading again",
        ),
        CatalogueEntry(
            IssueCode.PROVIDER_INACTIVE,
            _E,
            "R1",
            "provider {provider} is registered as inactive since {since}: its readings are not accepted",
        ),
        CatalogueEntry(
            IssueCode.ORIGIN_NOT_ALLOWED,
            _E,
            "R1",
            "a {kind} sends readings from {allowed}, not {origin}: send it with its own origin",
        ),
        CatalogueEntry(
            IssueCode.PROVIDER_KIND_CORRECTED,
            _W,
            "R1",
            "the reading says its provider is a {claimed}; the registry of providers says {kind}, and it is "
            "weighed as one",
        ),
        CatalogueEntry(
            IssueCode.HISTORY_FULL,
            _E,
            "R4",
            "the history of VIN {vin} holds {limit} readings, the most one vehicle may have: the reading is "
            "kept aside; contact Car-Pass",
        ),
    )
}


def severity_of(code: IssueCode) -> Severity:
    return CATALOGUE[code].severity


def make_issue(event_id: str, code: IssueCode, suggested_value: int | None = None, **params: object) -> Issue:
    """The issue ``code`` on the receipt of submission ``event_id``, numbered by :func:`ids.error_number`."""
    entry = CATALOGUE[code]
    return Issue(
        error_number=error_number(event_id, code.value),
        code=code.value,
        severity=entry.severity,
        message=entry.template.format(**params),
        suggested_value=suggested_value,
    )
