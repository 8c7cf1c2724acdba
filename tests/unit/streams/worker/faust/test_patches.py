"""The Faust door: each patch against a stub of what it touches, and the installed Faust and aiokafka still
have every private name the patches use (a release the pins allow that renames one fails here)."""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any

import pytest

from streams.worker.faust import patches
from streams.worker.offsets import CommitGuard

IN, CHANGELOG = ("t-odometer.readings", 0), ("app-vehicles-changelog", 0)


class _TP(tuple[str, int]):
    """Faust's TP is a named tuple with ``topic`` and ``partition``."""

    @property
    def topic(self) -> str:
        return self[0]

    @property
    def partition(self) -> int:
        return self[1]


class _App:
    def __init__(self, guard: Any = None) -> None:
        if guard is not None:
            self.commit_guard = guard


def _consumer_class() -> Any:
    class Consumer:
        def __init__(self, app: Any, acked_offset: int | None = 50) -> None:
            self.app, self.acked_offset = app, acked_offset
            self._committed_offset: dict[Any, int | None] = {_TP(IN): 5}
            self._read_offset: dict[Any, int | None] = {}
            self.sought: dict[Any, int] = {}
            self.seeks = 0

        def _new_offset(self, tp: Any) -> int | None:
            return self.acked_offset

        async def perform_seek(self) -> None:
            self.seeks += 1

        def assignment(self) -> set[Any]:
            return {_TP(IN), _TP(("t-vehicle.recalls", 0)), _TP(CHANGELOG)}

        async def earliest_offsets(self, *tps: Any) -> dict[Any, int]:
            return dict.fromkeys(tps, 0)

        async def seek_wait(self, offsets: dict[Any, int]) -> None:
            self.sought.update(offsets)

    return Consumer


def test_installed_versions_are_the_ones_written_against_and_others_are_refused() -> None:
    patches.check_versions()
    with pytest.raises(patches.UnsupportedVersionError, match=r"faust-streaming 0\.16\.0"):
        patches.check_versions({"faust-streaming": "0.16.0", "aiokafka": "0.14.0"})
    with pytest.raises(patches.UnsupportedVersionError, match="aiokafka"):
        patches.check_versions({"faust-streaming": "0.15.3", "aiokafka": "0.15.1"})


def test_commits_of_the_data_planes_topics_are_the_ceiling_and_others_faust_capped() -> None:
    cls = _consumer_class()
    patches.guard_commits(cls)
    patches.guard_commits(cls)  # idempotent: wrapped once
    guard = CommitGuard()
    watermarks = guard.agent("vehicles", [IN[0]])
    guard.agent("projections", ["t-odometer.receipts"])
    guard.reset({IN: 30})
    # the data plane's topic: the ceiling, whatever Faust acknowledged (it acknowledges nothing there)
    assert cls(_App(guard))._new_offset(IN) == 30
    assert cls(_App(guard), acked_offset=20)._new_offset(IN) == 30
    assert cls(_App(guard), acked_offset=None)._new_offset(IN) == 30
    assert cls(_App(guard))._new_offset(("t-odometer.receipts", 0)) is None  # read, nothing known yet
    assert cls(_App(guard))._new_offset(("other", 0)) == 50  # a partition no agent reads: Faust's
    assert cls(_App())._new_offset(IN) == 50  # an app without a guard
    assert all(watermarks.admit(IN, offset) for offset in range(30, 60))
    assert cls(_App(guard))._new_offset(IN) == 30  # admitted, not stored
    watermarks.stored()
    assert cls(_App(guard))._new_offset(IN) == 60


def test_a_topic_read_by_no_agent_is_capped_by_the_guard_when_faust_acknowledged_more() -> None:
    cls = _consumer_class()
    patches.guard_commits(cls)
    guard = CommitGuard()
    guard.agent("any")  # an agent without topics guards every partition, owns none
    guard.reset({IN: 30})
    assert cls(_App(guard))._new_offset(IN) == 30
    assert cls(_App(guard), acked_offset=20)._new_offset(IN) == 20
    assert cls(_App(guard), acked_offset=None)._new_offset(IN) is None


class _Record:
    def __init__(self, topic: str, partition: int, offset: int) -> None:
        self.topic, self.partition, self.offset = topic, partition, offset


class _Plane:
    def __init__(self) -> None:
        self.received: list[dict[Any, list[int]]] = []

    def takes(self, topic: str) -> bool:
        return topic.startswith("t-")

    async def receive(self, records: Any) -> None:
        self.received.append({tp: [r.offset for r in each] for tp, each in records.items()})


