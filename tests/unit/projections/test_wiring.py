"""The worker-free parts of the wiring: the views hook and the provider-event decoding."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from yarl import URL

from projections.api import NotReadyError
from projections.quality import fold, quality_view, readings_from_json, tally_from_json
from projections.routing import key_partition, owned_here, owner_of
from projections.steps import (
    IssuanceRecorder,
    ProviderRekey,
    QualityFolder,
    ReadingsCounter,
    ViewPublisher,
    decode_provider_event,
)
from projections.views import certificate_view, ok_label_view
from projections.wiring import TableViewSource
from schemas.catalog import TOPICS as CONTRACT_TOPICS
from schemas.catalog import key_of
from schemas.codec import Codec, encode
from schemas.records import AnomalyEvent, AnomalyKind, AnomalyStatus, Judgment, Receipt, ReceiptStatus
from schemas.views import CertificateView, OkLabelView, ProviderQuality
from streams.kafka.topics import PipelineTopics
from streams.worker.batch import MemorySink, MemoryStore, RawMessage
from streams.worker.metrics import WorkerMetrics
from streams.worker.vehicles import VehicleProcessor
from tests.unit.projections.builders import PROVIDER, VIN, clean_old_vehicle, ms
from tests.unit.streams.domain.builders import GARAGE, OTHER_GARAGE, at, registration, yearly


def test_the_hook_publishes_both_views_keyed_by_vin_and_a_replay_gives_the_same_bytes() -> None:
    codec, sink = Codec(), MemorySink()
    hook = ViewPublisher(codec, sink, "p.carpass.certificates", "p.carpass.ok-labels")
    state, as_of = clean_old_vehicle(), ms(2024, 3, 2)
    hook(VIN, state, as_of)
    hook(VIN, state, as_of)
    (t1, k1, v1, _), (t2, k2, v2, _), again_cert, again_label = sink.sent
    assert (t1, t2, k1, k2) == ("p.carpass.certificates", "p.carpass.ok-labels", VIN.encode(), VIN.encode())
    assert codec.decode(v1, CertificateView) == certificate_view(state, as_of)
    assert codec.decode(v2, OkLabelView) == ok_label_view(state, as_of)
    assert (again_cert[2], again_label[2]) == (v1, v2)


def test_the_hook_never_raises() -> None:
    class Broken:
        def send(self, topic: str, key: bytes, value: bytes, partition: int | None = None) -> None:
            raise RuntimeError("broker down")

    ViewPublisher(Codec(), Broken(), "a", "b")(VIN, clean_old_vehicle(), 0)


def test_provider_events_are_decoded_and_anything_else_ignored() -> None:
    codec = Codec()
    receipt = Receipt("r-1", VIN, PROVIDER, ReceiptStatus.ACCEPTED, (), ms(2024, 1, 1))
    assert decode_provider_event(codec, codec.encode(receipt)) == receipt
    assert decode_provider_event(codec, codec.encode(ok_label_view(clean_old_vehicle(), 0))) is None
    assert decode_provider_event(codec, b"junk") is None


def test_keys_are_placed_as_kafkas_java_client_places_them() -> None:
    # Kafka's own UtilsTest: murmur2("21") == -973932308, murmur2("foobar") == -790332482
    assert key_partition(b"21", 1_000_003) == (-973932308 & 0x7FFFFFFF) % 1_000_003
    assert key_partition(b"foobar", 7) == (-790332482 & 0x7FFFFFFF) % 7


def test_the_owner_of_a_key_comes_from_the_changelog_distribution_not_the_producer() -> None:
    partition = key_partition(VIN.encode(), 4)
    distribution = {
        "http://a:1": {"app-vehicles-changelog": [p for p in range(4) if p != partition]},
        "http://b:2": {"app-vehicles-changelog": [partition]},
    }
    asked: list[str] = []

    def table_metadata(name: str) -> Any:
        asked.append(name)
        return distribution

    app = SimpleNamespace(router=SimpleNamespace(table_metadata=table_metadata))
    assert owner_of(app, "vehicles", VIN.encode(), 4) == URL("http://b:2") and asked == ["vehicles"]
    distribution["http://b:2"] = {"app-vehicles-changelog": []}  # mid-rebalance: nobody owns it
    assert owner_of(app, "vehicles", VIN.encode(), 4) is None


def test_a_worker_owns_a_key_when_its_own_routing_names_its_canonical_url() -> None:
    partition = key_partition(VIN.encode(), 4)
    distribution = {"http://a:1": {"app-vehicles-changelog": [partition]}}
    app = SimpleNamespace(
        router=SimpleNamespace(table_metadata=lambda name: distribution),
        conf=SimpleNamespace(canonical_url=URL("http://a:1")),
    )
    assert owned_here(app, "vehicles", VIN.encode(), 4)
    app.conf.canonical_url = URL("http://a:2")  # the same host, another worker's port
    assert not owned_here(app, "vehicles", VIN.encode(), 4)
    distribution.clear()  # nobody known to own it
    assert not owned_here(app, "vehicles", VIN.encode(), 4)


def message(key: bytes, value: bytes, offset: int = 0) -> RawMessage:
    return RawMessage("p.carpass.provider-events", 1, offset, key, value, ms(2024, 1, 2))


OTHER = "0999999999"
OTHER_VIN = "VF1AB000000000001"


def test_the_quality_fold_stores_each_providers_tally_and_view_once_per_batch() -> None:
    codec, store, sink = Codec(), MemoryStore(), MemorySink()
    folder = QualityFolder(codec, store, sink, "p.providers.quality")
    receipts = [
        Receipt(f"r-{n}", VIN, provider, ReceiptStatus.ACCEPTED, (), ms(2024, 1 + n, 1))
        for n, provider in enumerate((PROVIDER, OTHER, PROVIDER))
    ]
    batch = [message(r.provider_id.encode(), codec.encode(r), n) for n, r in enumerate(receipts)]
    folder.process([*batch[:2], message(PROVIDER.encode(), b"junk", 5), batch[2]])
    assert tally_from_json(store.data[(1, PROVIDER)]).year(2024).readings == 2
    assert tally_from_json(store.data[(1, OTHER)]).year(2024).readings == 1
    assert store.puts == 2 and store.flushes == 1
    assert [(t, k) for t, k, _, _ in sink.sent] == [
        ("p.providers.quality", PROVIDER.encode()), ("p.providers.quality", OTHER.encode()),
    ]  # fmt: skip
    assert codec.decode(sink.sent[0][2], ProviderQuality).years[0].readings == 2
    assert sink.flushed == 2  # both views on Kafka once the batch is done


def test_a_batch_folds_like_its_events_one_by_one() -> None:
    codec = Codec()
    receipts = [
        Receipt(f"r-{n}", VIN, PROVIDER, ReceiptStatus.ACCEPTED, (), ms(2023 + n % 2, 1 + n, 1))
        for n in range(6)
    ]
    batch = [message(PROVIDER.encode(), codec.encode(r), n) for n, r in enumerate(receipts)]
    whole, single = MemoryStore(), MemoryStore()
    QualityFolder(codec, whole, MemorySink(), "q").process(batch)
    for each in batch:
        QualityFolder(codec, single, MemorySink(), "q").process([each])
    assert whole.data == single.data


class CountingWorker:
    """The vehicle agent's step with the projections' receipt counter, over in-memory I/O: ``offsets``
    numbers the messages of one input partition."""

    EVENTS = "p.carpass.provider-events"

    def __init__(self) -> None:
        self.topics, self.codec = PipelineTopics("p."), Codec()
        self.store, self.sink = MemoryStore(), MemorySink()
        metrics = WorkerMetrics.create(CollectorRegistry())
        self.processor = VehicleProcessor(codec=self.codec, topics=self.topics, store=self.store,
                                          sink=self.sink, metrics=metrics)  # fmt: skip
        self.processor.outputs.listeners.append(ReadingsCounter(self.sink, self.EVENTS, self.topics.base))

    def messages(self, records: list[Any]) -> list[RawMessage]:
        return [RawMessage(self.topics.name(CONTRACT_TOPICS[type(r)]), 0, n, key_of(r).encode(), encode(r),
                           at("2025-01-01") + n) for n, r in enumerate(records)]  # fmt: skip

    def counted(self) -> list[RawMessage]:
        """What the counter sent, as the quality agent receives it."""
        sent = [(key, value) for topic, key, value, _ in self.sink.sent if topic == self.EVENTS]
        return [RawMessage(self.EVENTS, 0, n, key, value, 0) for n, (key, value) in enumerate(sent)]


def test_the_vehicle_agents_receipts_reach_the_quality_fold_as_one_count_per_provider_and_batch() -> None:
    worker = CountingWorker()
    other = [replace(r, vin=OTHER_VIN, event_id=f"o{r.event_id}", provider_id=OTHER_GARAGE)
             for r in yearly(3)]  # fmt: skip
    batch = worker.messages([registration(), registration(vin=OTHER_VIN), *yearly(), *other])
    receipts = [r for _, r in worker.processor.process(batch).outputs if isinstance(r, Receipt)]
    counted = worker.counted()
    assert sorted(m.key for m in counted if m.key) == [GARAGE.encode(), OTHER_GARAGE.encode()]
    sent_topics = [topic for topic, *_ in worker.sink.sent]
    assert sent_topics.index(worker.EVENTS) > sent_topics.index(worker.topics.receipts)
    assert worker.sink.flushed >= 1 and worker.store.flushes == 1  # counts on Kafka with the receipts
    store = MemoryStore()
    QualityFolder(worker.codec, store, MemorySink(), "q").process(counted)
    for provider in (GARAGE, OTHER_GARAGE):  # the tally the receipts give one by one
        tally = tally_from_json(store.data[(0, provider)])
        assert quality_view(tally) == quality_view(fold(provider, receipts))


def test_counts_sent_again_after_a_crash_upstream_are_counted_once() -> None:
    # The first attempt sent its receipts and counts, then died before storing the state and committing:
    # the next attempt judges the same inputs again (a longer batch) and sends the same counts again.
    first, again = CountingWorker(), CountingWorker()
    records = [registration(), *yearly()]
    first.processor.process(first.messages(records)[:3])
    again.processor.process(again.messages(records))
    deliveries = [*first.counted(), *again.counted()]
    assert sum(len(readings_from_json(m.value or b"").counted) for m in deliveries) == 2 + 5
    store = MemoryStore()
    folder = QualityFolder(first.codec, store, MemorySink(), "q")
    folder.process(deliveries[:1])
    folder.process([*deliveries, *deliveries])
    tally = tally_from_json(store.data[(0, GARAGE)])
    assert sum(year.readings for year in tally.years) == 5
    assert tally.counted_to == (("odometer.readings/0", 5),)


def test_a_large_batch_of_one_provider_is_sent_in_input_order_chunks_and_counted_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("projections.steps.COUNTED_PER_MESSAGE", 2)
    worker = CountingWorker()
    mine, other = yearly(3), [replace(r, vin=OTHER_VIN, event_id=f"o{r.event_id}") for r in yearly(2)]
    # Offsets interleave the two vehicles; the step judges vehicle by vehicle (2, 4, 6 then 3, 5).
    worker.processor.process(worker.messages([registration(), registration(vin=OTHER_VIN), mine[0], other[0],
                                              mine[1], other[1], mine[2]]))  # fmt: skip
    counted = worker.counted()
    offsets = [[c.offset for c in readings_from_json(m.value or b"").counted] for m in counted]
    assert offsets == [[2, 3], [4, 5], [6]]  # in input order: no chunk holds an offset below an earlier one's
    store = MemoryStore()
    QualityFolder(worker.codec, store, MemorySink(), "q").process([*counted, *counted])
    assert sum(y.readings for y in tally_from_json(store.data[(0, GARAGE)]).years) == 5


def test_the_rekey_step_keys_provider_events_by_provider_and_keeps_their_bytes() -> None:
    codec, sink = Codec(), MemorySink()
    receipt = Receipt("r-1", VIN, PROVIDER, ReceiptStatus.ACCEPTED, (), ms(2024, 1, 1))
    blamed = AnomalyEvent(
        "a-1", VIN, AnomalyKind.SPIKE, AnomalyStatus.OPEN, ("r-1",), Judgment.ILLOGICAL, ms(2024, 1, 2),
        blamed_event_id="r-1", blamed_provider_id=OTHER,
    )  # fmt: skip
    unblamed = AnomalyEvent(
        "a-2", VIN, AnomalyKind.ODOMETER_REPLACED, AnomalyStatus.OPEN, (), Judgment.LOGICAL, ms(2024, 1, 2)
    )
    values = [codec.encode(receipt), codec.encode(blamed), codec.encode(unblamed), b"junk"]
    batch = [RawMessage("p.odometer.receipts", 0, n, VIN.encode(), v, 0) for n, v in enumerate(values)]
    assert ProviderRekey(codec, sink, "p.carpass.provider-events").process(batch) == 2
    assert sink.sent == [
        ("p.carpass.provider-events", PROVIDER.encode(), values[0], None),
        ("p.carpass.provider-events", OTHER.encode(), values[1], None),
    ]
    assert sink.flushed == 2


def test_issuances_are_stored_by_number_and_the_first_record_of_a_number_wins() -> None:
    store = MemoryStore()
    recorder = IssuanceRecorder(store)
    one = b"number-1"
    recorder.process([message(one, b"first"), message(b"", b"x", 1), message(one, b"second", 2)])
    recorder.process([message(one, b"third", 3), message(b"number-2", b"other", 4)])
    assert store.data == {(1, "number-1"): b"first", (1, "number-2"): b"other"}
    assert recorder.ignored == 2


def test_a_key_missing_while_the_worker_restores_its_tables_is_not_ready_rather_than_not_found() -> None:
    from streams.state.codec import encode_state

    state = clean_old_vehicle()
    vehicles = {VIN.encode(): encode_state(state)}
    settled = [False]
    source = TableViewSource(vehicles, {}, {}, None, settled=lambda: settled[0])

    async def ask() -> None:
        snapshot = await source.vehicle(VIN)  # present: answered whatever the worker does
        assert snapshot is not None and snapshot.state == state
        for missing in (source.vehicle("WVWZZZ1KZAW999999"), source.quality(PROVIDER),
                        source.certificate("00000000-0000-5000-8000-000000000000")):  # fmt: skip
            with pytest.raises(NotReadyError):
                await missing
        settled[0] = True
        assert await source.vehicle("WVWZZZ1KZAW999999") is None
        assert await source.quality(PROVIDER) is None

    asyncio.run(ask())


def test_a_key_missing_on_a_worker_no_longer_owning_its_partition_is_not_ready_not_not_found() -> None:
    """A request forwarded by a worker with an older routing table reaches a worker that has just handed
    the key's partition over: it cannot say the vehicle does not exist (the failover test saw 404s)."""
    asked: list[tuple[str, str]] = []
    owned = [False]

    def owns(table: str, key: str) -> bool:
        asked.append((table, key))
        return owned[0]

    source = TableViewSource({}, {}, {}, None, owns=owns)

    async def ask() -> None:
        for missing in (source.vehicle("WVWZZZ1KZAW999999"), source.quality(PROVIDER),
                        source.certificate("00000000-0000-5000-8000-000000000000")):  # fmt: skip
            with pytest.raises(NotReadyError):
                await missing
        owned[0] = True
        assert await source.vehicle("WVWZZZ1KZAW999999") is None

    asyncio.run(ask())
    assert asked[:3] == [("vehicle", "WVWZZZ1KZAW999999"), ("provider", PROVIDER),
                         ("certificate", "00000000-0000-5000-8000-000000000000")]  # fmt: skip


