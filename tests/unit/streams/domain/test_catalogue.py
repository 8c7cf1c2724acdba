"""The catalogue of issue codes (R4): documented, numbered uniquely and stably."""

from __future__ import annotations

import re

import pytest

import streams.domain.catalogue as catalogue
from schemas.records import Severity
from streams.domain.catalogue import CATALOGUE, IssueCode, make_issue
from streams.domain.ids import error_number

PARAMS = {
    "vin": "WVWZZZ1KZAW12345",
    "length": 16,
    "bad": "'O'",
    "value": 45210,
    "unit": "KM",
    "why": "negative",
    "observed": "2024-03-04",
    "submitted": "2024-03-03",
    "first_registration": "2018-03-01",
    "working_days": 2,
    "allowed": 1,
    "original": "r1",
    "kind": "SPIKE",
    "cause": "EXTRA_DIGIT",
    "suggestion": "; did you mean 45210?",
    "number": "E0123456789AB",
    "limit": "2,000",
    "provider": "0412345678",
    "plate": "1-ABC-123",
    "since": "2024-01-01T00:00:00Z",
    "origin": "INSPECTION",
    "claimed": "INSPECTION_BODY",
}


def test_every_code_has_one_entry() -> None:
    assert set(CATALOGUE) == set(IssueCode)
    assert all(entry.code is code for code, entry in CATALOGUE.items())


@pytest.mark.parametrize("code", list(IssueCode))
def test_every_code_is_documented_with_its_severity_and_rule(code: IssueCode) -> None:
    doc = catalogue.__doc__ or ""
    line = next(line for line in doc.splitlines() if line.startswith(code.value + " "))
    entry = CATALOGUE[code]
    assert entry.severity.value in line.split() and entry.rule in line.split()
    assert re.fullmatch(r"R\d+", entry.rule)


@pytest.mark.parametrize("code", list(IssueCode))
def test_every_message_formats(code: IssueCode) -> None:
    issue = make_issue("r1", code, **PARAMS)
    assert issue.code == code.value and issue.severity is CATALOGUE[code].severity
    assert issue.message and "{" not in issue.message


def test_errors_reject_what_cannot_be_used_and_warn_the_rest() -> None:
    errors = {code for code, entry in CATALOGUE.items() if entry.severity is Severity.ERROR}
    assert IssueCode.VALUE_OUT_OF_RANGE in errors and IssueCode.FUTURE_DATE in errors
    assert IssueCode.TREND_BREAK not in errors and IssueCode.LATE_SUBMISSION not in errors
    assert IssueCode.UNKNOWN_VEHICLE not in errors


def test_error_numbers_are_stable_unique_and_shaped() -> None:
    numbers = {error_number(f"r{i}", code.value) for i in range(200) for code in IssueCode}
    assert len(numbers) == 200 * len(IssueCode)
    assert all(re.fullmatch(r"E[0-9A-F]{12}", n) for n in numbers)
    assert error_number("r1", "TREND_BREAK") == error_number("r1", "TREND_BREAK")
    assert make_issue("r1", IssueCode.DUPLICATE, original="r0").error_number == error_number(
        "r1", "DUPLICATE"
    )


def test_the_suggested_value_rides_on_the_issue() -> None:
    issue = make_issue("r1", IssueCode.TREND_BREAK, 45_210, **PARAMS)
    assert issue.suggested_value == 45_210
