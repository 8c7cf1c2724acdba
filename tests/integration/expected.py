"""A fleet's stream, the outputs a run without any failure gives, and the check that a run gave them.

::

    histories(n) ──► readings in time order (a few typos) ─┐   registrations_for(readings)
                                                           ▼
    input topics as the broker holds them ──expected_outputs()──► {receipt bytes}, {anomaly bytes}
        (the pure core folded in partition order, Kafka timestamps as processed_at: what one worker
         that never fails writes)
    output topics ──assert_same_outputs()──► every reading has a receipt; duplicates (reprocessed
        uncommitted work) are byte-identical; the sets equal the expected ones
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from schemas.codec import decode, encode
from schemas.records import OdometerReading, Origin, ProviderKind, Receipt, VehicleRegistration
from streams.domain.calendar import MS_PER_DAY
from streams.domain.state import VehicleState
from streams.domain.vehicle import decide
from tests.integration.worker_harness import Pipeline, read_all, read_topic, records_of
from tests.unit.streams.domain.builders import registration

NS = uuid.UUID("0b7f6d1e-3c0f-4f7a-8a41-6d2c1f3b9a10")


def uid(name: str) -> str:
    return str(uuid.uuid5(NS, name))


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


def registrations_for(readings: Sequence[OdometerReading]) -> list[VehicleRegistration]:
    """A first registration for each VIN of ``readings``, a month before its first reading."""
    first: dict[str, int] = {}
    for r in readings:
        first[r.vin] = min(first.get(r.vin, r.observed_at), r.observed_at)
    out = []
    for vin, observed in first.items():
        day = observed // MS_PER_DAY - 30
        out.append(registration(event_id=uid(f"reg-{vin}"), vin=vin, effective_at=day * MS_PER_DAY,
                                first_registration_date=day))  # fmt: skip
    return out


def expected_outputs(
    bootstrap: str, p: Pipeline, count: int, registrations: Sequence[VehicleRegistration] = ()
) -> tuple[set[bytes], set[bytes]]:
    """The receipts and anomaly events of a run without a crash: ``registrations`` (processed before any
    reading was sent), then the core folded over the readings topic as the broker holds it (partition
    order, Kafka timestamps as processed_at), encoded as the worker does."""
    messages = read_topic(bootstrap, p.topics.readings, lambda m: len(m) >= count)
    states: dict[str, VehicleState] = {}
    for reg in registrations:
        states[reg.vin] = decide(states.get(reg.vin) or VehicleState(reg.vin), reg).state
    receipts, anomalies = set(), set()
    for message in messages:
        record = records_of([message], OdometerReading)[0]
        state = states.get(record.vin) or VehicleState(record.vin)
        decision = decide(state, record, processed_at=message.timestamp()[1])
        states[record.vin] = decision.state
        receipts.update(encode(r) for r in decision.receipts)
        anomalies.update(encode(a) for a in decision.anomalies)
    return receipts, anomalies


def missing_report(bootstrap: str, p: Pipeline, readings: Sequence[OdometerReading]) -> str:
    """Which readings got no receipt, where they sit, and what the workers say (for a failure message)."""
    inputs = read_all(bootstrap, p.topics.readings)
    seen = {r.event_id for r in records_of(read_all(bootstrap, p.topics.receipts), Receipt)}
    where = sorted(
        (m.partition(), m.offset())
        for m, r in zip(inputs, records_of(inputs, OdometerReading), strict=True)
        if r.event_id not in seen
    )
    metrics = [{k: v for k, v in p.metrics(i).items() if k.startswith("carpass_events_in_total")}
               for i in range(len(p.workers)) if i not in p.killed]  # fmt: skip
    ends: dict[int, int] = {}
    for m in inputs:
        ends[m.partition()] = max(ends.get(m.partition(), -1), m.offset())
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": p.app_id})
    try:
        parts = [TopicPartition(p.topics.readings, i) for i in sorted({part for part, _ in where})]
        committed = {tp.partition: tp.offset for tp in consumer.committed(parts, timeout=10)}
    finally:
        consumer.close()
    return (f"missing (partition, offset): {where[:20]} ({len(where)}); last offsets {ends}; the group's "
            f"committed offsets there: {committed}; workers: {metrics}")


def assert_same_outputs(
    bootstrap: str, p: Pipeline, readings: Sequence[OdometerReading], expected: tuple[set[bytes], set[bytes]],
    timeout_s: float = 120.0, check: Callable[[], None] | None = None,
) -> list[Any]:  # fmt: skip
    """Every reading got its receipt, nothing was lost or changed: deduplicated by id, the receipts and
    the anomaly events are exactly the ``expected`` ones (a duplicate of reprocessed uncommitted work
    is allowed only byte for byte). Returns the receipt messages."""
    expected_receipts, expected_anomalies = expected
    try:
        got = read_topic(bootstrap, p.topics.receipts,
                         lambda m: len({r.event_id for r in records_of(m, Receipt)}) >= len(readings),
                         timeout_s=timeout_s, check=check)  # fmt: skip
    except AssertionError as exc:
        raise AssertionError(f"{exc}; {missing_report(bootstrap, p, readings)}") from exc
    values: dict[str, set[bytes]] = defaultdict(set)
    for message, receipt in zip(got, records_of(got, Receipt), strict=True):
        values[receipt.event_id].add(message.value())
    assert {eid: len(v) for eid, v in values.items() if len(v) > 1} == {}  # no differing duplicate
    got_receipts = {v for vs in values.values() for v in vs}
    assert got_receipts == expected_receipts, _receipts_diff(got_receipts, expected_receipts)
    anomalies = read_topic(
        bootstrap, p.topics.anomalies, lambda m: {x.value() for x in m} >= expected_anomalies, 30
    )
    assert {m.value() for m in anomalies} == expected_anomalies
    assert len(got) >= len(readings)
    return got


def _receipts_diff(got: set[bytes], expected: set[bytes], shown: int = 3) -> str:
    """The receipts that differ from a run without failure, side by side (for a failure message)."""
    theirs = {r.event_id: r for r in (decode(v, Receipt) for v in expected - got)}
    ours = {r.event_id: r for r in (decode(v, Receipt) for v in got - expected)}
    lines = [f"{len(ours)} receipts differ from a run without the failure, {len(theirs)} expected not seen"]
    for event_id in sorted(set(ours) & set(theirs))[:shown]:
        lines += [f"  {event_id}", f"    got      {ours[event_id]}", f"    expected {theirs[event_id]}"]
    return "\n".join(lines)
