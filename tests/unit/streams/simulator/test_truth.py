"""The ground-truth document: every field survives a round trip; foreign documents are refused."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pytest

from schemas.records import Unit
from streams.simulator.truth import Cause, Fault, FaultKind, GroundTruth, TruthFormatError

TRUTH = GroundTruth(
    seed=7,
    vehicles=3,
    start=date(2016, 7, 1),
    end=date(2026, 7, 1),
    fault_rate_multiplier=10.0,
    malformed=True,
    faults=(
        Fault(
            FaultKind.ROLLBACK,
            "WVWZZZ1KZAW123456",
            "e1",
            Cause.DOMESTIC_SALE,
            True,
            1_700_000_000_000,
            "0412345678",
            212_903,
            146_022,
            Unit.KM,
            ("e0",),
            rollback_km=66_881,
        ),
        Fault(
            FaultKind.MALFORMED,
            "WVWZZZ1KZAW123456",
            "e2",
            Cause.TRUNCATED,
            True,
            topic="odometer.readings",
            payload=b"\xc3\x01\x00\xff",
        ),
        Fault(FaultKind.LATE, "VF1RFB00X56789012", "e3", Cause.BACK_DATED, True, delay_days=21),
    ),
)


def test_round_trip_through_json(tmp_path: Path) -> None:
    path = tmp_path / "truth.json"
    TRUTH.write(path)
    assert GroundTruth.read(path) == TRUTH
    document = json.loads(path.read_text())
    assert document["counts"]["ROLLBACK"] == 1 and document["counts"]["SPIKE"] == 0
    assert document["faults"][0]["observed_at"] == "2023-11-14T22:13:20.000Z"


def test_one_fault_per_line() -> None:
    out = io.StringIO()
    TRUTH.dump(out)
    assert len(out.getvalue().splitlines()) == 2 + len(TRUTH.faults)


def test_other_documents_are_refused() -> None:
    with pytest.raises(TruthFormatError, match="format"):
        GroundTruth.from_json_obj({"format": "something else"})
    broken = TRUTH.to_json_obj()
    broken["faults"][0]["kind"] = "NOT_A_KIND"
    with pytest.raises(TruthFormatError):
        GroundTruth.from_json_obj(broken)
