"""The worker on the real broker: Avro histories in, receipts, anomalies and dead letters out; a worker
killed mid-stream and replaced (by two, with empty disks) loses nothing and repeats nothing differently."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from schemas.codec import encode
from schemas.records import (
    AccidentInspectionState,
    AccidentInspectionStatus,
    AnomalyEvent,
    AnomalyKind,
    AnomalyStatus,
    CorrectionChannel,
    CorrectionRequest,
    DeadLetter,
    OdometerReading,
    RecallState,
    RecallStatus,
    Receipt,
    ReceiptStatus,
)
from streams.domain.ids import error_number
from tests.integration.expected import assert_same_outputs, expected_outputs, histories
from tests.integration.worker_harness import Feeder, Pipeline, pipeline, read_topic, records_of
from tests.unit.streams.domain.builders import GARAGE, VIN, at, reading, registration, yearly

pytestmark = pytest.mark.integration

SPIKY = "WF0AXXGAJA1234567"
ROLLED = "ZFA31200000123456"


def test_histories_get_receipts_anomalies_and_dead_letters(kafka_bootstrap: str, tmp_path: Path) -> None:
    with pipeline(kafka_bootstrap, tmp_path) as p:
        feed = Feeder(p)
        worker = p.start()
        regs = [
            registration(),
            registration(vin=SPIKY, event_id="reg-s"),
            registration(vin=ROLLED, event_id="reg-r"),
        ]
        feed.records(regs)
        p.wait_metric(worker, 'carpass_events_in_total{origin="",topic="vehicle.registrations"}', 3)
        spiky = [replace_vin(r, SPIKY, "s") for r in yearly(3)]
        typo = reading("s-typo", 607_300, "2022-03-07", vin=SPIKY)  # 60,730 with a digit too many
        spiky += [typo, reading("s5", 75_020, "2023-03-06", vin=SPIKY)]
        steps = [(20_000, "2018-03-05"), (40_000, "2019-03-04"), (60_000, "2020-03-02"),
                 (21_000, "2021-03-01"), (36_000, "2022-03-07"), (51_000, "2023-03-06")]  # fmt: skip
        rolled = [reading(f"o{i}", km, day, vin=ROLLED) for i, (km, day) in enumerate(steps)]
        feed.records([*yearly(), *spiky, *rolled])
        recall = RecallStatus("rc1", VIN, "C-1", "VW", "airbag", RecallState.OPEN, at("2024-01-01"))
        required = AccidentInspectionState.REQUIRED
        feed.records([recall, AccidentInspectionStatus("ac1", VIN, required, "expert", at("2024-02-01"))])
        feed.raw("odometer.readings", VIN.encode(), b"\x00\x00\x00\x00\x07garbage")
        feed.raw("odometer.readings", b"NOT-THE-VIN", encode(reading("wrongkey", 1, "2024-01-01")))
        feed.raw("vehicle.recalls", VIN.encode(), encode(registration(event_id="misplaced")))
        submissions = 5 + len(spiky) + len(rolled)
        read_topic(kafka_bootstrap, p.topics.receipts, lambda m: len(m) >= submissions, check=p.assert_alive)
        # The provider corrects its typo once it has the receipt with the error number (R5).
        fix = CorrectionRequest(
            event_id="fix", error_number=error_number("s-typo", "TREND_BREAK"), vin=SPIKY,
            channel=CorrectionChannel.ELECTRONIC, requested_by=GARAGE, submitted_at=at("2025-01-06"),
            corrected_value=60_730,
        )  # fmt: skip
        feed.records([fix])

        wanted = submissions + 1
        receipts = records_of(read_topic(kafka_bootstrap, p.topics.receipts, lambda m: len(m) >= wanted,
                                         check=p.assert_alive), Receipt)  # fmt: skip
        letters = records_of(
            read_topic(kafka_bootstrap, p.topics.dead_letters, lambda m: len(m) >= 3), DeadLetter
        )
        def both_vehicles(messages: list[Any]) -> bool:  # not "3 messages": one partition can come first
            seen = {(a.vin, a.kind, a.status) for a in records_of(messages, AnomalyEvent)}
            return (SPIKY, AnomalyKind.SPIKE, AnomalyStatus.RESOLVED) in seen and (
                ROLLED, AnomalyKind.ROLLBACK, AnomalyStatus.OPEN) in seen

        anomalies = records_of(
            read_topic(kafka_bootstrap, p.topics.anomalies, both_vehicles, check=p.assert_alive), AnomalyEvent
        )
        by_id = {r.event_id: r for r in receipts}
        assert len(by_id) == len(receipts) == wanted  # one receipt per submission, no more
        assert {by_id[f"r{i}"].status for i in range(1, 6)} == {ReceiptStatus.ACCEPTED}
        assert by_id["s-typo"].status is ReceiptStatus.ACCEPTED_WITH_WARNINGS
        assert by_id["s-typo"].issues[0].suggested_value == 60_730
        assert by_id["fix"].status is ReceiptStatus.ACCEPTED

        latest = {a.anomaly_id: a for a in anomalies}
        kinds = {(a.vin, a.kind, a.status) for a in latest.values()}
        assert (SPIKY, AnomalyKind.SPIKE, AnomalyStatus.RESOLVED) in kinds
        assert any(v == ROLLED and k is AnomalyKind.ROLLBACK and s is AnomalyStatus.OPEN for v, k, s in kinds)

        assert sorted(d.error_type for d in letters) == ["key-mismatch", "unexpected-type", "unknown-schema"]
        garbage = next(d for d in letters if d.error_type == "unknown-schema")
        assert (
            garbage.original_value == b"\x00\x00\x00\x00\x07garbage" and garbage.original_key == VIN.encode()
        )
        assert garbage.topic == p.topics.readings and garbage.offset >= 0

        metrics = p.metrics(worker)
        assert metrics['carpass_receipts_total{status="ACCEPTED"}'] >= 6
        assert metrics['carpass_dead_letters_total{reason="key-mismatch",topic="odometer.readings"}'] == 1
        assert metrics['carpass_anomalies_total{kind="SPIKE",status="RESOLVED"}'] == 1
        assert p.workers[worker].poll() is None


def replace_vin(r: OdometerReading, vin: str, tag: str) -> OdometerReading:
    return replace(r, vin=vin, event_id=f"{tag}{r.event_id}")


# --- crash and restart --------------------------------------------------------------------------------


def test_a_killed_worker_is_replaced_by_two_and_nothing_is_lost_or_changed(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    readings = histories(160)
    with pipeline(kafka_bootstrap, tmp_path, batch_max_events="100") as p:
        feed = Feeder(p)
        first = p.start()
        accepted = 'carpass_receipts_total{status="ACCEPTED_WITH_WARNINGS"}'  # no registrations: warnings
        feed.records(readings[:100])
        p.wait_metric(first, accepted, 100, timeout_s=90)

        tail = len(readings) - 200  # held back until both replacements own partitions

        def produce_steadily() -> None:  # the stream keeps flowing while the worker dies
            for start in range(100, tail, 50):
                feed.records(readings[start : min(start + 50, tail)])
                time.sleep(0.1)

        producer = threading.Thread(target=produce_steadily)
        producer.start()
        p.wait_metric(first, accepted, 600, timeout_s=60)
        p.kill(first)
        # Two new workers with empty disks: their state can only come from the changelog.
        second, third = p.start("after"), p.start("after")
        producer.join()
        # On a busy machine one replacement can start so late that the other has answered everything by
        # then: the last readings wait until the two share the partitions, so that both must work.
        deadline = time.monotonic() + 120
        while not all(_input_partitions(p, index) for index in (second, third)):
            assert time.monotonic() < deadline, "the two replacements did not share the partitions in 120 s"
            p.assert_alive()
            time.sleep(0.5)
        feed.records(readings[tail:])
        expected = expected_outputs(kafka_bootstrap, p, len(readings))
        assert_same_outputs(kafka_bootstrap, p, readings, expected, check=p.assert_alive)
        for index in (second, third):  # both replacements took partitions and worked
            assert sum(v for k, v in p.metrics(index).items() if k.startswith("carpass_events_in_total")) > 0


def _input_partitions(p: Pipeline, index: int) -> set[str]:
    """The readings partitions worker ``index`` reports as its own (its lag gauge, every 5 s)."""
    lags = [k for k in p.metrics(index) if k.startswith("carpass_consumer_lag_messages{")]
    found = (re.search(r'partition="(\d+)"', k) for k in lags if 'topic="odometer.readings"' in k)
    return {m.group(1) for m in found if m is not None}


# --- the data plane under rebalances ------------------------------------------------------------------


def _committed_to_the_end(bootstrap: str, group: str, topic: str, partitions: int, timeout_s: float) -> None:
    """Wait until the group's committed offset of every partition of ``topic`` is its high watermark."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        tps = [TopicPartition(topic, partition) for partition in range(partitions)]
        ends = {tp.partition: consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in tps}
        deadline = time.monotonic() + timeout_s
        while True:
            committed = {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=10)}
            if committed == ends:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"committed {committed}, end {ends} after {timeout_s} s")
            time.sleep(0.5)
    finally:
        consumer.close()


