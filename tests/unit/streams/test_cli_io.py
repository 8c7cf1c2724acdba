"""``carpass produce --dry-run`` needs no broker: bad lines are reported with line and field."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from schemas.jsonl import dumps
from streams.cli import main
from tests.unit.schemas.golden_records import GOLDEN


@pytest.fixture(autouse=True)
def cleared_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CARPASS_") or name == "KAFKA_BOOTSTRAP_SERVERS":
            monkeypatch.delenv(name)


def test_dry_run_reports_bad_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = json.loads(dumps(GOLDEN["OdometerReading"]))
    bad["odometer_value"] = "12a"
    lines = [dumps(GOLDEN["OdometerReading"]), "", json.dumps(bad), dumps(GOLDEN["VehicleRegistration"]), "{"]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert main(["produce", str(path), "--dry-run"]) == 1
    out, err = capsys.readouterr()
    assert "line 3: field 'odometer_value': expected integer, got \"12a\"" in err
    assert "line 5: invalid JSON" in err
    assert out.strip() == (
        "would produce 2 records: odometer.readings 1, vehicle.registrations 1; 2 bad lines skipped"
    )


def test_dry_run_of_a_clean_file_succeeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(dumps(r) + "\n" for r in GOLDEN.values()))
    assert main(["produce", str(path), "--dry-run", "--topic-prefix", "x."]) == 0
    out, _ = capsys.readouterr()
    assert f"would produce {len(GOLDEN)} records" in out and "x.odometer.readings 1" in out


def test_not_utf8_is_a_bad_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(dumps(GOLDEN["OdometerReading"]).encode() + b"\n\xff\xfe\n")
    assert main(["produce", str(path), "--dry-run"]) == 1
    assert "line 2: not valid UTF-8" in capsys.readouterr().err


def test_missing_file_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["produce", str(tmp_path / "nope.jsonl"), "--dry-run"]) == 2
    assert "cannot read" in capsys.readouterr().err
