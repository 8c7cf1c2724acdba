"""Every use of Faust's and aiokafka's private API, in one place, for the versions it was written against.

The worker corrects three behaviours of faust-streaming 0.15 (on aiokafka 0.13-0.14), raises one class
limit and reads a few private attributes. Each is a function here, idempotent where it patches, and each
has a unit test against a stub of what it touches plus a check that the installed class still has it
(``tests/unit/streams/worker/faust/test_patches.py``): a release the pins allow that renames or drops one
fails a unit test, not only a slow broker test. :func:`check_versions` refuses other versions at start-up.

=====================================  ============================================  =========================
function                               private API it uses                           why
=====================================  ============================================  =========================
:func:`rewind_partitions_without_      ``Consumer.perform_seek``,                    input events lost after
commits`                               ``_committed_offset``, ``_read_offset``       an assignment
:func:`guard_commits`                  ``Consumer._new_offset``                      never commit unstored
:func:`deliver_in_bulk`                ``Consumer.getmany``, ``_wait_next_records``,  whole fetches to the
                                       ``_read_offset``, ``_acked``,                 batch steps (no per-
                                       ``_buffered_partitions``, ``_to_message``     message machinery)
:func:`apply_standby`,                 ``Recovery.standby_tps``, ``active_tps``,     standby changelogs
:func:`standby_positions`              ``tp_to_table``, ``standby_offsets``          applied in bulk; lag
:func:`shorten_fetch_wait`             ``AIOKafkaConsumerThread._create_worker_      receipts 1-2.5 s late
                                       consumer``, aiokafka ``_fetch_max_wait_ms``
:func:`raise_producer_buffer`          ``ProducerBuffer.max_messages``               streams stalled
:func:`committed_offset`               ``Consumer._committed_offset``                registration marks
:func:`partition_db`,                  ``Store._db_for_partition``,                  tables written beside
:func:`persist_offset`,                ``Store.set_persisted_offset``                ``Table.__setitem__``;
:func:`first_items`                                                                  the views that wait
:func:`table_dbs`                      ``Store._dbs``                                the table-keys gauge
:func:`add_routes`,                    ``Web.web_app`` (aiohttp application)         the API's routes,
:func:`on_response_prepare`                                                          security headers
:func:`guard_web_connections`          ``Web._transport_handlers``, ``Web._runner``  a connection cap, and
                                                                                     half-sent requests
                                                                                     closed (slowloris)
:func:`stop_within`                    mode ``Worker._schedule_shutdown``            SIGTERM with the broker
                                                                                     down hung for minutes
:func:`fetch_position`                 ``AIOKafkaConsumerThread._ensure_consumer``,  event-time order: has a
                                       aiokafka ``_subscription``                    topic more to read?
=====================================  ============================================  =========================

The consumer patches find the worker's commit guard as ``consumer.app.commit_guard`` and its data plane as
``consumer.app.data_plane`` (attributes the worker's app sets; a consumer of an app without them is left as
Faust made it).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from importlib import metadata
from typing import Any, Protocol

SUPPORTED = {"faust-streaming": ("0.15.",), "aiokafka": ("0.13.", "0.14.")}
"""Distribution -> the version prefixes this module was written against (the pins in pyproject.toml)."""

FETCH_MAX_WAIT_MS = 20
"""How long the broker may hold a fetch of the worker's consumer waiting for data (Faust hard-codes 1,500)."""


class CommitCeiling(Protocol):
    """What the consumer patches ask of the worker (``streams.worker.offsets.CommitGuard``)."""

    def reset(self, starts: Mapping[Any, int | None]) -> None: ...

    def ceiling(self, tp: Any) -> int | None: ...

    def owns(self, topic: str) -> bool:
        """Whether ``topic`` is read by the worker's own data plane (its commits are the ceiling alone)."""
        ...


