"""The worker on the real broker: Avro histories in, receipts, anomalies and dead letters out; a worker
killed mid-stream and replaced (by two, with empty disks) loses nothing and repeats nothing differently."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

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
    Origin,
    ProviderKind,
    RecallState,
    RecallStatus,
    Receipt,
    ReceiptStatus,
)
from streams.domain.calendar import MS_PER_DAY
from streams.domain.ids import error_number
from streams.domain.state import VehicleState
from streams.domain.vehicle import decide
from tests.integration.worker_harness import Feeder, Pipeline, pipeline, read_all, read_topic, records_of
from tests.unit.streams.domain.builders import GARAGE, VIN, at, reading, registration, yearly

pytestmark = pytest.mark.integration

SPIKY = "WF0AXXGAJA1234567"
ROLLED = "ZFA31200000123456"
NS = uuid.UUID("0b7f6d1e-3c0f-4f7a-8a41-6d2c1f3b9a10")


def uid(name: str) -> str:
    return str(uuid.uuid5(NS, name))


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
        anomalies = records_of(
            read_topic(kafka_bootstrap, p.topics.anomalies, lambda m: len(m) >= 3), AnomalyEvent
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


def histories(vehicles: int, seed: int = 7) -> list[OdometerReading]:
    """Readings of ``vehicles`` cars in time order; a few typos so that anomalies come and go."""
    rng = random.Random(seed)
    readings = []
    for car in range(vehicles):
        vin = f"WVWZZZ1KZAW{car:06d}"
        day, km = 16_000 + rng.randrange(300), rng.randrange(10, 900)
        for index in range(rng.randint(8, 14)):
            day += rng.randint(60, 200)
            km += rng.randint(3_000, 9_000)
            value = km * 10 if rng.random() < 0.03 else km
            observed = day * MS_PER_DAY + rng.randrange(8 * 3_600_000, 17 * 3_600_000)
            readings.append(OdometerReading(
                event_id=uid(f"{car}-{index}"), vin=vin, odometer_value=value, observed_at=observed,
                submitted_at=observed + 900_000, provider_id=f"04{car % 7:08d}",
                provider_kind=ProviderKind.GARAGE, origin=Origin.WORKSHOP, work_description="service",
            ))  # fmt: skip
    return sorted(readings, key=lambda r: r.observed_at)


def expected_outputs(bootstrap: str, p: Pipeline, count: int) -> tuple[set[bytes], set[bytes]]:
    """The receipts and anomaly events of a run without a crash: the core folded over the input topic as
    the broker holds it (partition order, Kafka timestamps as processed_at), encoded as the worker does."""
    messages = read_topic(bootstrap, p.topics.readings, lambda m: len(m) >= count)
    states: dict[str, VehicleState] = {}
    receipts, anomalies = set(), set()
    for message in messages:
        record = records_of([message], OdometerReading)[0]
        state = states.get(record.vin) or VehicleState(record.vin)
        decision = decide(state, record, processed_at=message.timestamp()[1])
        states[record.vin] = decision.state
        receipts.update(encode(r) for r in decision.receipts)
        anomalies.update(encode(a) for a in decision.anomalies)
    return receipts, anomalies


def _missing(bootstrap: str, p: Pipeline, readings: list[OdometerReading]) -> str:
    """Which readings got no receipt, where they sit, and what the workers say (for a failure message)."""
    inputs = read_all(bootstrap, p.topics.readings)
    seen = {r.event_id for r in records_of(read_all(bootstrap, p.topics.receipts), Receipt)}
    where = sorted(
        (m.partition(), m.offset())
        for m, r in zip(inputs, records_of(inputs, OdometerReading), strict=True)
        if r.event_id not in seen
    )
    metrics = [{k: v for k, v in p.metrics(i).items() if k.startswith("carpass_events_in")}
               for i in range(len(p.workers))]  # fmt: skip
    return f"missing (partition, offset): {where[:20]} ({len(where)}); workers: {metrics}"


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

        def produce_steadily() -> None:  # the stream keeps flowing while the worker dies
            for start in range(100, len(readings), 50):
                feed.records(readings[start : start + 50])
                time.sleep(0.1)

        producer = threading.Thread(target=produce_steadily)
        producer.start()
        p.wait_metric(first, accepted, 600, timeout_s=60)
        p.kill(first)
        # Two new workers with empty disks: their state can only come from the changelog.
        second, third = p.start("after"), p.start("after")
        producer.join()
        expected_receipts, expected_anomalies = expected_outputs(kafka_bootstrap, p, len(readings))
        try:
            got = read_topic(kafka_bootstrap, p.topics.receipts,
                             lambda m: len({r.event_id for r in records_of(m, Receipt)}) >= len(readings),
                             timeout_s=120, check=p.assert_alive)  # fmt: skip
        except AssertionError as exc:
            raise AssertionError(f"{exc}; {_missing(kafka_bootstrap, p, readings)}") from exc
        values: dict[str, set[bytes]] = defaultdict(set)
        for message, receipt in zip(got, records_of(got, Receipt), strict=True):
            values[receipt.event_id].add(message.value())
        assert {eid: len(v) for eid, v in values.items() if len(v) > 1} == {}  # no differing duplicate
        assert {v for vs in values.values() for v in vs} == expected_receipts
        anomalies = read_topic(
            kafka_bootstrap, p.topics.anomalies, lambda m: {x.value() for x in m} >= expected_anomalies, 30
        )
        assert {m.value() for m in anomalies} == expected_anomalies
        assert len(got) >= len(readings)  # duplicates of uncommitted work are allowed (and identical)
        for index in (second, third):  # both replacements took partitions and worked
            assert sum(v for k, v in p.metrics(index).items() if k.startswith("carpass_events_in_total")) > 0
