"""The decoded-state cache: a hit is exactly what decoding the stored bytes gives, or it is not a hit."""

from __future__ import annotations

from schemas.records import AnomalyEvent, Receipt
from streams.domain.state import VehicleState
from streams.state.cache import StateCache
from streams.state.codec import decode_state, encode_state
from streams.worker.batch import MemoryStore
from tests.unit.streams.domain.builders import VIN, reading, registration, yearly
from tests.unit.streams.worker.test_vehicles import Harness, of_type


def test_a_hit_needs_the_very_bytes_the_state_was_stored_as() -> None:
    cache = StateCache(10)
    state = VehicleState(VIN)
    stored = encode_state(state)
    cache.put(0, VIN, stored, state)
    assert cache.get(0, VIN, bytes(stored)) is state
    assert cache.get(1, VIN, stored) is None  # another partition's store
    assert cache.get(0, VIN, stored + b"\x00") is None  # someone else wrote the VIN since
    assert len(cache) == 0  # ... and the stale entry is gone
    assert cache.get(0, VIN, stored) is None


def test_the_least_recently_used_entries_go_first() -> None:
    cache = StateCache(2)
    for vin in ("A", "B"):
        cache.put(0, vin, vin.encode(), VehicleState(vin))
    assert cache.get(0, "A", b"A") is not None  # A is now the most recent
    cache.put(0, "C", b"C", VehicleState("C"))
    assert cache.get(0, "B", b"B") is None
    assert cache.get(0, "A", b"A") is not None and cache.get(0, "C", b"C") is not None


def test_capacity_zero_keeps_nothing() -> None:
    cache = StateCache(0)
    cache.put(0, VIN, b"x", VehicleState(VIN))
    assert len(cache) == 0 and cache.get(0, VIN, b"x") is None


EVENTS = [
    registration(), *yearly(), reading("typo", 250_000, "2024-06-01"), reading("r9", 70_000, "2024-09-01"),
]


def _one_event_per_batch(harness: Harness) -> list[tuple[str, object]]:
    outputs: list[tuple[str, object]] = []
    for event in EVENTS:
        outputs += harness.run([event])
    return outputs


def test_a_worker_with_the_cache_says_and_stores_exactly_what_one_without_it_does() -> None:
    plain, cached = Harness(), Harness(cache=StateCache(100))
    expected = _one_event_per_batch(plain)
    got = _one_event_per_batch(cached)
    assert got == expected
    assert of_type(got, AnomalyEvent), "the history must exercise the slow path too"
    assert cached.store.data == plain.store.data
    # every event after the first found the state its predecessor stored
    assert cached.metric("carpass_state_cache_lookups_total", result="hit") == len(EVENTS) - 1
    assert cached.metric("carpass_state_cache_lookups_total", result="miss") == 0
    assert plain.metric("carpass_state_cache_lookups_total", result="hit") == 0


def test_a_state_written_elsewhere_is_decoded_not_taken_from_the_cache() -> None:
    cached = Harness(cache=StateCache(100))
    cached.run([registration(), *yearly()])
    # Another worker (after a rebalance) judged one more reading of this VIN and stored its state.
    elsewhere = Harness(store=MemoryStore())
    elsewhere.store.data.update(cached.store.data)
    elsewhere.run([reading("r6", 90_000, "2024-03-01")])
    cached.store.data.update(elsewhere.store.data)
    reference = Harness(store=MemoryStore())
    reference.store.data.update(elsewhere.store.data)

    late = cached.message(reading("r7", 80_000, "2024-05-01"))  # below r6 only: a break iff r6 counts
    got = cached.run([late])
    assert got == reference.run([late])
    assert of_type(got, AnomalyEvent), "r6 from the stored state was taken into account"
    assert of_type(got, Receipt)[0].event_id == "r7"
    assert cached.metric("carpass_state_cache_lookups_total", result="miss") == 1
    assert decode_state(VIN, cached.store.data[(0, VIN)]) == decode_state(VIN, reference.store.data[(0, VIN)])