class DataPlane(Protocol):
    """What :func:`deliver_in_bulk` hands fetches to (``streams.worker.faust.app.AppContext``)."""

    def takes(self, topic: str) -> bool:
        """Whether the records of ``topic`` go to :meth:`receive` (else to Faust's streams, one by one)."""
        ...

    async def receive(self, records: Mapping[Any, Sequence[Any]]) -> None:
        """One fetch: TP -> its aiokafka ``ConsumerRecord``s in offset order. Returns once they are processed
        and stored (or left unprocessed, behind the commit ceiling)."""
        ...


class UnsupportedVersionError(RuntimeError):
    """faust-streaming or aiokafka is not a version these patches were written against."""


def check_versions(installed: Mapping[str, str] | None = None) -> None:
    """Raise :class:`UnsupportedVersionError` unless faust-streaming and aiokafka are versions listed in
    :data:`SUPPORTED`. ``installed``: distribution -> version (default: what is installed)."""
    for name, prefixes in SUPPORTED.items():
        version = installed[name] if installed is not None else metadata.version(name)
        if not version.startswith(prefixes):
            raise UnsupportedVersionError(
                f"{name} {version} is installed; streams/worker/faust/patches.py was written against "
                f"{' or '.join(p + 'x' for p in prefixes)}. Check each patch against it (its unit tests "
                "say which private names it needs) before widening the pin."
            )


def is_input_topic(topic: str) -> bool:
    """A topic the agents consume (not a table changelog, not Faust's assignor topic)."""
    return not topic.endswith("-changelog") and "__assignor" not in topic


def _guard(consumer: Any) -> CommitCeiling | None:
    return getattr(getattr(consumer, "app", None), "commit_guard", None)


def _plane(consumer: Any) -> DataPlane | None:
    return getattr(getattr(consumer, "app", None), "data_plane", None)


def _faust_consumer() -> Any:
    from faust.transport.consumer import Consumer

    return Consumer


def rewind_partitions_without_commits(consumer_class: Any = None) -> None:
    """Work around a loss of input events in faust-streaming 0.15 (aiokafka 0.14), found by the crash test.

    While a worker recovers its tables after an assignment, its fetcher already runs and the stream skips
    what it fetches; recovery then seeks every partition back to its committed offset. aiokafka's
    ``seek_to_committed`` seeks only when that offset is above 0, so a partition with no committed offset
    (a new group, or a worker killed before its first commit) keeps the position after the skipped
    events, and they are never processed. After Faust's seek, this seeks such input partitions to their
    beginning (``consumer_auto_offset_reset = earliest``). Changelog and assignor partitions are left to
    Faust's recovery. It also tells the worker's commit guard where each input partition resumes.
    ``consumer_class``: Faust's ``Consumer`` (a stub in tests). Process-wide and idempotent.
    """
    cls = consumer_class if consumer_class is not None else _faust_consumer()
    if getattr(cls.perform_seek, "carpass_rewinds", False):
        return
    original = cls.perform_seek

    async def perform_seek(self: Any) -> None:
        await original(self)
        inputs = [tp for tp in self.assignment() if is_input_topic(tp.topic)]
        uncommitted = [tp for tp in inputs if not self._committed_offset.get(tp)]
        starts: dict[Any, int | None] = {tp: self._committed_offset.get(tp) for tp in inputs}
        if uncommitted:
            earliest = await self.earliest_offsets(*uncommitted)
            await self.seek_wait({tp: offset for tp, offset in earliest.items() if offset is not None})
            for tp in uncommitted:
                self._read_offset[tp] = None
                starts[tp] = earliest.get(tp)
        guard = _guard(self)
        if guard is not None:
            guard.reset(starts)

    perform_seek.carpass_rewinds = True  # type: ignore[attr-defined]
    cls.perform_seek = perform_seek