def _fetching_class(records: dict[Any, list[_Record]], flow_active: bool = True) -> Any:
    class Consumer:
        should_stop = False

        def __init__(self, app: Any) -> None:
            self.app = app
            self.flow_active = flow_active
            self._buffered_partitions: set[Any] = set()
            self._read_offset: dict[Any, int | None] = {}
            self._acked: dict[Any, list[int]] = {}
            self.seeks = 0

        async def _wait_next_records(self, timeout: float) -> tuple[Any, Any]:
            active = {_TP(IN), _TP(CHANGELOG), _TP(("t-vehicle.recalls", 0))}
            return records, active

        def assignment(self) -> set[Any]:
            return {_TP(IN), _TP(CHANGELOG), _TP(("t-vehicle.recalls", 0)), _TP(("t-odometer.readings", 1))}

        async def perform_seek(self) -> None:
            self.seeks += 1

        def _to_message(self, tp: Any, record: Any) -> Any:
            return ("message", record.offset)

        async def getmany(self, timeout: float) -> Any:
            yield "faust's own", 0

    return Consumer


def _drain(consumer: Any) -> list[Any]:
    async def run() -> list[Any]:
        return [item async for item in consumer.getmany(timeout=1.0)]

    return asyncio.run(run())


def test_whole_fetches_of_the_data_planes_topics_go_to_it_and_changelogs_stay_fausts() -> None:
    recalls, elsewhere = _TP(("t-vehicle.recalls", 0)), _TP(("t-odometer.readings", 2))
    paused = _TP(("t-odometer.readings", 1))  # assigned, not active (recovering)
    fetched = {
        _TP(IN): [_Record(*IN, o) for o in (7, 8, 9)],
        _TP(CHANGELOG): [_Record(*CHANGELOG, o) for o in (3, 4)],
        recalls: [],
        elsewhere: [_Record(*elsewhere, 1)],  # no longer assigned
        paused: [_Record(*paused, 1)],
    }
    cls = _fetching_class(fetched)
    patches.deliver_in_bulk(cls)
    patches.deliver_in_bulk(cls)  # idempotent
    plane = _Plane()
    app = _App()
    app.data_plane = plane  # type: ignore[attr-defined]
    consumer = cls(app)
    assert _drain(consumer) == [(_TP(CHANGELOG), ("message", 3)), (_TP(CHANGELOG), ("message", 4))]
    assert plane.received == [{_TP(IN): [7, 8, 9]}]
    assert consumer._read_offset == {_TP(IN): 9} and consumer._acked == {_TP(IN): []}
    assert _drain(cls(_App())) == [("faust's own", 0)]  # an app without a data plane: Faust's path


class _Store:
    def __init__(self, path: Any) -> None:
        from rocksdict import Options, Rdict

        self.db = Rdict(str(path), Options(raw_mode=True))
        self.persisted: dict[Any, int] = {}

    def _db_for_partition(self, partition: int) -> Any:
        return self.db

    def set_persisted_offset(self, tp: Any, offset: int) -> None:
        self.persisted[tp] = offset


class _Recovery:
    def __init__(self, table: Any) -> None:
        self.standby_tps = {_TP(CHANGELOG)}
        self.active_tps: set[Any] = {_TP(("app-plates-changelog", 0))}
        self.tp_to_table = {_TP(CHANGELOG): table, _TP(("app-plates-changelog", 0)): table}
        self.standby_offsets: dict[Any, int | None] = {_TP(CHANGELOG): 4}


class _Changelog:
    def __init__(self, offset: int, key: bytes | None, value: bytes | None) -> None:
        self.offset, self.key, self.value = offset, key, value


def test_a_standby_changelog_fetch_is_applied_in_one_batch_past_what_was_applied(tmp_path: Any) -> None:
    table = type("Table", (), {})()
    table.data = _Store(tmp_path / "db")
    table.data.db[b"gone"] = b"old"
    recovery = _Recovery(table)
    fetched = [_Changelog(4, b"seen", b"again"), _Changelog(5, b"vin", b"v1"), _Changelog(6, b"gone", None),
               _Changelog(7, b"vin", b"v2"), _Changelog(8, None, b"keyless")]  # fmt: skip
    assert patches.apply_standby(recovery, _TP(CHANGELOG), fetched)
    db = table.data.db
    assert db.get(b"vin") == b"v2" and db.get(b"gone") is None and db.get(b"seen") is None
    assert recovery.standby_offsets[_TP(CHANGELOG)] == 7 and table.data.persisted == {_TP(CHANGELOG): 7}
    # an active changelog partition (recovery decides when it ends) and an unknown one stay Faust's
    assert not patches.apply_standby(recovery, _TP(("app-plates-changelog", 0)), fetched)
    assert not patches.apply_standby(recovery, _TP(("app-other-changelog", 0)), fetched)
    db.close()


