"""The same receipts whatever order a VIN's topics arrive in (#17 item 4): a fleet's registrations and
readings, each stamped with its own time, produced to the broker in two interleavings (all readings first,
then all registrations; and the other way round) before a worker starts; the receipts of the two runs are
the same, byte for byte, and no reading is judged before its registration (UNKNOWN_VEHICLE).

Without the event-time order (``CARPASS_ALIGN_WAIT_S=0``) the readings-first run judges most readings
before their registrations: the fetches bring the readings topic first."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from confluent_kafka import Producer

from schemas.catalog import TOPICS, AnyRecord, key_of
from schemas.codec import encode
from schemas.records import OdometerReading, Receipt, VehicleRegistration
from streams.kafka.clients import producer_config
from tests.integration.expected import histories, registrations_for
from tests.integration.worker_harness import local_kafka_settings, pipeline, read_topic, records_of

pytestmark = pytest.mark.integration

VEHICLES = 300


def _produce(bootstrap: str, prefix: str, records: Sequence[AnyRecord], stamp_of: dict[str, int]) -> None:
    producer = Producer(producer_config(local_kafka_settings(kafka_bootstrap_servers=bootstrap),
                                        {"linger.ms": 20}))  # fmt: skip
    for record in records:
        producer.produce(prefix + TOPICS[type(record)], key=key_of(record).encode(), value=encode(record),
                         timestamp=stamp_of[record.event_id])  # fmt: skip
    assert producer.flush(30) == 0


def _receipts(bootstrap: str, directory: Path, first: str, **settings: str) -> dict[str, bytes]:
    readings = histories(VEHICLES, seed=17)
    registrations = registrations_for(readings)
    stamps: dict[str, int] = {r.event_id: r.submitted_at for r in readings}
    stamps |= {r.event_id: r.effective_at for r in registrations}
    ordered: list[Sequence[OdometerReading | VehicleRegistration]] = [readings, registrations]
    if first == "registrations":
        ordered.reverse()
    directory.mkdir()
    with pipeline(bootstrap, directory, partitions=2, batch_max_events="50", **settings) as p:
        for records in ordered:
            _produce(bootstrap, p.prefix, records, stamps)
        p.start()
        messages = read_topic(bootstrap, p.topics.receipts, lambda m: len(m) >= len(readings), timeout_s=120,
                              check=p.assert_alive)  # fmt: skip
    receipts = {r.event_id: m.value() for r, m in zip(records_of(messages, Receipt), messages, strict=True)}
    assert len(receipts) == len(readings)
    return receipts


def _unknown(receipts: dict[str, bytes]) -> int:
    return sum(b"UNKNOWN_VEHICLE" in value for value in receipts.values())


def test_receipts_do_not_depend_on_the_order_topics_arrive_in(kafka_bootstrap: str, tmp_path: Path) -> None:
    readings_first = _receipts(kafka_bootstrap, tmp_path / "a", "readings")
    registrations_first = _receipts(kafka_bootstrap, tmp_path / "b", "registrations")
    assert _unknown(readings_first) == 0 and _unknown(registrations_first) == 0
    assert readings_first == registrations_first
