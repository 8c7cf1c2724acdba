"""``streams.domain.offline`` and ``carpass judge``: JSON Lines in, a report or JSON out."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from schemas.jsonl import to_json_obj
from schemas.records import (
    AccidentInspectionState,
    AccidentInspectionStatus,
    AnomalyEvent,
    Judgment,
    RecallState,
    RecallStatus,
    Receipt,
)
from streams.cli import main
from streams.domain.ids import error_number
from streams.domain.offline import VehicleSummary, event_time, judge
from tests.unit.streams.domain.builders import VIN, at, correction, reading, registration, yearly

OTHER_VIN = "VF1RFB00X56789012"


@pytest.fixture(autouse=True)
def cleared_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CARPASS_") or name == "KAFKA_BOOTSTRAP_SERVERS":
            monkeypatch.delenv(name)


def log() -> list[object]:
    other = [
        reading(f"o{i}", r.odometer_value + 1_000, "2019-06-03", vin=OTHER_VIN, observed_at=r.observed_at + 1)
        for i, r in enumerate(yearly(3))
    ]
    return [
        other[0],
        registration(),
        *yearly(2),
        other[1],
        reading("r3", 452_100, "2021-03-08"),
        other[2],
        correction("c1", "r3", "TREND_BREAK", corrected_value=45_210),
    ]


def test_outputs_come_in_order_then_one_summary_per_vin_in_order_of_appearance() -> None:
    outputs = list(judge(log()))  # type: ignore[arg-type]
    kinds = [(type(o).__name__, getattr(o, "event_id", getattr(o, "vin", None))) for o in outputs]
    assert [k for k, _ in kinds] == ["Receipt"] * 5 + [
        "AnomalyEvent",
        "Receipt",
        "Receipt",
        "AnomalyEvent",
        "VehicleSummary",
        "VehicleSummary",
    ]
    summaries = [o for o in outputs if isinstance(o, VehicleSummary)]
    assert [s.vin for s in summaries] == [OTHER_VIN, VIN]
    mine = summaries[1]
    assert (mine.judgment, mine.reasons, mine.open_anomalies, mine.readings_used) == (
        Judgment.LOGICAL,
        (),
        (),
        ("r1", "r2", "r3"),
    )


def test_outputs_are_stamped_with_the_events_own_time() -> None:
    outputs = list(judge(log()))  # type: ignore[arg-type]
    receipt = next(o for o in outputs if isinstance(o, Receipt) and o.event_id == "r3")
    spike = next(o for o in outputs if isinstance(o, AnomalyEvent))
    assert receipt.processed_at == spike.detected_at == at("2021-03-08") + 600_000
    assert list(judge(log())) == outputs  # type: ignore[arg-type]


def test_event_time_of_every_judged_record() -> None:
    recall = RecallStatus("rc", VIN, "24A7", "VW", "airbag", RecallState.OPEN, 11)
    accident = AccidentInspectionStatus("ax", VIN, AccidentInspectionState.REQUIRED, "x", 12)
    assert [event_time(e) for e in (recall, accident, registration())] == [11, 12, at("2018-03-01")]
    assert event_time(correction("c", "r", "DUPLICATE")) == at("2025-01-06T10:00")


def test_summary_lists_the_open_anomalies() -> None:
    (*_, summary) = judge([*yearly(2), reading("r3", 452_100, "2021-03-08")])
    assert isinstance(summary, VehicleSummary) and summary.judgment is Judgment.ILLOGICAL
    (anomaly,) = summary.open_anomalies
    assert (anomaly.kind, anomaly.blamed_event_id, anomaly.suspected_cause, anomaly.suggested_value) == (
        "SPIKE",
        "r3",
        "EXTRA_DIGIT",
        45_210,
    )


def write_log(path: Path, records: list[object]) -> None:
    path.write_text("".join(json.dumps(to_json_obj(r)) + "\n" for r in records))  # type: ignore[arg-type]


def test_cli_judges_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "events.jsonl"
    write_log(path, log())
    assert main(["judge", "--json", str(path)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["type"] for line in lines][-2:] == ["VehicleSummary", "VehicleSummary"]
    spike = next(line for line in lines if line["type"] == "AnomalyEvent")
    assert spike["observed_at"] == "2021-03-08T09:30:00.000Z" and spike["status"] == "OPEN"
    assert lines[-1] == {
        "type": "VehicleSummary",
        "vin": VIN,
        "judgment": "LOGICAL",
        "reasons": [],
        "open_anomalies": [],
        "readings_used": ["r1", "r2", "r3"],
    }


def test_cli_reads_standard_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "".join(json.dumps(to_json_obj(r)) + "\n" for r in yearly(1))
    monkeypatch.setattr("sys.stdin", io.StringIO("\n" + text))
    assert main(["judge", "--json", "-"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert json.loads(out[0])["issues"][0]["code"] == "UNKNOWN_VEHICLE"  # no registration in this log
    assert json.loads(out[1])["reasons"] == ["TOO_FEW_READINGS"]


def test_a_hand_written_file_works(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text(
        '{"type": "OdometerReading", "event_id": "a", "vin": "WVWZZZ1KZAW123456", "odometer_value": 1000,'
        ' "observed_at": "2023-05-02T10:00:00+02:00", "submitted_at": "2023-05-02T10:05:00+02:00",'
        ' "provider_id": "0412345678", "provider_kind": "GARAGE", "origin": "WORKSHOP"}\n'
    )
    assert main(["judge", "--json", str(path)]) == 0
    receipt = json.loads(capsys.readouterr().out.splitlines()[0])
    assert receipt["issues"][0]["code"] == "UNKNOWN_VEHICLE"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"type": "OdometerReading", "event_id": "a"}', "line 2: "),
        ("{", "line 2: invalid JSON"),
        (
            '{"type": "PlateOdometerReading", "event_id": "p", "plate": "1-ABC-123", "odometer_value": 1, '
            '"observed_at": "2024-01-01T00:00:00Z", "submitted_at": "2024-01-01T00:00:00Z", '
            '"provider_id": "0412345678", "provider_kind": "GARAGE", "origin": "WORKSHOP"}',
            "line 2: PlateOdometerReading is not judged",
        ),
    ],
)
def test_bad_input_stops_with_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(to_json_obj(yearly(1)[0])) + "\n" + line + "\n")
    assert main(["judge", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and message in err


def test_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["judge", str(tmp_path / "none.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_help_shows_an_input_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["judge", "--help"])
    out = capsys.readouterr().out
    assert '"type": "OdometerReading"' in out and "carpass judge" in out


def test_the_report_reads_as_a_person_would_ask(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Per VIN: the judgment, each reading with its receipt and the blamed one marked, the open anomaly in
    words with its suggested value, the receipts' issues with their error numbers."""
    path = tmp_path / "events.jsonl"
    write_log(path, [registration(), *yearly(3), reading("typo", 607_300, "2022-03-07"),
                     reading("r5", 75_020, "2023-03-06")])  # fmt: skip
    assert main(["judge", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{VIN}: ILLOGICAL (SPIKE)\n")
    typo_row = next(line for line in out.splitlines() if "607,300" in line)
    assert "ACCEPTED_WITH_WARNINGS" in typo_row and typo_row.endswith("<- SPIKE")
    assert "did the provider mean 60,730?" in out and "likely a digit too many" in out
    assert error_number("typo", "TREND_BREAK") in out
    assert "{" not in out  # no JSON