def test_standby_positions_are_the_standby_partitions_with_what_was_applied() -> None:
    table = object()
    recovery = _Recovery(table)
    app = type("App", (), {})()
    app.tables = type("Tables", (), {"recovery": recovery})()
    assert list(patches.standby_positions(app)) == [(_TP(CHANGELOG), table, 4)]
    recovery.standby_offsets.clear()
    assert list(patches.standby_positions(app)) == [(_TP(CHANGELOG), table, None)]
    recovery.active_tps.add(_TP(CHANGELOG))  # promoted: no longer a standby here
    assert list(patches.standby_positions(app)) == []


def test_a_fetch_made_while_the_flow_stopped_is_dropped_and_positions_go_back() -> None:
    cls = _fetching_class({_TP(IN): [_Record(*IN, 7)]}, flow_active=False)
    patches.deliver_in_bulk(cls)
    plane, app = _Plane(), _App()
    app.data_plane = plane  # type: ignore[attr-defined]
    consumer = cls(app)
    assert _drain(consumer) == [] and plane.received == [] and consumer.seeks == 1


def test_partitions_without_a_commit_are_rewound_to_the_start_and_the_guard_is_reset() -> None:
    cls = _consumer_class()
    patches.rewind_partitions_without_commits(cls)
    patches.rewind_partitions_without_commits(cls)
    resets: list[dict[Any, int | None]] = []

    class Guard:
        def reset(self, starts: Any) -> None:
            resets.append(dict(starts))

        def ceiling(self, tp: Any) -> int | None:
            return None

    consumer = cls(_App(Guard()))
    asyncio.run(consumer.perform_seek())
    assert consumer.seeks == 1  # Faust's own seek ran, once
    recalls = _TP(("t-vehicle.recalls", 0))
    assert consumer.sought == {recalls: 0}  # no commit: to the beginning; the changelog is Faust's
    assert consumer._read_offset == {recalls: None}
    assert resets == [{IN: 5, recalls: 0}]


def test_the_fetch_wait_is_set_on_each_consumer_made_and_can_be_changed() -> None:
    class Thread:
        def _create_worker_consumer(self, transport: Any) -> Any:
            return type("AIOKafkaConsumer", (), {"_fetch_max_wait_ms": 1500})()

    patches.shorten_fetch_wait(thread_class=Thread)
    patches.shorten_fetch_wait(thread_class=Thread)
    assert Thread()._create_worker_consumer(None)._fetch_max_wait_ms == patches.FETCH_MAX_WAIT_MS
    patches.shorten_fetch_wait(100, thread_class=Thread)  # wraps Faust's original again, not the wrapper
    assert Thread()._create_worker_consumer(None)._fetch_max_wait_ms == 100
    assert not hasattr(Thread._create_worker_consumer.carpass_original, "carpass_wait_ms")  # type: ignore[attr-defined]


def test_the_producer_buffer_is_raised_never_lowered() -> None:
    class Buffer:
        max_messages = 100

    patches.raise_producer_buffer(2_000, Buffer)
    assert Buffer.max_messages == 2_000
    patches.raise_producer_buffer(500, Buffer)
    assert Buffer.max_messages == 2_000


