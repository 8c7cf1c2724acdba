"""The vehicle agent's batch step without Faust or Kafka: decode, group by VIN, decide, outputs first."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from schemas.catalog import TOPICS as CONTRACT_TOPICS
from schemas.catalog import AnyRecord, key_of
from schemas.codec import Codec, decode, encode
from schemas.errors import DecodeError
from schemas.records import (
    AnomalyEvent,
    AnomalyKind,
    AnomalyStatus,
    CorrectionChannel,
    CorrectionRequest,
    DeadLetter,
    Receipt,
    ReceiptStatus,
)
from streams.domain.state import VehicleState
from streams.kafka.clients import build_codec
from streams.kafka.topics import PipelineTopics
from streams.settings import Settings
from streams.state.codec import decode_state
from streams.worker.batch import (
    DEAD_LETTER_KEY_MAX_BYTES,
    DEAD_LETTER_REASON_MAX_CHARS,
    DEAD_LETTER_VALUE_MAX_BYTES,
    MemorySink,
    MemoryStore,
    RawMessage,
    RecordRefusedError,
    dead_letter,
)
from streams.worker.faust.adapters import SinkError
from streams.worker.metrics import WorkerMetrics
from streams.worker.vehicles import VehicleProcessor
from tests.unit.streams.domain.builders import VIN, at, reading, registration, yearly

PREFIX = "t-"
TOPICS = PipelineTopics(PREFIX)
OTHER_VIN = "VF1AB000000000001"
NOW_S = at("2025-01-10") / 1000


class Harness:
    """A processor over in-memory I/O; ``offsets`` numbers the messages as a partition would."""

    def __init__(self, store: MemoryStore | None = None, **kwargs: Any) -> None:
        self.store = store or MemoryStore()
        self.sink = MemorySink()
        self.registry = CollectorRegistry()
        self.hook_calls: list[tuple[str, VehicleState, int]] = []
        self.processor = VehicleProcessor(
            codec=build_codec(Settings.from_env({})), topics=TOPICS, store=self.store, sink=self.sink,
            metrics=WorkerMetrics.create(self.registry), clock=lambda: NOW_S,
            hooks=[lambda vin, state, as_of: self.hook_calls.append((vin, state, as_of))], **kwargs,
        )  # fmt: skip
        self.offset = 0

    def message(self, record: AnyRecord | None = None, *, topic: str | None = None, key: bytes | None = None,
                value: bytes | None = None, timestamp_ms: int | None = None) -> RawMessage:  # fmt: skip
        self.offset += 1
        if record is not None:
            topic = topic or PREFIX + _topic_of(record)
            key = key if key is not None else key_of(record).encode()
            value = value if value is not None else encode(record)
        assert topic is not None
        stamp = timestamp_ms if timestamp_ms is not None else at("2025-01-01") + self.offset
        return RawMessage(topic, 0, self.offset, key, value, stamp)

    def run(self, records: Iterable[AnyRecord | RawMessage]) -> list[tuple[str, AnyRecord]]:
        batch = [r if isinstance(r, RawMessage) else self.message(r) for r in records]
        return self.processor.process(batch).outputs

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


def _topic_of(record: AnyRecord) -> str:
    return CONTRACT_TOPICS[type(record)]


def of_type(outputs: list[tuple[str, AnyRecord]], kind: type) -> list[Any]:
    return [record for _, record in outputs if isinstance(record, kind)]


def test_a_history_gets_one_receipt_per_reading_in_order_and_one_state_write() -> None:
    h = Harness()
    outputs = h.run([registration(), *yearly()])
    receipts = of_type(outputs, Receipt)
    assert [r.event_id for r in receipts] == ["r1", "r2", "r3", "r4", "r5"]
    assert {r.status for r in receipts} == {ReceiptStatus.ACCEPTED}
    assert all(topic == TOPICS.receipts for topic, _ in outputs)
    assert h.store.puts == 1 and h.store.flushes == 1
    state = decode_state(VIN, h.store.data[(0, VIN)])
    assert [r.event_id for r in state.readings] == ["r1", "r2", "r3", "r4", "r5"]


def test_processed_at_is_the_kafka_timestamp_not_the_clock() -> None:
    h = Harness()
    h.run([registration()])
    message = h.message(reading("r1", 15_210, "2019-03-04"), timestamp_ms=1_700_000_000_123)
    (receipt,) = of_type(h.run([message]), Receipt)
    assert receipt.processed_at == 1_700_000_000_123


def test_each_vin_is_loaded_and_stored_once_per_batch_with_its_own_order() -> None:
    h = Harness()
    other = [replace(r, vin=OTHER_VIN, event_id="o" + r.event_id) for r in yearly(3)]
    mixed = [registration(), other[0], *yearly(2), other[1], other[2]]
    outputs = h.run(mixed)
    assert h.store.puts == 2
    ids = [r.event_id for r in of_type(outputs, Receipt)]
    assert ids.index("r1") < ids.index("r2") and ids.index("or1") < ids.index("or2") < ids.index("or3")


def test_a_redelivered_batch_changes_nothing_and_says_nothing() -> None:
    h = Harness()
    batch = [h.message(r) for r in [registration(), *yearly()]]
    assert of_type(h.processor.process(batch).outputs, Receipt)
    puts = h.store.puts
    assert h.processor.process(batch).outputs == []
    assert h.store.puts == puts


def test_replaying_after_a_lost_state_write_repeats_identical_outputs() -> None:
    # A crash after the outputs were flushed but before the state was stored: the batch comes again.
    first, second = Harness(), Harness()
    batch = [first.message(r) for r in [registration(), *yearly(), reading("x", 150_000, "2023-09-01")]]
    assert first.processor.process(batch).outputs == second.processor.process(batch).outputs
    assert [value for _, _, value, _ in first.sink.sent] == [value for _, _, value, _ in second.sink.sent]


def test_outputs_are_flushed_before_any_state_is_written() -> None:
    h = Harness()
    seen_at_flush: list[int] = []

    def flush() -> None:
        seen_at_flush.append(len(h.store.data) + len(h.store.pending))

    h.sink.flush = flush  # type: ignore[method-assign]
    h.run([registration(), *yearly()])
    assert seen_at_flush == [0, 1] and h.store.data  # outputs, then what the hooks sent after the state


def test_what_the_hooks_send_is_flushed_before_the_step_returns() -> None:
    h = Harness()
    sink = h.sink
    h.processor.hooks = [lambda vin, state, as_of: sink.send("t-carpass.ok-labels", vin.encode(), b"view")]
    h.run([registration(), *yearly(2)])
    assert sink.sent[-1][0] == "t-carpass.ok-labels" and sink.flushed == len(sink.sent)


def test_hooks_see_the_stored_state_and_the_last_changing_timestamp() -> None:
    h = Harness()
    messages = [h.message(r) for r in [registration(), *yearly(2)]]
    h.processor.process(messages)
    ((vin, state, as_of),) = h.hook_calls
    assert vin == VIN and len(state.readings) == 2 and as_of == messages[-1].timestamp_ms
    assert state == decode_state(VIN, h.store.data[(0, VIN)])


def test_a_spike_is_an_open_anomaly_and_counted() -> None:
    h = Harness()
    typo = reading("r4", 607_300, "2022-03-07")  # a digit too many
    outputs = h.run([registration(), *yearly(3), typo, reading("r5", 75_020, "2023-03-06")])
    anomalies = of_type(outputs, AnomalyEvent)
    latest = {a.anomaly_id: a for a in anomalies}  # a later event for the same id supersedes
    assert [(a.kind, a.status, a.blamed_event_id) for a in latest.values()] == [
        (AnomalyKind.SPIKE, AnomalyStatus.OPEN, "r4")
    ]
    assert h.metric("carpass_anomalies_total", kind="SPIKE", status="OPEN") == len(anomalies)
    assert h.metric("carpass_receipts_total", status="ACCEPTED_WITH_WARNINGS") == 1


@pytest.mark.parametrize(
    ("value", "key", "error_type"),
    [
        (b"not avro at all", VIN.encode(), "wrong-magic"),
        (b"\xc3\x01" + bytes(8) + b"\x02", VIN.encode(), "unknown-schema"),
        (b"", VIN.encode(), "truncated"),
        (None, VIN.encode(), "null-value"),
    ],
)
def test_undecodable_values_become_dead_letters_and_the_batch_goes_on(
    value: bytes | None, key: bytes, error_type: str
) -> None:
    h = Harness()
    bad = h.message(topic=TOPICS.readings, key=key, value=value)
    outputs = h.run([registration(), bad, *yearly(2)])
    (letter,) = of_type(outputs, DeadLetter)
    assert (letter.original_value, letter.original_key, letter.topic, letter.partition, letter.offset) == (
        value, key, TOPICS.readings, 0, bad.offset,
    )  # fmt: skip
    assert letter.error_type == error_type and letter.reason
    assert letter.failed_at == bad.timestamp_ms
    assert len(of_type(outputs, Receipt)) == 2
    assert h.metric("carpass_dead_letters_total", topic="odometer.readings", reason=error_type) == 1


def test_records_that_decode_but_are_invalid_are_dead_letters() -> None:
    h = Harness()
    wrong_key = h.message(reading("r1", 15_210, "2019-03-04"), key=OTHER_VIN.encode())
    no_key = h.message(reading("r2", 30_480, "2020-03-09"), key=None)
    no_key = replace(no_key, key=None)
    wrong_type = h.message(registration(), topic=TOPICS.readings)  # a registration on the readings topic
    stray = h.message(reading("r3", 45_210, "2021-03-08"), topic="t-somewhere.else")
    outputs = h.run([wrong_key, no_key, wrong_type, stray])
    letters = of_type(outputs, DeadLetter)
    assert [d.error_type for d in letters] == ["key-mismatch", "key-mismatch", "unexpected-type",
                                               "unexpected-topic"]  # fmt: skip
    assert "is not the record's VIN" in letters[0].reason
    assert of_type(outputs, Receipt) == [] and h.store.puts == 0
    # The dead letter itself is a contract record, keyed by its source coordinates.
    topic, key, value, _ = h.sink.sent[0]
    assert topic == TOPICS.dead_letters and key == f"{TOPICS.readings}/0/{wrong_key.offset}".encode()
    assert decode(value, DeadLetter) == letters[0]


def test_a_failure_of_the_core_dead_letters_the_event_and_keeps_the_vin_going(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import streams.worker.vehicles as processor_module

    real = processor_module.decide

    def flaky(state: VehicleState, event: Any, *args: Any) -> Any:
        if event.event_id == "r2":
            raise ZeroDivisionError("bug")
        return real(state, event, *args)

    monkeypatch.setattr(processor_module, "decide", flaky)
    h = Harness()
    outputs = h.run([registration(), *yearly(3)])
    assert [r.event_id for r in of_type(outputs, Receipt)] == ["r1", "r3"]
    (letter,) = of_type(outputs, DeadLetter)
    assert letter.error_type == "processing-error" and "ZeroDivisionError" in letter.reason


def test_an_unreadable_stored_state_dead_letters_the_vins_events() -> None:
    store = MemoryStore()
    store.data[(0, VIN)] = b"\x7fcorrupt"
    h = Harness(store)
    outputs = h.run([*yearly(2)])
    assert [d.error_type for d in of_type(outputs, DeadLetter)] == ["state", "state"]
    assert store.data[(0, VIN)] == b"\x7fcorrupt"


def test_corrections_get_receipts_too() -> None:
    h = Harness()
    h.run([registration(), *yearly(3)])
    fix = CorrectionRequest(
        event_id="c1", error_number="E000000000000", vin=VIN, channel=CorrectionChannel.ELECTRONIC,
        requested_by="0412345678", submitted_at=at("2025-01-06"),
    )  # fmt: skip
    (receipt,) = of_type(h.run([fix]), Receipt)
    assert receipt.event_id == "c1" and receipt.status is ReceiptStatus.REJECTED


def test_metrics_count_events_latency_and_batches() -> None:
    h = Harness()
    h.run([registration(), *yearly(2)])
    assert h.metric("carpass_events_in_total", topic="odometer.readings", origin="WORKSHOP") == 2
    assert h.metric("carpass_events_in_total", topic="vehicle.registrations", origin="") == 1
    assert h.metric("carpass_receipts_total", status="ACCEPTED") == 2
    assert h.metric("carpass_end_to_end_latency_seconds_count") == 2
    # submitted_at of r1 is 2019-03-04 09:40; the injected clock says 2025-01-10.
    expected = (NOW_S * 1000 - at("2019-03-04") - 600_000) / 1000
    assert h.metric("carpass_end_to_end_latency_seconds_sum") >= expected
    assert h.metric("carpass_batch_size_events_count") == 1
    assert h.metric("carpass_vehicle_state_bytes_count") == 1


def test_an_oversized_record_is_a_dead_letter_cut_to_a_bound_with_its_size_and_hash() -> None:
    h = Harness(max_input_bytes=2_048)
    good = reading("r9", 15_210, "2019-03-04")
    huge = encode(good) + b"\x00" * 200_000  # would decode: the bound is checked first
    big = h.message(topic=TOPICS.readings, key=VIN.encode(), value=huge)
    long_key = h.message(topic=TOPICS.readings, key=b"K" * 5_000, value=b"\x00")
    outputs = h.run([registration(), big, long_key, *yearly(2)])
    first, second = of_type(outputs, DeadLetter)
    assert first.error_type == "oversized" and first.reason.endswith("over the limit of 2,048")
    assert first.original_value == huge[:DEAD_LETTER_VALUE_MAX_BYTES]
    assert first.original_size == len(huge) and first.original_sha256 == hashlib.sha256(huge).hexdigest()
    assert second.error_type == "oversized" and second.original_key == b"K" * DEAD_LETTER_KEY_MAX_BYTES
    assert [r.event_id for r in of_type(outputs, Receipt)] == ["r1", "r2"]  # the others go on
    assert max(len(value) for _, _, value, _ in h.sink.sent) < DEAD_LETTER_VALUE_MAX_BYTES + 4_096


def test_a_dead_letter_keeps_a_small_value_whole_and_cuts_a_long_reason() -> None:
    message = RawMessage(TOPICS.readings, 2, 7, b"k", b"abc", 1)
    letter = dead_letter(message, "x" * 10_000, "unknown-schema")
    assert letter.original_value == b"abc" and letter.original_size == 3
    assert len(letter.reason) == DEAD_LETTER_REASON_MAX_CHARS and letter.reason.endswith("…")
    empty = dead_letter(replace(message, value=None), "null", "null-value")
    assert empty.original_value is None and empty.original_size is None and empty.original_sha256 is None


class RefusingSink(MemorySink):
    """Refuses every record of one topic, as the producer refuses a record over its size limit."""

    def __init__(self, topic: str) -> None:
        super().__init__()
        self.topic = topic

    def send(self, topic: str, key: bytes, value: bytes, partition: int | None = None) -> None:
        if topic == self.topic:
            raise RecordRefusedError(f"{topic}: Message size too large")
        super().send(topic, key, value, partition)


def test_a_receipt_the_producer_refuses_becomes_the_readings_dead_letter() -> None:
    h = Harness()
    h.processor.outputs.sink = RefusingSink(TOPICS.receipts)
    batch = [h.message(r) for r in [registration(), *yearly(2)]]
    outputs = h.processor.process(batch).outputs
    letters = of_type(outputs, DeadLetter)
    assert [(d.offset, d.error_type) for d in letters] == [(m.offset, "output-refused") for m in batch[1:]]
    assert "odometer.receipts record was refused" in letters[0].reason
    assert not of_type(outputs, Receipt)
    assert h.store.data  # the readings are stored: each input has its answer, a dead letter


def test_a_dead_letter_the_producer_refuses_fails_the_batch() -> None:
    h = Harness()
    h.processor.outputs.sink = RefusingSink(TOPICS.dead_letters)
    with pytest.raises(RecordRefusedError):
        h.run([registration(), h.message(topic=TOPICS.readings, key=VIN.encode(), value=b"junk")])
    assert not h.store.data


def test_a_failed_flush_leaves_nothing_pending_and_the_batch_tried_again_gives_the_same_outputs() -> None:
    h = Harness()
    batch = [h.message(r) for r in [registration(), *yearly(3)]]
    fail = [True]

    def flush() -> None:
        if fail[0]:
            raise SinkError("outputs not delivered: broker down")

    h.sink.flush = flush  # type: ignore[method-assign]
    with pytest.raises(SinkError):
        h.processor.process(batch)
    assert not h.store.data and not h.store.pending
    fail[0] = False
    retried = h.processor.process(batch)
    assert [r.event_id for r in of_type(retried.outputs, Receipt)] == ["r1", "r2", "r3"]
    assert h.metric("carpass_end_to_end_latency_seconds_count") == 3  # the failed attempt is not counted
    assert h.metric("carpass_receipts_total", status="ACCEPTED") == 3  # counted once, when on Kafka
    assert h.metric("carpass_events_in_total", topic="odometer.readings", origin="WORKSHOP") == 3


def test_events_are_counted_once_their_state_is_stored_not_when_the_receipts_are_out() -> None:
    """A test (or an SRE) that waits for ``carpass_events_in_total`` and then asks the API for the vehicle
    must find it: the counts wait for the state, as well as the outputs."""
    h = Harness()
    batch = [h.message(r) for r in [registration(), *yearly(2)]]
    counted_when_stored: list[float] = []
    real_flush = h.store.flush

    def flush() -> None:
        counted = h.metric("carpass_events_in_total", topic="vehicle.registrations", origin="")
        counted_when_stored.append(counted)
        h.store.pending.clear()  # as the table store does: a failed flush drops its pending writes
        raise SinkError("changelog not delivered: broker down")

    h.store.flush = flush  # type: ignore[method-assign]
    with pytest.raises(SinkError):
        h.processor.process(batch)
    assert counted_when_stored == [0.0]  # receipts flushed, state not yet stored: nothing counted
    assert h.metric("carpass_end_to_end_latency_seconds_count") == 0
    h.store.flush = real_flush  # type: ignore[method-assign]
    h.processor.process(batch)
    assert h.metric("carpass_events_in_total", topic="vehicle.registrations", origin="") == 1
    assert h.metric("carpass_end_to_end_latency_seconds_count") == 2


class DownRegistry:
    """A schema registry that cannot be reached (a network outage)."""

    def register(self, subject: str, schema_json: str) -> int:
        raise ConnectionError("registry down")

    def schema_json(self, schema_id: int) -> str:
        raise ConnectionError("registry down")


def test_an_unreachable_schema_registry_fails_the_batch_and_dead_letters_nothing() -> None:
    h = Harness()
    h.processor.codec = Codec(DownRegistry())
    confluent = b"\x00\x00\x00\x00\x2a" + b"\x02"  # Confluent framing, schema id 42: the registry is asked
    with pytest.raises(DecodeError) as caught:
        h.run([h.message(topic=TOPICS.readings, key=VIN.encode(), value=confluent)])
    assert caught.value.transient
    assert h.sink.sent == [] and not h.store.data


def test_a_field_over_the_contracts_bound_is_a_dead_letter_and_the_others_go_on() -> None:
    h = Harness()
    long = replace(reading("r9", 15_210, "2019-03-04"), work_description="x" * 2_001)
    outputs = h.run([registration(), long, *yearly(2)])
    (letter,) = of_type(outputs, DeadLetter)
    assert letter.error_type == "field-too-long"
    assert "'work_description' has 2,001 characters" in letter.reason
    assert [r.event_id for r in of_type(outputs, Receipt)] == ["r1", "r2"]


def test_a_vin_flooded_beyond_its_histories_cap_keeps_a_bounded_state_and_the_others_are_served() -> None:
    """Hardening: one provider sending readings without end for one VIN. Each gets its receipt (beyond the
    cap: REJECTED, HISTORY_FULL), the VIN's stored state stops growing, another VIN in the same batches
    is judged as usual."""
    from streams.domain.policy import DEFAULT_POLICY, VehicleBounds

    h = Harness(policy=replace(DEFAULT_POLICY, bounds=VehicleBounds(readings=50, rejected=5)))
    days = [f"2024-{1 + i // 28:02d}-{1 + i % 28:02d}" for i in range(80)]
    flood = [reading(f"f{i:03d}", 1_000 + i * 10, day) for i, day in enumerate(days)]
    other = replace(reading("o1", 12_000, "2024-06-01"), vin=OTHER_VIN)
    receipts = of_type(h.run([registration(), *flood[:40], other]), Receipt)
    receipts += of_type(h.run(flood[40:]), Receipt)
    assert len(receipts) == 81
    statuses = [r.status for r in receipts if r.vin == VIN]
    assert statuses[50:] == [ReceiptStatus.REJECTED] * 30
    assert {i.code for r in receipts[51:] if r.vin == VIN for i in r.issues} == {"HISTORY_FULL"}
    state = decode_state(VIN, h.store.data[(0, VIN)])
    assert len(state.readings) == 50
    assert [r.event_id for r in state.rejected] == [f"f{i:03d}" for i in range(75, 80)]
    assert [r.status for r in receipts if r.vin == OTHER_VIN] != [] and (0, OTHER_VIN) in h.store.data


def test_a_refused_plate_reading_is_answered_without_naming_the_vehicle() -> None:
    """Hardening item 4: any provider key could map plates to VINs by sending refused readings for a plate
    (the receipt named the VIN). A resolved plate reading that is REJECTED now gets a receipt without the
    VIN (its key stays the VIN: the receipts topic's partitioning); an accepted one still names it."""
    from streams.domain.policy import DEFAULT_POLICY, VehicleBounds

    h = Harness(policy=replace(DEFAULT_POLICY, bounds=VehicleBounds(readings=1)))
    resolved = PREFIX + "carpass.plate-resolved-readings"
    first, second = reading("p1", 12_000, "2024-03-04"), reading("p2", 13_000, "2024-05-06")
    outputs = h.run([h.message(first, topic=resolved), h.message(second, topic=resolved)])
    accepted, refused = of_type(outputs, Receipt)
    assert accepted.vin == VIN and accepted.status is not ReceiptStatus.REJECTED
    assert refused.status is ReceiptStatus.REJECTED and refused.vin == ""
    assert all(VIN not in issue.message for issue in refused.issues)
    assert "HISTORY_FULL" in {issue.code for issue in refused.issues}
    assert [key for topic, key, _, _ in h.sink.sent if topic == TOPICS.receipts] == [VIN.encode()] * 2


def test_vins_whose_hooks_wait_are_marked_before_their_states_are_stored_and_get_no_hook_call() -> None:
    h = Harness()
    order: list[str] = []

    class WaitForOld:
        def defer(self, vin: str, as_of_ms: int, source: RawMessage) -> bool:
            order.append(f"defer {vin} stored={h.store.get(vin, source) is not None}")
            return vin == OTHER_VIN

    h.processor.deferral = WaitForOld()
    other = [registration(vin=OTHER_VIN, event_id="reg-2"), reading("o1", 1_000, "2024-01-05", vin=OTHER_VIN)]
    h.run([registration(), *yearly(2), *other])
    assert sorted(order) == [f"defer {OTHER_VIN} stored=False", f"defer {VIN} stored=False"]
    assert [vin for vin, _, _ in h.hook_calls] == [VIN]  # the other VIN's views wait
    assert len(h.store.data) == 2  # both states stored