def test_four_workers_started_together_on_a_filled_topic_answer_every_input_once_and_commit_it(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Four workers joining at once rebalance several times while the first of them already process whole
    fetches: every reading gets its receipt (a receipt went missing in 2 of 3 scaling runs before the data
    plane was the worker's own), duplicates are byte for byte, and the committed offsets reach the end."""
    readings = histories(120)
    with pipeline(kafka_bootstrap, tmp_path, batch_max_events="100") as p:
        Feeder(p).records(readings)
        workers = [p.start("w") for _ in range(4)]
        expected = expected_outputs(kafka_bootstrap, p, len(readings))
        assert_same_outputs(kafka_bootstrap, p, readings, expected, timeout_s=240, check=p.assert_alive)
        _committed_to_the_end(kafka_bootstrap, p.app_id, p.topics.readings, p.partitions, timeout_s=60)
        busy = [i for i in workers
                if sum(v for k, v in p.metrics(i).items() if k.startswith("carpass_events_in_total")) > 0]
        assert busy, "no worker processed anything"  # fmt: skip


def _tables(data_dir: Path, table: str) -> dict[int, dict[bytes, bytes]]:
    """A stopped worker's RocksDB files of ``table``: partition -> key -> value (Faust's keys left out)."""
    from rocksdict import AccessType, Options, Rdict

    found: dict[int, dict[bytes, bytes]] = {}
    for path in sorted(data_dir.rglob(f"{table}-*.db")):
        db = Rdict(str(path), Options(raw_mode=True), access_type=AccessType.read_only())
        found[int(path.name.removesuffix(".db").rsplit("-", 1)[1])] = {
            k: v for k, v in db.items() if not k.startswith(b"__faust")
        }
        db.close()
    return found


def test_a_standby_holds_the_same_states_as_the_active_copy(kafka_bootstrap: str, tmp_path: Path) -> None:
    """Standby changelog records are applied in bulk (``patches.apply_standby``): with two workers and a
    standby replica each, every partition of the vehicle table is on both disks with the same bytes."""
    readings = histories(60)
    with pipeline(kafka_bootstrap, tmp_path, partitions=2, standby_replicas="1") as p:
        first, second = p.start("a"), p.start("b")
        Feeder(p).records(readings)
        expected = expected_outputs(kafka_bootstrap, p, len(readings))
        assert_same_outputs(kafka_bootstrap, p, readings, expected, timeout_s=180, check=p.assert_alive)
        lag = "carpass_standby_lag_messages"
        deadline = time.monotonic() + 45
        while True:  # each worker reports its standby copy of the vehicle table caught up (every 5 s)
            series = [{k: v for k, v in p.metrics(i).items() if k.startswith(lag) and 'table="vehicles"' in k}
                      for i in (first, second)]  # fmt: skip
            if all(len(each) == 1 and set(each.values()) == {0.0} for each in series):
                break
            assert time.monotonic() < deadline, f"standby lag: {series}"
            time.sleep(1)
        p.stop_all()
        disks = [_tables(tmp_path / name, "vehicles") for name in (f"a-{first}", f"b-{second}")]
        assert set(disks[0]) == set(disks[1]) == {0, 1}  # each worker: one active, one standby partition
        vins = {r.vin for r in readings}
        assert {k.decode() for part in disks[0].values() for k in part} == vins
        assert disks[0] == disks[1]