def test_the_reads_reach_what_faust_keeps() -> None:
    class Store:
        def __init__(self) -> None:
            self._dbs = {0: "db0", 3: "db3"}
            self.persisted: dict[Any, int] = {}

        def _db_for_partition(self, partition: int) -> str:
            return self._dbs[partition]

        def set_persisted_offset(self, tp: Any, offset: int) -> None:
            self.persisted[tp] = offset

    table = type("Table", (), {"data": Store()})()
    assert patches.partition_db(table, 3) == "db3"
    patches.persist_offset(table, CHANGELOG, 41)
    assert table.data.persisted == {CHANGELOG: 41}
    assert sorted(patches.table_dbs(table)) == ["db0", "db3"]
    marks = {b"A": b"1", patches.FAUST_OFFSET_KEY: b"17", b"B": b"2", b"C": b"3"}
    table.data._dbs[5] = marks
    assert patches.first_items(table, 5, 2) == [(b"A", b"1"), (b"B", b"2")]  # never Faust's offset key
    assert patches.first_items(table, 5, 9) == [(b"A", b"1"), (b"B", b"2"), (b"C", b"3")]
    assert patches.first_items(table, 5, 0) == []
    from faust.stores.rocksdb import Store

    assert Store.offset_key == patches.FAUST_OFFSET_KEY
    consumer = _consumer_class()(_App())
    assert patches.committed_offset(consumer, IN) == 5
    assert patches.committed_offset(consumer, CHANGELOG) is None
    added: list[Any] = []
    router = type("Router", (), {"add_routes": lambda self, routes: added.extend(routes)})()
    app = type("App", (), {"web": type("Web", (), {"web_app": type("A", (), {"router": router})()})()})()
    patches.add_routes(app, iter(["route"]))
    assert added == ["route"]
    signals: list[Any] = []
    web_app = type("A", (), {"on_response_prepare": signals})()
    patches.on_response_prepare(type("App", (), {"web": type("Web", (), {"web_app": web_app})()})(), print)
    assert signals == [print]
    assert patches.is_input_topic(IN[0]) and not patches.is_input_topic(CHANGELOG[0])
    assert not patches.is_input_topic("app-__assignor-__leader")


def _source(obj: Any) -> str:
    return inspect.getsource(obj)


def test_the_installed_faust_and_aiokafka_still_have_every_private_name_used() -> None:
    from aiokafka import AIOKafkaConsumer
    from faust.stores.rocksdb import Store
    from faust.transport.consumer import Consumer
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
    from faust.transport.producer import ProducerBuffer
    from faust.web.drivers.aiohttp import Web

    assert inspect.iscoroutinefunction(Consumer.perform_seek)
    getmany = getattr(Consumer.getmany, "carpass_original", Consumer.getmany)  # Faust's, patched or not
    assert inspect.isasyncgenfunction(getmany)
    assert "records, active_partitions = await self._wait_next_records(timeout)" in _source(getmany)
    assert "tp in self._buffered_partitions" in _source(getmany)
    assert list(inspect.signature(Consumer._wait_next_records).parameters) == ["self", "timeout"]
    assert list(inspect.signature(Consumer._to_message).parameters) == ["self", "tp", "record"]
    assert list(inspect.signature(Consumer._new_offset).parameters) == ["self", "tp"]
    assert inspect.iscoroutinefunction(Consumer.earliest_offsets)
    assert inspect.iscoroutinefunction(Consumer.seek_wait)
    init = _source(Consumer.__init__)
    assert "self._committed_offset =" in init and "self._read_offset =" in init
    assert "self._acked = defaultdict(list)" in init and "self._buffered_partitions = set()" in init
    assert "flow_active" in _source(Consumer)
    assert list(inspect.signature(AIOKafkaConsumerThread._create_worker_consumer).parameters) == [
        "self", "transport",
    ]  # fmt: skip
    assert "self._fetch_max_wait_ms = fetch_max_wait_ms" in _source(AIOKafkaConsumer.__init__)
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in _source(AIOKafkaConsumer.start)
    assert isinstance(ProducerBuffer.max_messages, int)
    assert list(inspect.signature(Store._db_for_partition).parameters) == ["self", "partition"]
    assert list(inspect.signature(Store.set_persisted_offset).parameters) == ["self", "tp", "offset"]
    assert "self._dbs = {}" in _source(Store.__init__)
    from faust.tables.recovery import Recovery

    init = _source(Recovery.__init__)
    for name in ("standby_tps", "active_tps", "tp_to_table", "standby_offsets"):
        assert f"self.{name} = " in init, name
    slurp = _source(Recovery._slurp_changelogs.fun)  # a mode ServiceTask
    assert "if seen_offset is None or offset > seen_offset:" in slurp  # what is skipped, as here
    assert "msg.value is None" in _source(Store.apply_changelog_batch)  # a tombstone deletes, as here
    assert "self.web_app: Application = Application(" in _source(Web.__init__)
    assert '"tcp": self._new_transport_tcp' in _source(Web.__init__)  # guard_web_connections replaces it
    assert "self._runner: AppRunner = AppRunner(" in _source(Web.__init__)
    assert "return self._transport_handlers[type_]()" in _source(Web._new_transport)
    from aiohttp import web as aiohttp_web

    assert hasattr(aiohttp_web.Application(), "on_response_prepare")
    from aiokafka.consumer.subscription_state import TopicPartitionState

    assert "def _ensure_consumer(self)" in _source(AIOKafkaConsumerThread)
    assert "self._subscription = SubscriptionState(" in _source(AIOKafkaConsumer.__init__)
    assert isinstance(TopicPartitionState.has_valid_position, property)
    assert isinstance(TopicPartitionState.position, property)
    from mode.worker import Worker as ModeWorker

    assert list(inspect.signature(ModeWorker._schedule_shutdown).parameters) == ["self", "signal"]
    assert "_schedule_shutdown(signal.SIGTERM)" in _source(ModeWorker._on_sigterm)


