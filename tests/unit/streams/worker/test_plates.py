"""Plate resolution without Kafka: timelines, holders, waiting readings and their deadline."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from prometheus_client import CollectorRegistry

from schemas.codec import decode, encode
from schemas.records import (
    OdometerReading,
    Origin,
    PlateOdometerReading,
    ProviderKind,
    Receipt,
    ReceiptStatus,
    RegistrationKind,
)
from streams.domain.plates import add_registration, holder_at, intervals_of
from streams.kafka.clients import build_codec
from streams.kafka.topics import PipelineTopics
from streams.settings import Settings
from streams.worker.batch import MemorySink, MemoryStore, RawMessage
from streams.worker.metrics import WorkerMetrics
from streams.worker.plates import (
    BOOK_PENDING_BYTES,
    MARK_MARGIN_MS,
    PENDING_INDEX_KEY,
    TICK,
    PlateProcessor,
    PlateTimelineProcessor,
    mark_message,
    registration_mark,
)
from tests.unit.streams.domain.builders import at, registration

TOPICS = PipelineTopics("t-")
CODEC = build_codec(Settings.from_env({}))
CAR_A, CAR_B = "WVWZZZ1KZAW000001", "WVWZZZ1KZAW000002"
WAIT_MS = 60_000


def plate_reading(event_id: str, plate: str, observed: str, value: int = 42_000) -> PlateOdometerReading:
    observed_at = at(observed)
    return PlateOdometerReading(
        event_id=event_id, plate=plate, odometer_value=value, observed_at=observed_at,
        submitted_at=observed_at + 600_000, provider_id="0412345678", provider_kind=ProviderKind.GARAGE,
        origin=Origin.WORKSHOP, work_description="tyres",
    )  # fmt: skip


def test_a_timeline_gives_the_intervals_of_each_plate() -> None:
    timeline: list[Any] = []
    for event in (
        registration("2015-01-01", event_id="a1", plate="1-AAA-001"),
        registration("2018-06-01", event_id="a2", plate="2-BBB-002", kind=RegistrationKind.PLATE_CHANGE),
        registration("2021-01-01", event_id="a3", kind=RegistrationKind.DEREGISTRATION),
    ):
        updated = add_registration(timeline, event)
        assert updated is not None
        timeline = updated
    assert intervals_of(timeline) == {
        "1-AAA-001": [(at("2015-01-01"), at("2018-06-01"))],
        "2-BBB-002": [(at("2018-06-01"), at("2021-01-01"))],
    }
    assert add_registration(timeline, registration("2015-01-01", event_id="a1", plate="1-AAA-001")) is None


def test_a_plate_handed_on_belongs_to_the_newest_holder() -> None:
    holders = {CAR_A: [(at("2015-01-01"), None)], CAR_B: [(at("2020-01-01"), None)]}
    assert holder_at(holders, at("2019-12-31")) == CAR_A
    assert holder_at(holders, at("2020-01-02")) == CAR_B
    assert holder_at(holders, at("2014-12-31")) is None


class Plates:
    def __init__(self, registration_partitions: int = 0) -> None:
        self.store, self.sink = MemoryStore(), MemorySink()
        self.registry = CollectorRegistry()
        self.processor = PlateProcessor(
            codec=CODEC, topics=TOPICS, store=self.store, sink=self.sink,
            metrics=WorkerMetrics.create(self.registry), wait_ms=WAIT_MS,
            registration_partitions=registration_partitions,
        )  # fmt: skip
        self.offset = 0

    def reading(self, record: PlateOdometerReading, at_ms: int, key: str | None = None) -> RawMessage:
        self.offset += 1
        return RawMessage(TOPICS.plate_readings, 0, self.offset, (key or record.plate).encode(),
                          encode(record), at_ms)  # fmt: skip

    def intervals(self, vin: str, plate: str, intervals: list[Any], at_ms: int) -> RawMessage:
        self.offset += 1
        body = json.dumps({"vin": vin, "plate": plate, "intervals": intervals}).encode()
        return RawMessage(TOPICS.plate_intervals, 0, self.offset, plate.encode(), body, at_ms)

    def tick(self, at_ms: int) -> RawMessage:
        self.offset += 1
        return RawMessage(TOPICS.plate_intervals, 0, self.offset, b"", TICK, at_ms)

    def marks(self, at_ms: int, **marks: int) -> RawMessage:
        self.offset += 1
        body = mark_message({int(p.lstrip("p")): ms for p, ms in marks.items()})
        return RawMessage(TOPICS.plate_intervals, 0, self.offset, b"", body, at_ms)

    def run(self, *messages: RawMessage) -> list[Any]:
        return [record for _, record in self.processor.process(list(messages)).outputs]


def test_a_known_plate_is_resolved_at_once_with_the_same_event_id() -> None:
    p = Plates()
    now = at("2024-05-01")
    (resolved,) = p.run(
        p.intervals(CAR_A, "1-AAA-001", [[at("2015-01-01"), None]], now),
        p.reading(plate_reading("p1", "1-AAA-001", "2024-04-30"), now),
    )
    assert isinstance(resolved, OdometerReading)
    assert (resolved.event_id, resolved.vin, resolved.odometer_value) == ("p1", CAR_A, 42_000)
    topic, key, _, _ = p.sink.sent[-1]
    assert topic == TOPICS.resolved_readings and key == CAR_A.encode()


def test_a_reading_waits_for_a_late_registration() -> None:
    p = Plates()
    now = at("2024-05-01")
    assert p.run(p.reading(plate_reading("p1", "1-AAA-001", "2024-04-30"), now)) == []
    assert p.registry.get_sample_value("carpass_plate_readings_pending") == 1
    (resolved,) = p.run(p.intervals(CAR_A, "1-AAA-001", [[at("2015-01-01"), None]], now + 1_000))
    assert resolved.vin == CAR_A
    assert p.registry.get_sample_value("carpass_plate_readings_pending") == 0
    assert p.run(p.tick(now + 10 * WAIT_MS)) == []


def test_an_unknown_plate_gets_one_plate_not_resolved_receipt_after_the_wait() -> None:
    p = Plates()
    now = at("2024-05-01")
    reading = plate_reading("p1", "9-ZZZ-999", "2024-04-30")
    assert p.run(p.reading(reading, now), p.tick(now + WAIT_MS - 1)) == []
    (receipt,) = p.run(p.tick(now + WAIT_MS))
    assert isinstance(receipt, Receipt) and receipt.status is ReceiptStatus.REJECTED
    assert (receipt.event_id, receipt.vin, receipt.processed_at) == ("p1", "", now + WAIT_MS)
    assert [issue.code for issue in receipt.issues] == ["PLATE_NOT_RESOLVED"]
    topic, key, value, _ = p.sink.sent[-1]
    assert topic == TOPICS.receipts and key == b"9-ZZZ-999" and decode(value, Receipt) == receipt
    # Redelivered, or the registration arriving after the answer: nothing more.
    assert p.run(p.reading(reading, now + WAIT_MS + 5), p.tick(now + 3 * WAIT_MS)) == []
    assert p.run(p.intervals(CAR_A, "9-ZZZ-999", [[at("2015-01-01"), None]], now + 4 * WAIT_MS)) == []


def test_a_plate_reading_with_the_wrong_key_is_a_dead_letter() -> None:
    p = Plates()
    (letter,) = p.run(p.reading(plate_reading("p1", "1-AAA-001", "2024-04-30"), at("2024-05-01"), key="X"))
    assert letter.error_type == "key-mismatch"


def test_registrations_become_interval_messages_keyed_by_plate() -> None:
    store, sink = MemoryStore(), MemorySink()
    timelines = PlateTimelineProcessor(codec=CODEC, topics=TOPICS, store=store, sink=sink)

    def message(offset: int, **changes: Any) -> RawMessage:
        record = registration(**changes)
        return RawMessage(TOPICS.registrations, 0, offset, record.vin.encode(), encode(record), offset)

    first = message(1, first="2015-01-01", event_id="a1", plate="1-AAA-001")
    changed = message(2, first="2019-01-01", event_id="a2", plate="2-BBB-002")
    assert timelines.process([first, changed]) == 2
    sent = {key.decode(): json.loads(value) for _, key, value, _ in sink.sent}
    assert sent["1-AAA-001"]["intervals"] == [[at("2015-01-01"), at("2019-01-01")]]
    assert sent["2-BBB-002"]["intervals"] == [[at("2019-01-01"), None]]
    assert timelines.process([first]) == 0  # redelivered: nothing changes


def test_a_reading_waits_for_the_registration_watermark_and_goes_to_the_new_holder() -> None:
    # Bulk load: the reading is here before the registration that handed the plate to CAR_B has come
    # through the timeline agent. Resolved on arrival it would go to CAR_A and break CAR_A's history.
    p = Plates(registration_partitions=2)
    now = at("2024-05-01")
    assert p.run(
        p.intervals(CAR_A, "1-AAA-001", [[at("2015-01-01"), None]], now - 5_000),
        p.reading(plate_reading("p1", "1-AAA-001", "2024-04-30"), now),
        p.marks(now + 1_000, p0=now + 500, p1=now - 1),  # partition 1 not there yet
    ) == []
    assert p.registry.get_sample_value("carpass_plate_readings_pending") == 1
    assert p.run(p.intervals(CAR_B, "1-AAA-001", [[at("2020-01-01"), None]], now + 2_000)) == []
    (resolved,) = p.run(p.marks(now + 3_000, p1=now))
    assert (resolved.event_id, resolved.vin) == ("p1", CAR_B)
    assert p.registry.get_sample_value("carpass_plate_readings_pending") == 0
    assert p.run(p.marks(now + 4_000, p0=now + 4_000, p1=now + 4_000), p.tick(now + 10 * WAIT_MS)) == []


def test_past_the_watermark_a_known_plate_is_resolved_at_once() -> None:
    p = Plates(registration_partitions=1)
    now = at("2024-05-01")
    (resolved,) = p.run(
        p.intervals(CAR_A, "1-AAA-001", [[at("2015-01-01"), None]], now - 5_000),
        p.marks(now - 1_000, p0=now),
        p.reading(plate_reading("p1", "1-AAA-001", "2024-04-30"), now),
    )
    assert resolved.vin == CAR_A


def test_without_a_watermark_a_known_plate_is_resolved_at_its_deadline() -> None:
    # A registrations partition nobody handles: the reading waits its bounded time, no longer.
    p = Plates(registration_partitions=2)
    now = at("2024-05-01")
    assert p.run(
        p.intervals(CAR_A, "1-AAA-001", [[at("2015-01-01"), None]], now - 5_000),
        p.reading(plate_reading("p1", "1-AAA-001", "2024-04-30"), now),
        p.marks(now + 1, p0=now + 1),
        p.tick(now + WAIT_MS - 1),
    ) == []
    (resolved,) = p.run(p.tick(now + WAIT_MS))
    assert isinstance(resolved, OdometerReading) and resolved.vin == CAR_A


def test_a_registrations_partition_is_marked_by_its_progress() -> None:
    now = at("2024-05-01")
    assert registration_mark(10, now - 60_000, high=10, now_ms=now) == now - MARK_MARGIN_MS  # caught up
    assert registration_mark(7, now - 60_000, high=10, now_ms=now) == now - 60_000  # behind
    assert registration_mark(0, None, high=10, now_ms=now) is None  # nothing handled yet
    assert registration_mark(0, None, high=0, now_ms=now) == now - MARK_MARGIN_MS  # empty partition


def test_one_plate_with_too_many_readings_waiting_has_its_oldest_answered_and_its_book_bounded() -> None:
    """The incident: ~200 readings with a 2,000-character work description on one unregistered plate grew
    its book over Kafka's record limit and stalled every plate of its partition."""
    p = Plates()
    p.processor.pending_max, p.processor.answered_ids_max = 100, 120
    now = at("2024-05-01")
    long_text = "brake pads, " * 166  # 1,992 characters: within the contract's 2,000
    readings = [replace(plate_reading(f"p{i}", "9-ZZZ-999", "2024-04-30"), work_description=long_text)
                for i in range(200)]  # fmt: skip
    answers = p.run(*(p.reading(r, now + i) for i, r in enumerate(readings)))
    assert [a.event_id for a in answers] == [f"p{i}" for i in range(100)]  # the oldest, answered now
    assert all(a.status is ReceiptStatus.REJECTED and a.processed_at < now + 200 for a in answers)
    book = json.loads(p.store.data[(0, "9-ZZZ-999")])
    assert len(book["pending"]) == 100 and len(book["expired"]) == 100
    assert len(p.store.data[(0, "9-ZZZ-999")]) < 600_000
    assert p.registry.get_sample_value("carpass_plate_readings_pushed_out_total") == 100
    assert p.run(p.reading(readings[0], now + 500)) == []  # a redelivery of an answered one: nothing
    (resolved,) = p.run(p.intervals(CAR_A, "1-AAA-001", [[at("2015-01-01"), None]], now + 600),
                        p.reading(plate_reading("q1", "1-AAA-001", "2024-04-30"), now + 601))  # fmt: skip
    assert resolved.vin == CAR_A  # another plate of the partition is served as usual