def guard_commits(consumer_class: Any = None) -> None:
    """Never commit an input partition past what the worker's agents processed and stored
    (:mod:`streams.worker.offsets` says why). Wraps Faust's ``Consumer._new_offset`` (the offset its commit
    would write, from the acknowledged offsets and the gaps it filled) with the commit guard's ceiling; for
    a topic of the worker's own data plane (:func:`deliver_in_bulk`: no Faust acknowledgements at all) the
    offset is the ceiling itself. ``consumer_class``: Faust's ``Consumer`` (a stub in tests). Process-wide
    and idempotent."""
    cls = consumer_class if consumer_class is not None else _faust_consumer()
    if getattr(cls._new_offset, "carpass_guarded", False):
        return
    original = cls._new_offset

    def _new_offset(self: Any, tp: Any) -> int | None:
        guard = _guard(self)
        if guard is not None and guard.owns(tp[0]):  # TP(topic, partition)
            return guard.ceiling(tp)
        offset: int | None = original(self, tp)
        if offset is None or guard is None:
            return offset
        ceiling = guard.ceiling(tp)
        return offset if ceiling is None else min(offset, ceiling)

    _new_offset.carpass_guarded = True  # type: ignore[attr-defined]
    cls._new_offset = _new_offset


def deliver_in_bulk(consumer_class: Any = None) -> None:
    """Hand whole fetches of the worker's input topics to its data plane, bypassing Faust's per-message path.

    faust-streaming 0.15 sends every fetched record through ``Consumer._drain_messages``: a ``Message``, a
    task per message raced against the flow-control event, the conductor's lock, an ``Event`` on a channel
    queue, a stream that acknowledges it one by one (measured: about 100 µs an event, half of the worker's
    time). Wrapped here, ``Consumer.getmany`` (the fetcher's source of records) gives the records of the
    topics the data plane ``takes`` to ``DataPlane.receive`` in one call per fetch, and yields only the
    others (table changelogs: recovery and standbys stay Faust's) as Faust's messages. Faust's checks are
    kept: records are handed over only while the flow is active, for partitions still assigned and active
    (not paused for recovery). Offsets of the data plane's partitions are committed from the commit guard
    (:func:`guard_commits`); their partitions are put where Faust's commit looks (``_acked``) and their read
    offset where its livelock check looks (``_read_offset``). ``consumer_class``: Faust's ``Consumer`` (a
    stub in tests). Process-wide and idempotent.
    """
    cls = consumer_class if consumer_class is not None else _faust_consumer()
    if getattr(cls.getmany, "carpass_bulk", False):
        return
    original = cls.getmany

    async def getmany(self: Any, timeout: float) -> AsyncIterator[tuple[Any, Any]]:
        plane = _plane(self)
        if plane is None:
            async for item in original(self, timeout):
                yield item
            return
        records, active = await self._wait_next_records(timeout)
        if records is None or self.should_stop:
            return
        if not self.flow_active:  # as Faust does: what was fetched is dropped, positions go back
            await self.perform_seek()
            return
        assigned = self.assignment()
        buffered = self._buffered_partitions
        bulk: dict[Any, Sequence[Any]] = {}
        rest = []
        for tp, fetched in records.items():
            if not fetched or tp not in assigned:
                continue
            if active is not None and tp not in active and tp not in buffered:
                continue
            if plane.takes(tp.topic):
                bulk[tp] = fetched
            else:
                rest.append((tp, fetched))
        await plane.receive(bulk)  # also when empty: records held for event-time order may go now
        if bulk:
            read, acked = self._read_offset, self._acked
            for tp, fetched in bulk.items():
                read[tp] = fetched[-1].offset
                acked.setdefault(tp, [])  # Faust's commit considers the partitions found here
        to_message = self._to_message
        recovery = getattr(getattr(self.app, "tables", None), "recovery", None)
        for tp, fetched in rest:
            if recovery is not None and apply_standby(recovery, tp, fetched):
                self._read_offset[tp] = fetched[-1].offset
                continue
            for record in fetched:
                yield tp, to_message(tp, record)

    getmany.carpass_bulk = True  # type: ignore[attr-defined]
    getmany.carpass_original = original  # type: ignore[attr-defined]
    cls.getmany = getmany


