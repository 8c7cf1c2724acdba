"""The README's hand-written examples, run through the CLI exactly as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from streams.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _judge(capsys: pytest.CaptureFixture[str], name: str) -> list[dict[str, Any]]:
    assert main(["judge", "--json", str(EXAMPLES / name)]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _latest_anomalies(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["anomaly_id"]: o for o in lines if o["type"] == "AnomalyEvent"}


def test_rollback_example_ends_with_an_open_rollback_and_the_typo_spike(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = _judge(capsys, "rollback.jsonl")
    receipts = [o for o in lines if o["type"] == "Receipt"]
    assert len(receipts) == len({r["event_id"] for r in receipts}) == 7
    open_kinds = {
        (a["kind"], a["blamed_event_id"][-2:])
        for a in _latest_anomalies(lines).values()
        if a["status"] == "OPEN"
    }
    assert open_kinds == {("ROLLBACK", "07"), ("SPIKE", "04")}
    summary = lines[-1]
    assert summary["type"] == "VehicleSummary" and summary["judgment"] == "ILLOGICAL"


def test_typo_example_is_corrected_once_and_the_second_correction_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = _judge(capsys, "typo-and-correction.jsonl")
    spike = next(o for o in lines if o["type"] == "Receipt" and o["issues"])
    assert spike["issues"][0]["code"] == "TREND_BREAK"
    assert spike["issues"][0]["suggested_value"] == 94010
    statuses = [a["status"] for a in _latest_anomalies(lines).values()]
    assert statuses == ["RESOLVED"]
    second = [o for o in lines if o["type"] == "Receipt"][-1]
    assert second["status"] == "REJECTED"
    assert second["issues"][0]["code"] == "CORRECTION_ALREADY_USED"
    assert lines[-1]["judgment"] == "LOGICAL"