def test_the_waiting_readings_of_one_plate_stay_under_the_byte_bound() -> None:
    p = Plates()
    p.processor.pending_max = 10_000  # a generous count: the bytes bound first
    now = at("2024-05-01")
    long_text = "x" * 2_000
    readings = [replace(plate_reading(f"p{i}", "9-ZZZ-999", "2024-04-30"), work_description=long_text)
                for i in range(300)]  # fmt: skip
    answers = p.run(*(p.reading(r, now + i) for i, r in enumerate(readings)))
    book = json.loads(p.store.data[(0, "9-ZZZ-999")])
    assert answers and len(book["pending"]) + len(answers) == 300
    assert sum(len(item["value"]) for item in book["pending"]) <= BOOK_PENDING_BYTES


def test_a_partition_with_too_many_plates_waiting_answers_the_longest_waiting_ones() -> None:
    p = Plates()
    p.processor.pending_plates_max = 50
    now = at("2024-05-01")
    messages = [p.reading(plate_reading(f"p{i}", f"9-ZZZ-{i:03}", "2024-04-30"), now + i) for i in range(80)]
    answers = p.run(*messages)
    assert sorted(a.event_id for a in answers) == sorted(f"p{i}" for i in range(30))  # the first 30 plates
    assert all(a.status is ReceiptStatus.REJECTED for a in answers)
    index = json.loads(p.store.data[(0, PENDING_INDEX_KEY)])
    assert len(index) == 50 and "9-ZZZ-000" not in index and "9-ZZZ-079" in index
    assert json.loads(p.store.data[(0, "9-ZZZ-000")])["pending"] == []