def apply_standby(recovery: Any, tp: Any, records: Sequence[Any]) -> bool:
    """Apply a fetch of a standby changelog partition to its table's RocksDB in one write batch, as Faust's
    recovery would one event at a time (``Recovery._slurp_changelogs``: an ``Event`` per record, then
    ``Store.apply_changelog_batch`` every 1,000): the raw keys and values put (a ``None`` value deletes),
    the partition's persisted offset and the recovery's standby offset moved to the last record. Records
    at or below the standby offset already applied are skipped, as Faust skips them. Whether ``tp`` was a
    standby partition (else nothing is done: active recovery stays Faust's, it decides when a recovery
    ends)."""
    if tp not in recovery.standby_tps or tp in recovery.active_tps:
        return False
    table = recovery.tp_to_table.get(tp)
    if table is None:
        return False
    from rocksdict import WriteBatch

    seen = recovery.standby_offsets.get(tp)
    batch = WriteBatch(raw_mode=True)
    last = None
    for record in records:
        if (seen is not None and record.offset <= seen) or record.key is None:  # changelogs have keys
            continue
        if record.value is None:
            batch.delete(record.key)
        else:
            batch.put(record.key, record.value)
        last = record.offset
    if last is not None:
        partition_db(table, tp.partition).write(batch)
        persist_offset(table, tp, last)
        recovery.standby_offsets[tp] = last
    return True


def standby_positions(app: Any) -> Iterator[tuple[Any, Any, int | None]]:
    """Each standby changelog partition of ``app``'s tables on this worker: ``(tp, table, last offset
    applied)`` (``None``: nothing yet)."""
    recovery = app.tables.recovery
    for tp in list(recovery.standby_tps):
        table = recovery.tp_to_table.get(tp)
        if table is not None and tp not in recovery.active_tps:
            yield tp, table, recovery.standby_offsets.get(tp)


def shorten_fetch_wait(wait_ms: int = FETCH_MAX_WAIT_MS, thread_class: Any = None) -> None:
    """Give the worker's aiokafka consumer a short fetch wait.

    faust-streaming 0.15 creates it with ``fetch_max_wait_ms=1500``. Measured here under a steady 1,500
    readings/s, the worker then sees each reading 1 to 2.5 s after it was sent, while busy only a third of
    the time; with 20 ms the receipt is out 80 ms (p50) after the reading was sent. The cost is an empty
    fetch every 20 ms on an idle partition. ``thread_class``: Faust's ``AIOKafkaConsumerThread`` (a stub
    in tests). Process-wide and idempotent.
    """
    if thread_class is None:
        from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

        thread_class = AIOKafkaConsumerThread
    create = thread_class._create_worker_consumer
    if getattr(create, "carpass_wait_ms", None) == wait_ms:
        return
    original = getattr(create, "carpass_original", create)

    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        consumer._fetch_max_wait_ms = wait_ms  # read by aiokafka when the consumer starts its fetcher
        return consumer

    create_worker_consumer.carpass_wait_ms = wait_ms  # type: ignore[attr-defined]
    create_worker_consumer.carpass_original = original  # type: ignore[attr-defined]
    thread_class._create_worker_consumer = create_worker_consumer


def raise_producer_buffer(minimum: int, buffer_class: Any = None) -> None:
    """Faust's producer buffer (changelogs of tables written through Faust) stalls the streams once it
    holds more than ``ProducerBuffer.max_messages`` (100); one batch can write ``minimum`` keys. Never
    lowers it. ``buffer_class``: Faust's ``ProducerBuffer`` (a stub in tests). Process-wide."""
    if buffer_class is None:
        from faust.transport.producer import ProducerBuffer

        buffer_class = ProducerBuffer
    buffer_class.max_messages = max(buffer_class.max_messages, minimum)


def committed_offset(consumer: Any, tp: Any) -> int | None:
    """The offset the group had committed for ``tp`` when this worker was assigned it (Faust's record of
    it), or ``None``."""
    committed: int | None = getattr(consumer, "_committed_offset", {}).get(tp)
    return committed


def partition_db(table: Any, partition: int) -> Any:
    """The RocksDB database (rocksdict ``Rdict``) of one partition of a Faust table, opened if needed:
    what Faust's own changelog recovery writes into."""
    return table.data._db_for_partition(partition)


FAUST_OFFSET_KEY = b"__faust\0offset__"
"""faust-streaming 0.15's ``faust.stores.rocksdb.Store.offset_key``."""


