"""``carpass status`` against a running pipeline (#18 item 5): the topics, the group and its member, the
lag, a dead letter of the last hour and the worker's health, on one screen and as JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from streams.cli import main
from tests.integration.worker_harness import Feeder, pipeline
from tests.unit.streams.domain.builders import registration, yearly

pytestmark = pytest.mark.integration


def test_status_shows_the_group_the_lag_the_dead_letters_and_the_workers(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pipeline(kafka_bootstrap, tmp_path, partitions=2) as p:
        worker = p.start()
        feed = Feeder(p)
        feed.records([registration(), *yearly()])
        feed.raw("odometer.readings", b"X", b"not avro")
        p.wait_metric(worker, 'carpass_receipts_total{status="ACCEPTED"}', 5)
        p.wait_metric(worker, 'carpass_dead_letters_total{reason="wrong-magic",topic="odometer.readings"}', 1)
        for name, value in p.env(tmp_path / "status", 0).items():
            if name.startswith("CARPASS_"):
                monkeypatch.setenv(name, value)
        monkeypatch.delenv("CARPASS_WEB_PORT", raising=False)
        url = f"http://127.0.0.1:{p.ports[worker]}"
        assert main(["status", "--json", "--worker", url]) == 1  # the dead letter needs a look
        report = json.loads(capsys.readouterr().out)
        assert all(t["partitions"] == 2 for t in report["topics"]), report["topics"]
        (member,) = report["group"]["members"]
        assert report["group"]["state"] == "STABLE" and member["partitions"]
        readings = [row for row in report["lag"] if row["topic"] == p.topics.readings]
        assert len(readings) == 2 and sum(row["high"] for row in readings) == 6  # 5 readings and the garbage
        assert report["dead_letters_last_hour"] == {"wrong-magic": 1}
        (health,) = report["workers"]
        assert health["url"] == url and health["up"] and health["batch_failures"] == 0
        assert report["problems"] == ["1 dead letters in the last hour"]
        assert main(["status", "--worker", "http://127.0.0.1:9"]) == 1
        text = capsys.readouterr().out
        assert f"group {p.app_id}: STABLE, 1 member(s)" in text and "worker http://127.0.0.1:9: DOWN" in text
        assert "wrong-magic: 1" in text and os.environ["CARPASS_TOPIC_PREFIX"] == p.prefix