def test_a_stop_signal_ends_the_process_within_the_deadline_whatever_the_shutdown_does() -> None:
    """``stop_within``: the first stop signal arms a timer; a shutdown that hangs (the broker down) is cut
    short by ``overrun``; further signals arm nothing more; Faust's own shutdown still runs."""
    import threading

    from streams.worker.faust.patches import stop_within

    scheduled: list[object] = []
    fired = threading.Event()
    overruns: list[int] = []

    def overrun() -> None:
        overruns.append(1)
        fired.set()

    class Worker:
        def _schedule_shutdown(self, sig: object) -> None:
            scheduled.append(sig)

    worker = Worker()
    stop_within(worker, 0.05, overrun)
    stop_within(worker, 0.05, overrun)  # idempotent: one wrapper
    worker._schedule_shutdown("SIGTERM")
    worker._schedule_shutdown("SIGINT")
    assert scheduled == ["SIGTERM", "SIGINT"]
    assert fired.wait(5)
    time.sleep(0.2)
    assert overruns == [1]  # one timer, not one a signal


def test_the_fetch_position_is_aiokafkas_consumed_position_or_none() -> None:
    from types import SimpleNamespace

    from streams.worker.faust.patches import fetch_position

    states = {("t", 0): SimpleNamespace(has_valid_position=True, position=42),
              ("t", 1): SimpleNamespace(has_valid_position=False, position=None)}  # fmt: skip
    assignment = SimpleNamespace(state_value=states.get)
    subscription = SimpleNamespace(subscription=SimpleNamespace(assignment=assignment))
    client = SimpleNamespace(_subscription=subscription)
    consumer = SimpleNamespace(_thread=SimpleNamespace(_ensure_consumer=lambda: client))
    assert fetch_position(consumer, ("t", 0)) == 42
    assert fetch_position(consumer, ("t", 1)) is None  # a reset under way
    assert fetch_position(consumer, ("t", 2)) is None  # not assigned
    assert fetch_position(SimpleNamespace(), ("t", 0)) is None  # no consumer thread yet



def test_the_web_server_is_served_through_the_connection_guard() -> None:
    from aiohttp import web as aiohttp_web

    from streams.http.guard import ConnectionGuard, GuardedSite

    web_app = aiohttp_web.Application()
    faust_web = type("Web", (), {"web_app": web_app, "_runner": aiohttp_web.AppRunner(web_app),
                                 "_transport_handlers": {"tcp": None}})()  # fmt: skip
    conf = type("Conf", (), {"web_bind": "127.0.0.1", "web_port": 6099})()
    guard = ConnectionGuard(5, 1.0)
    patches.guard_web_connections(type("App", (), {"web": faust_web, "conf": conf})(), guard)
    assert web_app.middlewares[0] == guard.middleware

    async def made() -> Any:
        await faust_web._runner.setup()  # as Faust's start_server does before it makes the site
        try:
            return faust_web._transport_handlers["tcp"]()
        finally:
            await faust_web._runner.cleanup()

    site = asyncio.run(made())
    assert isinstance(site, GuardedSite) and (site.host, site.requested_port) == ("127.0.0.1", 6099)
    assert site.guard is guard


def test_the_changelog_is_the_one_faust_makes_for_the_vehicle_table() -> None:
    import faust

    from streams.worker.replay import changelog_topic

    app = faust.App("it-abc-worker", broker="kafka://127.0.0.1:1", store="memory://")
    assert app.Table("vehicles").changelog_topic_name == changelog_topic("it-abc-worker", "vehicles")