def first_items(table: Any, partition: int, limit: int) -> list[tuple[bytes, bytes]]:
    """Up to ``limit`` (key, value) pairs of one partition of a Faust table, in key order, from its RocksDB
    database (:func:`partition_db`): what a table of marks still holds. Faust's own key in that database
    (``Store.offset_key``: the changelog offset applied) is left out."""
    out: list[tuple[bytes, bytes]] = []
    if limit <= 0:
        return out
    own = getattr(table.data, "offset_key", FAUST_OFFSET_KEY)
    for key, value in partition_db(table, partition).items():
        if key == own:
            continue
        out.append((key, value))
        if len(out) >= limit:
            break
    return out


def persist_offset(table: Any, tp: Any, offset: int) -> None:
    """Record in the table's store that its changelog partition ``tp`` is applied up to ``offset``
    (recovery resumes after it)."""
    table.data.set_persisted_offset(tp, offset)


def table_dbs(table: Any) -> Iterator[Any]:
    """The RocksDB databases a Faust table has open on this worker (its active partitions and its
    standbys: faust-streaming 0.15 does not tell them apart here)."""
    yield from getattr(table.data, "_dbs", {}).values()


def on_response_prepare(app: Any, handler: Any) -> None:
    """Call ``handler(request, response)`` before every response of the Faust web server of ``app`` (its own
    pages included)."""
    app.web.web_app.on_response_prepare.append(handler)


def guard_web_connections(app: Any, guard: Any) -> None:
    """Serve the Faust web server of ``app`` through ``guard`` (a ``streams.http.guard.ConnectionGuard``):
    its TCP site becomes a ``GuardedSite`` on the same bind address and port, and the guard's middleware
    runs first. Call before the app starts (aiohttp freezes its middlewares then)."""
    from streams.http.guard import GuardedSite

    web = app.web
    web.web_app.middlewares.insert(0, guard.middleware)
    conf = app.conf
    web._transport_handlers["tcp"] = lambda: GuardedSite(web._runner, conf.web_bind, conf.web_port, guard)


def add_routes(app: Any, routes: Iterable[Any]) -> None:
    """Add aiohttp route definitions to the Faust web server of ``app`` (its ``@app.page`` takes Faust
    views only)."""
    app.web.web_app.router.add_routes(list(routes))


def stop_within(worker: Any, seconds: float, overrun: Callable[[], None]) -> None:
    """Call ``overrun()`` (from a daemon thread) if the process still runs ``seconds`` after the first stop
    signal. mode's ``Worker`` stops on SIGTERM/SIGINT (``_schedule_shutdown``) by stopping every service in
    turn, and with the broker unreachable the consumer's last commit and the producers' flush wait on it:
    a worker asked to stop hung for more than a minute and needed SIGKILL. ``overrun`` says what is left
    and ends the process; nothing is lost by it (inputs are committed only past what is stored).
    Idempotent."""
    original = worker._schedule_shutdown
    if getattr(original, "carpass_deadline", False):
        return
    started: list[threading.Timer] = []

    def schedule(sig: Any) -> None:
        if not started:
            timer = threading.Timer(seconds, overrun)
            timer.daemon = True
            timer.start()
            started.append(timer)
        original(sig)

    schedule.carpass_deadline = True  # type: ignore[attr-defined]
    worker._schedule_shutdown = schedule


def fetch_position(consumer: Any, tp: Any) -> int | None:
    """The next offset of ``tp`` aiokafka will hand to ``getmany`` (records before it were given to the
    data plane), or ``None`` when it is not known (not assigned, a reset under way, no consumer yet).
    With the high watermark it says whether the broker holds records of ``tp`` not received yet, also for
    a partition of which nothing was ever received (an empty one: its position is its end)."""
    try:
        client = consumer._thread._ensure_consumer()
        state = client._subscription.subscription.assignment.state_value(tp)
    except Exception:  # no thread, no consumer, no assignment yet
        return None
    if state is None or not state.has_valid_position:
        return None
    position: int = state.position
    return position

