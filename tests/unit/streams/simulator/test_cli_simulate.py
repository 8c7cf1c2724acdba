"""``carpass simulate``: JSON Lines to a file or stdout, the truth beside it, Kafka values, --judge."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pytest

from schemas.codec import decode
from schemas.errors import DecodeError
from schemas.jsonl import read_lines
from schemas.records import INPUT_TOPICS, OdometerReading, PlateOdometerReading
from streams.cli import main
from streams.cli.simulate import KafkaSink, Progress
from streams.simulator.fleet import simulate
from streams.simulator.truth import GroundTruth
from streams.simulator.world import MalformedRecord


def run(tmp_path: Path, name: str, *extra: str) -> tuple[bytes, bytes]:
    events, truth = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.json"
    code = main(
        [
            "simulate",
            "--vehicles",
            "60",
            "--seed",
            "4",
            "--years",
            "5",
            "--fault-rate-multiplier",
            "5",
            "--out",
            str(events),
            "--truth",
            str(truth),
            *extra,
        ]
    )
    assert code == 0
    return events.read_bytes(), truth.read_bytes()


def test_writes_json_lines_and_truth_identically_for_the_same_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = run(tmp_path, "a")
    assert first == run(tmp_path, "b")
    summary = capsys.readouterr().out
    assert "events in" in summary and "OdometerReading" in summary and "ROLLBACK" in summary
    records = [item for _, item in read_lines(first[0].decode().splitlines())]
    assert records and not any(isinstance(r, Exception) for r in records)
    truth = GroundTruth.from_json_obj(json.loads(first[1]))
    assert truth.vehicles == 60 and truth.seed == 4 and not truth.malformed
    ids = {getattr(r, "event_id", None) for r in records}
    assert all(f.event_id in ids for f in truth.faults)


def test_standard_output_carries_only_the_events(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--vehicles", "5", "--seed", "1", "--years", "2", "--out", "-"]) == 0
    captured = capsys.readouterr()
    assert all(json.loads(line)["type"] for line in captured.out.splitlines())
    assert "events in" in captured.err


def test_judge_prints_and_writes_the_quality(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "quality.json"
    code = main(
        [
            "simulate",
            "--vehicles",
            "40",
            "--seed",
            "2",
            "--years",
            "4",
            "--fault-rate-multiplier",
            "10",
            "--judge",
            "--report",
            str(report),
        ]
    )
    assert code == 0
    assert "detection quality" in capsys.readouterr().out
    quality = json.loads(report.read_text())
    assert set(quality) >= {"engine", "naive"} and "ROLLBACK (in the VIN)" in quality["engine"]["recall"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--vehicles", "5", "--seed", "1"], "say where the events go"),
        (["--vehicles", "0", "--seed", "1", "--judge"], "at least one vehicle"),
        (["--vehicles", "5", "--seed", "1", "--out", "x", "--report", "q.json"], "--report needs --judge"),
    ],
)
def test_user_errors_are_explained(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", *arguments]) == 2
    assert message in capsys.readouterr().err


def test_help_teaches_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    text = capsys.readouterr().out
    assert (
        "examples:" in text and "--fault-rate-multiplier 10 --kafka" in text and "carpass produce -" in text
    )


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.sent.append((topic, key, value))

    def finish(self) -> int:
        return 0


def test_kafka_sink_sends_avro_keyed_by_contract_and_malformed_bytes_as_they_are() -> None:
    from schemas.codec import DEFAULT_CODEC

    producer = FakeProducer()
    sink = KafkaSink(producer, DEFAULT_CODEC, "t.")
    simulation = simulate(120, 3, fault_rate_multiplier=30.0, malformed=True)
    records = list(simulation)
    for record in records:
        sink.write(record)
    assert sink.close() == 0
    assert len(producer.sent) == len(records)
    malformed = 0
    for (topic, key, value), record in zip(producer.sent, records, strict=True):
        if isinstance(record, MalformedRecord):
            malformed += 1
            assert topic == "t." + record.topic and value == record.value
            with pytest.raises(DecodeError):
                decode(value)
            continue
        assert topic == "t." + INPUT_TOPICS[type(record)]
        assert decode(value) == record
        expected = record.plate if isinstance(record, PlateOdometerReading) else getattr(record, "vin", None)
        if isinstance(record, OdometerReading | PlateOdometerReading):
            assert key.decode() == expected
    assert malformed == simulation.truth.counts()["MALFORMED"] > 0


def test_progress_is_one_line_redrawn_and_ends_with_a_newline() -> None:
    stream = io.StringIO()
    progress = Progress(stream)
    progress.start = date(2016, 7, 1)
    progress(0, 3652, 0)
    progress(100, 3652, 500)  # within REDRAW_S of the first: skipped
    progress(3652, 3652, 90_000)
    progress.done()
    text = stream.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n")
    assert "2016-07" in text and "2026-07" in text and "100%" in text and "90,000 events" in text