def test_a_forward_is_signed_for_the_principal_and_leaves_the_clients_key_behind() -> None:
    """``make_forward`` against a real HTTP owner (an aiohttp server that shows what it received)."""
    import aiohttp
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from projections.routing import make_forward
    from streams.http.auth import Principal, Role
    from streams.http.forwarding import FORWARDED_HEADER, verify

    secret = b"k" * 32
    seen: list[dict[str, str]] = []

    async def owner_answers(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        principal = verify(secret, request.headers[FORWARDED_HEADER], request.method, str(request.rel_url),
                           await request.read(), 1_000)  # fmt: skip
        return web.json_response({"for": principal.name})

    async def main() -> None:
        owner = web.Application()
        owner.router.add_get("/vehicles/{vin}/history", owner_answers)
        async with TestServer(owner) as server, aiohttp.ClientSession() as session:
            partition = key_partition(VIN.encode(), 4)
            app = SimpleNamespace(
                router=SimpleNamespace(table_metadata=lambda name: {
                    f"http://127.0.0.1:{server.port}": {"c": [partition]}}),
                conf=SimpleNamespace(canonical_url=URL("http://127.0.0.1:1")),
                http_client=session,
            )  # fmt: skip
            forward = make_forward(app, {"vehicle": "vehicles"}, 4, secret, clock=lambda: 1_000)
            dealer = Principal("dealer-1", Role.DEALER)

            async def first_worker(request: web.Request) -> web.StreamResponse:
                answer = await forward(request, "vehicle", request.match_info["vin"], dealer)
                assert answer is not None
                return answer

            front = web.Application()
            front.router.add_get("/vehicles/{vin}/history", first_worker)
            async with TestClient(TestServer(front)) as client:
                headers = {"Authorization": "Bearer k-dealer", "X-API-Key": "k-dealer", FORWARDED_HEADER: "1"}
                async with client.get(f"/vehicles/{VIN}/history", headers=headers) as response:
                    assert response.status == 200 and await response.json() == {"for": "dealer-1"}

    asyncio.run(main())
    (received,) = seen
    assert "Authorization" not in received and "X-API-Key" not in received
    assert received[FORWARDED_HEADER] != "1"


# --- views that wait while the worker is behind ------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.ms, self.s = ms(2025, 1, 1), 100.0


def _pending(marks: MemoryStore, sink: MemorySink, clock: _Clock) -> Any:
    from projections.steps import PendingViews

    publisher = ViewPublisher(Codec(), sink, "p.carpass.certificates", "p.carpass.ok-labels")
    return PendingViews(marks, publisher, defer_after_ms=5_000, quiet_s=1.0, clock_ms=lambda: clock.ms,
                        monotonic=lambda: clock.s)  # fmt: skip


def test_an_old_change_waits_and_a_fresh_one_waits_only_behind_a_waiting_one() -> None:
    marks, sink, clock = MemoryStore(), MemorySink(), _Clock()
    pending = _pending(marks, sink, clock)
    source = RawMessage("t", 2, 0, None, None, 0)
    assert pending.defer(VIN, clock.ms - 60_000, source) is True  # a minute old: behind
    assert marks.pending == {(2, VIN): (clock.ms - 60_000).to_bytes(8, "big", signed=True)}
    assert pending.behind()
    assert pending.defer("OTHER", clock.ms - 100, source) is False  # fresh, nothing waiting: views now
    fresh = clock.ms - 100
    assert pending.defer(VIN, fresh, source) is True  # fresh, but its views wait: it waits too
    assert marks.get(VIN, source) == fresh.to_bytes(8, "big", signed=True)
    clock.s += 1.5
    assert not pending.behind()  # the waiting one did not make the worker "behind"
    assert sink.sent == []


def test_waiting_views_are_published_with_the_marked_as_of_then_their_marks_deleted() -> None:
    marks, sink, clock = MemoryStore(), MemorySink(), _Clock()
    pending = _pending(marks, sink, clock)
    state, as_of = clean_old_vehicle(), ms(2024, 3, 2)
    marks.put(VIN, as_of.to_bytes(8, "big", signed=True), RawMessage("t", 1, 0, None, None, 0))
    marks.put("GONE", as_of.to_bytes(8, "big", signed=True), RawMessage("t", 1, 0, None, None, 0))
    marks.flush()
    states = {VIN: state}
    marked = [(p, key.encode(), value) for (p, key), value in marks.data.items()]
    assert pending.publish(marked, lambda partition, vin: states.get(vin)) == 2
    immediate = MemorySink()
    ViewPublisher(Codec(), immediate, "p.carpass.certificates", "p.carpass.ok-labels")(VIN, state, as_of)
    assert sink.sent == immediate.sent and sink.flushed == 2  # byte for byte what the change would have sent
    assert marks.data == {}  # both marks gone (a VIN without a state has nothing to show)
    assert pending.publish([], lambda partition, vin: None) == 0
