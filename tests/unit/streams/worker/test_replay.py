"""The replay's pure parts: held states, the event-time batches of one partition, the changelog store, and the
batch step with held states against the live step (same stored bytes, views once per VIN)."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from prometheus_client import CollectorRegistry

from schemas.catalog import TOPICS as CONTRACT_TOPICS
from schemas.catalog import AnyRecord, key_of
from schemas.codec import encode
from schemas.records import OdometerReading
from streams.domain.state import VehicleState
from streams.kafka.clients import build_codec
from streams.kafka.topics import PipelineTopics
from streams.settings import Settings
from streams.state.held import HeldStates
from streams.worker.batch import MemorySink, MemoryStore, RawMessage
from streams.worker.metrics import WorkerMetrics
from streams.worker.replay import (
    ChangelogStore,
    PartitionSpan,
    aligned_batches,
    replay_partition,
)
from streams.worker.vehicles import VehicleProcessor
from tests.unit.streams.domain.builders import at, reading, registration

TOPICS = PipelineTopics("t-")
RANK = [TOPICS.registrations, TOPICS.readings, TOPICS.corrections]


def _message(topic: str, offset: int, timestamp: int, key: bytes = b"k", value: bytes = b"v") -> RawMessage:
    return RawMessage(topic, 0, offset, key, value, timestamp)


def _fetcher(chunks: Sequence[Sequence[RawMessage]], positions: Sequence[dict[str, int]] | None = None):  # type: ignore[no-untyped-def]
    calls = iter(range(len(chunks)))

    def fetch() -> tuple[Sequence[RawMessage], dict[str, int]]:
        index = next(calls, None)
        if index is None:
            raise AssertionError("fetched past the end")
        return chunks[index], (positions[index] if positions else {})

    return fetch


# --- HeldStates ---------------------------------------------------------------------------------------------


def test_held_states_overflow_the_least_recently_changed_and_drain_the_rest() -> None:
    held = HeldStates(2)
    a, b, c = VehicleState("A"), VehicleState("B"), VehicleState("C")
    held.keep("A", a, "mA")
    held.keep("B", b, "mB")
    held.keep("A", a, "mA2")  # A changed again: B is now the oldest
    held.keep("C", c, "mC")
    assert held.overflow() == [("B", b, "mB")]
    assert held.get("B") is None and held.get("A") is a
    assert held.drain() == [("A", a, "mA2"), ("C", c, "mC")]
    assert len(held) == 0 and held.overflow() == []


# --- aligned_batches ----------------------------------------------------------------------------------------


def test_a_partition_comes_in_timestamp_order_across_topics_whatever_the_fetches_bring() -> None:
    readings = [_message(TOPICS.readings, i, 100 + 10 * i) for i in range(5)]  # 100..140
    registrations = [_message(TOPICS.registrations, 0, 100), _message(TOPICS.registrations, 1, 125)]
    spans = [PartitionSpan(TOPICS.readings, 0, 0, 5), PartitionSpan(TOPICS.registrations, 0, 0, 2)]
    # The readings come first, whole; the registrations a fetch later: nothing goes before they are read.
    fetch = _fetcher([readings, registrations])
    batches = list(aligned_batches(spans, fetch, RANK, batch_size=3))
    order = [(m.topic, m.offset) for batch in batches for m in batch]
    assert order == [
        (TOPICS.registrations, 0), (TOPICS.readings, 0),  # a tie: registrations first (rank)
        (TOPICS.readings, 1), (TOPICS.readings, 2), (TOPICS.registrations, 1),
        (TOPICS.readings, 3), (TOPICS.readings, 4),
    ]  # fmt: skip
    assert [len(b) for b in batches] == [3, 3, 1]


def test_records_past_a_span_end_are_left_out_and_a_position_past_the_last_record_ends_the_span() -> None:
    spans = [PartitionSpan(TOPICS.readings, 0, 0, 10), PartitionSpan(TOPICS.registrations, 0, 0, 1)]
    first = [_message(TOPICS.readings, 0, 5), _message(TOPICS.registrations, 0, 1),
             _message(TOPICS.registrations, 1, 2)]  # fmt: skip  (offset 1 is past the registrations' end)
    # Offsets 1-9 of the readings hold no record (compacted away): the consumer's position says 10.
    fetch = _fetcher([first, []], [{}, {TOPICS.readings: 10}])
    out = [(m.topic, m.offset) for batch in aligned_batches(spans, fetch, RANK, 100) for m in batch]
    assert out == [(TOPICS.registrations, 0), (TOPICS.readings, 0)]


def test_empty_spans_are_not_read_at_all() -> None:
    spans = [PartitionSpan(TOPICS.readings, 0, 7, 7)]
    assert list(aligned_batches(spans, _fetcher([]), RANK, 10)) == []


# --- ChangelogStore -----------------------------------------------------------------------------------------


def test_the_changelog_store_sends_to_the_inputs_partition_before_it_reads_back() -> None:
    sink = MemorySink()
    store = ChangelogStore(sink, "app-vehicles-changelog")
    source = RawMessage("t-odometer.readings", 3, 0, b"VIN", b"", 0)
    store.put("VIN", b"state", source)
    assert store.get("VIN", source) == b"state" and sink.sent == []
    store.flush()
    assert sink.sent == [("app-vehicles-changelog", b"VIN", b"state", 3)] and sink.flushed == 1
    assert store.get("VIN", source) == b"state" and store.records == 1
    assert store.forget(2) == 0 and store.forget(3) == 1
    assert store.get("VIN", source) is None


# --- the step with held states against the live step --------------------------------------------------------


def _fleet(vehicles: int, seed: int) -> list[RawMessage]:
    """Registrations and readings of ``vehicles`` VINs, interleaved in time as a partition would hold them."""
    rng = random.Random(seed)
    records: list[AnyRecord] = []
    for car in range(vehicles):
        vin = f"WVWZZZ1KZAW{car:06d}"
        records.append(registration(vin=vin, event_id=f"reg-{car}"))
        km = 0
        for index in range(rng.randint(3, 12)):
            km += rng.randint(2_000, 20_000) if rng.random() > 0.05 else -30_000  # a few rollbacks
            day = f"{2019 + index // 2}-{1 + 6 * (index % 2) + car % 5:02d}-1{car % 9}"
            records.append(reading(f"{car}-{index}", max(km, 10), day, vin=vin))
    stamp = {id(r): (r.submitted_at if isinstance(r, OdometerReading) else at("2018-01-01")) for r in records}
    records.sort(key=lambda r: stamp[id(r)])
    return [RawMessage("t-" + CONTRACT_TOPICS[type(r)], 0, i, key_of(r).encode(), encode(r), stamp[id(r)])
            for i, r in enumerate(records)]  # fmt: skip


def _processor(store: MemoryStore, sink: MemorySink, hold: HeldStates | None, calls: list[tuple[str, int]]
               ) -> VehicleProcessor:  # fmt: skip
    return VehicleProcessor(
        codec=build_codec(Settings.from_env({})), topics=TOPICS, store=store, sink=sink,
        metrics=WorkerMetrics.create(CollectorRegistry()), clock=lambda: 1.9e9, hold=hold,
        hooks=[lambda vin, state, as_of: calls.append((vin, as_of))],
    )  # fmt: skip


@pytest.mark.parametrize("capacity", [1_000, 7])
def test_held_states_store_the_same_last_state_per_vin_as_the_live_step_and_call_the_hooks_once(
    capacity: int,
) -> None:
    messages = _fleet(40, seed=3)
    live_store, live_sink, live_calls = MemoryStore(), MemorySink(), []
    live = _processor(live_store, live_sink, None, live_calls)
    for start in range(0, len(messages), 25):
        live.process(messages[start : start + 25])

    store, sink, calls = MemoryStore(), MemorySink(), []
    replay = _processor(store, sink, HeldStates(capacity), calls)
    spans = [PartitionSpan(m, 0, 0, len(messages)) for m in {msg.topic for msg in messages}]
    ends = {span.topic: max(m.offset for m in messages if m.topic == span.topic) + 1 for span in spans}
    spans = [PartitionSpan(topic, 0, 0, end) for topic, end in ends.items()]
    fetch = _fetcher([messages])
    assert replay_partition(replay, spans, fetch, RANK, batch_size=25) == len(messages)
    assert store.data == live_store.data  # the same bytes per VIN
    last_live = dict(live_calls)  # the live worker's last views per VIN are the replay's only ones
    if capacity >= 40:
        assert sorted(calls) == sorted(last_live.items())  # once per VIN, with the same as_of
    else:
        assert dict(calls) == last_live  # a state pushed out early is stored (and viewed) again later
    assert sorted((t, v) for t, _, v, _ in sink.sent) == sorted((t, v) for t, _, v, _ in live_sink.sent)


def test_muted_topics_are_counted_but_neither_encoded_nor_sent() -> None:
    messages = _fleet(3, seed=1)
    store, sink, calls = MemoryStore(), MemorySink(), []
    step = _processor(store, sink, None, calls)
    step.outputs.muted = frozenset({TOPICS.receipts, TOPICS.anomalies})
    result = step.process(messages)
    assert sink.sent == [] and result.outputs == []
    receipts = step.metrics.receipts.collect()[0].samples
    assert sum(s.value for s in receipts if s.name.endswith("_total")) == sum(
        m.topic == TOPICS.readings for m in messages
    )
    assert len(store.data) == 3
