"""``build_app(settings)``: the Faust application of one worker process (``carpass worker``).

::

    odometer.readings, odometer.corrections,  ─┐
    vehicle.registrations, vehicle.recalls,    ├─► agent vehicles ── table vehicles (VIN -> VehicleState,
    vehicle.accident-inspections,              │   (whole          state.codec bytes, RocksDB + changelog)
    carpass.plate-resolved-readings           ─┘    fetches)   ──► odometer.receipts, odometer.anomalies,
                                                                   dead-letters      (confluent producer)
    vehicle.registrations ──► agent registration-plates ── table registration-plates
                                                     ──► carpass.plate-intervals
    odometer.plate-readings, carpass.plate-intervals ──► agent plates ── table plates
                                                     ──► carpass.plate-resolved-readings, odometer.receipts
    timer plate-ticks ──► carpass.plate-intervals (one tick per assigned partition: event time moves on)
    timer registration-marks ──► carpass.plate-intervals, every partition, twice a second: how far the
                                 registration-plates agent has come (plate readings wait for it)
    web: GET /metrics (Prometheus)

One agent folds every VIN-keyed topic, so the events of a VIN are decided in partition order across
topics (merged by timestamp within a fetch); all of them have the same partition count
(``streams.kafka.admin.ensure_topics``). The batch logic lives in :mod:`streams.worker.batch`,
:mod:`streams.worker.vehicles` and :mod:`streams.worker.plates`, testable without Faust.

Faust keeps the control plane: group membership, assignment of the inputs with the tables' partitions,
table recovery and standbys, table routing, the web server, timers. The data plane is the worker's own:
an "agent" here is not a Faust agent but a batch step this context calls with each fetch of the consumer
(``patches.deliver_in_bulk``: no Faust ``Event``, task, queue or acknowledgement per message), one agent
after the other in the fetcher's task; an input offset is committed once every agent reading it has
stored it (the commit guard, ``streams.worker.offsets``).

Extension points for other packages (projections), given to :func:`build_app` as ``extensions``: each is
called with the :class:`AppContext`, whose ``vehicle_hooks`` (called with ``(vin, state, as_of_ms)`` after
a VIN's state is stored), ``agent(...)``, ``store(...)`` and ``add_routes(...)`` it uses.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import logging
import operator
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import faust
from faust.types import TP
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from schemas.codec import Codec
from streams.domain.policy import DEFAULT_POLICY, Policy
from streams.http.guard import ConnectionGuard
from streams.http.responses import security_headers
from streams.kafka.acls import AccessFileError, load_access
from streams.kafka.clients import bootstrap_servers, build_codec, kafka_security, ssl_context
from streams.kafka.topics import PipelineTopics
from streams.settings import Settings, SettingsError
from streams.state.cache import StateCache
from streams.worker.align import EventTimeAligner
from streams.worker.batch import RawMessage
from streams.worker.faust import patches
from streams.worker.faust.adapters import KafkaSink, TableStore
from streams.worker.faust.patches import is_input_topic
from streams.worker.intake import IntakeChecker
from streams.worker.metrics import WorkerMetrics
from streams.worker.offsets import AgentWatermarks, CommitGuard, StandbyStalls
from streams.worker.plates import (
    TICK,
    PlateProcessor,
    PlateTimelineProcessor,
    mark_message,
    registration_mark,
)
from streams.worker.providers import ProviderFollower
from streams.worker.vehicles import VehicleHook, VehicleProcessor

log = logging.getLogger(__name__)

LAG_EVERY_S = 5.0
STOP_GRACE_S = 15.0
"""How long a worker stopping after a failed batch may take before the process is ended."""
EXIT_BATCH_FAILED = 70
"""The exit status of a worker ended that way (``EX_SOFTWARE``)."""
MARK_EVERY_S = 0.5
"""How often each worker sends the registration marks plate readings wait for (see ``plates.py``)."""


Step = Callable[[list[RawMessage]], object]
"""An agent's batch step: returns once the batch's outputs and state are durable, raises otherwise."""


@dataclass(slots=True)
class AppContext:
    """Everything a module extending the worker needs."""

    app: faust.App
    settings: Settings
    topics: PipelineTopics
    metrics: WorkerMetrics
    codec: Codec
    sink: KafkaSink
    tables: dict[str, Any] = field(default_factory=dict)
    vehicle_hooks: list[VehicleHook] = field(default_factory=list)
    """Called after each VIN's new state is stored, in order; empty by default."""
    vehicle_processor: VehicleProcessor | None = None
    """The vehicle agent's step (its ``deferral`` is set by the projections)."""
    vehicle_store: TableStore | None = None
    """The vehicle table's store (a table written with it goes in its ``companions``)."""
    positions: dict[tuple[str, int], int] = field(default_factory=dict)
    """(topic, partition) -> next offset to process, for the lag metric."""
    stores: list[TableStore] = field(default_factory=list)
    """Every table store the batch steps write through (their unflushed writes go when a step fails)."""
    watermarks: CommitGuard = field(default_factory=CommitGuard)
    standby_stalls: StandbyStalls = field(default_factory=StandbyStalls)
    """What each agent really processed and stored: the commit ceiling (``streams.worker.offsets``)."""
    agents: list[_Agent] = field(default_factory=list)
    given_up: BatchFailedError | None = None
    """The failure that stops the worker (then nothing more is processed)."""
    _stopping: Any = None
    """The task stopping the worker after a failed batch (held: asyncio keeps only weak references)."""

    def store(self, table: Any) -> TableStore:
        """A :class:`TableStore` over ``table`` through the worker's sink, for a batch step."""
        store = TableStore(table, self.sink)
        self.stores.append(store)
        return store

    def table(self, name: str) -> Any:
        """A Faust table ``name`` of raw bytes keys and values, partitioned like the inputs (write it
        through :meth:`store`)."""
        # key_type/value_type bytes make Faust use its "raw" serializer for the store and the changelog.
        table = self.app.Table(name, partitions=self.settings.partitions, key_type=bytes, value_type=bytes)
        self.tables[name] = table
        return table

    def internal_topic(self, topic: str) -> Any:
        """A topic of raw bytes between this worker's agents, partitioned like the inputs (Faust makes
        it), for :meth:`agent`'s ``channel`` and for sending."""
        return self.app.topic(topic, partitions=self.settings.partitions, internal=True, key_type=bytes,
                              value_type=bytes, key_serializer="raw", value_serializer="raw")  # fmt: skip

    def add_routes(self, routes: Iterable[Any]) -> None:
        """aiohttp route definitions served by the worker's web server (the API)."""
        patches.add_routes(self.app, routes)

    def agent(
        self, name: str, step: Step, *topics: str, channel: Any = None, aligned: bool = False,
        gate: Callable[[int], bool] | None = None,
    ) -> None:  # fmt: skip
        """Agent ``name``: ``topics`` (raw bytes; ``channel``: a Faust topic made for them, e.g. an internal
        one) handed to ``step`` in batches by :meth:`receive`, in the order agents were added. The topics
        are subscribed through Faust (group membership, assignment with the tables), but their records
        never enter Faust's streams (``patches.deliver_in_bulk``). Its watermarks exist from now on,
        before the first assignment. ``aligned``: its co-partitioned topics are read in event-time order
        (``streams.worker.align``; ties: the order of ``topics``), waiting up to ``settings.align_wait_s``
        for a topic the consumer has not read far enough. ``gate(t)``: whether records stamped up to ``t``
        may be processed; a batch waits until its newest record's stamp passes (the registry of
        providers)."""
        watermarks = self.watermarks.agent(name, topics)
        self.metrics.batch_failures.labels(name)  # the series exists from the start, at 0
        if gate is not None:
            self.metrics.gate_held.labels(name).set(0)
        source = channel if channel is not None else _raw_topic(self.app, *topics)
        self.app.topics.add(source)
        expired = self.metrics.align_waits_expired.labels(name).inc
        aligner = EventTimeAligner(topics, self.settings.align_wait_s, expired) if aligned else None
        self.agents.append(_Agent(name, frozenset(topics), step, watermarks, aligner, gate))

    def takes(self, topic: str) -> bool:
        """Whether an agent reads ``topic`` (:class:`~streams.worker.faust.patches.DataPlane`)."""
        return self.watermarks.owns(topic)

    async def receive(self, records: Mapping[Any, Sequence[Any]]) -> None:
        """One fetch of the consumer (TP -> aiokafka records in offset order), handed to each agent that reads
        some of it: its records merged across partitions by timestamp (stable: a partition's order is
        kept), admitted by the watermarks (nothing past a hole), cut to ``settings.batch_max_events`` and
        given to its step, which returns once the batch's outputs and state are durable. Only then does the
        agent's commit ceiling pass the batch (:mod:`streams.worker.offsets`). A step that raises is tried
        again from the batch's first event (:meth:`attempt`); one that keeps failing stops the worker, and
        nothing is processed after it. Partitions with a hole before what was processed are then sought
        back to it."""
        if self.given_up is not None:
            return
        size = self.settings.batch_max_events
        for agent in self.agents:
            fetched = [each for tp, each in records.items() if tp.topic in agent.topics]
            aligner = agent.aligner
            if aligner is not None:
                aligner.add(fetched)
                if not aligner.held():
                    continue
                assignment = frozenset((tp.topic, tp.partition) for tp in self.app.consumer.assignment())
                released = aligner.release(time.monotonic(), functools.partial(self.lagging, aligner),
                                           functools.partial(_assigned, assignment))  # fmt: skip
                self.metrics.records_held.labels(agent.name).set(aligner.held())
                if not released:
                    continue
                fetched = [released]
            elif not fetched:
                continue
            if agent.gate is not None and not await self.pass_gate(agent, fetched):
                return
            batch = self.batch(fetched, agent.watermarks)
            for start in range(0, len(batch), size):
                if not await self.process(agent, batch[start : start + size]):
                    return
        await self.seek_back_holes()

    async def pass_gate(self, agent: _Agent, fetched: Sequence[Sequence[Any]]) -> bool:
        """Wait until ``agent``'s gate lets the newest record of ``fetched`` through; ``False`` if the worker
        is stopping meanwhile (nothing processed: the records are fetched again by the next owner)."""
        gate = agent.gate
        assert gate is not None
        newest = max((record.timestamp for each in fetched for record in each), default=0)
        started = time.monotonic()
        said = started
        held = self.metrics.gate_held.labels(agent.name)
        while not gate(newest):
            if self.given_up is not None or self.app.should_stop:
                held.set(0)
                return False
            now = time.monotonic()
            held.set(now - started)
            if now - said >= GATE_LOG_EVERY_S:
                said = now
                log.warning("%s: batch held %.0f s: the registry of providers is not read up to %d "
                            "yet (is providers.registry readable?)", agent.name, now - started,
                            newest)  # fmt: skip
            await asyncio.sleep(GATE_POLL_S)
        held.set(0)
        return True

    def left_behind(self) -> str:
        """In words, for the log of a stop: per input partition, the offsets processed and stored but not
        committed, and the records fetched and held (not processed)."""
        consumer = self.app.consumer
        try:
            assignment = sorted(consumer.assignment())
        except Exception:  # a consumer not started, or stopped
            assignment = []
        parts = []
        for tp in assignment:
            if not self.watermarks.owns(tp.topic):
                continue
            stored = self.watermarks.ceiling((tp.topic, tp.partition))
            committed = patches.committed_offset(consumer, tp) or 0
            if stored is not None and stored > committed:
                parts.append(f"{tp.topic}[{tp.partition}] {committed}-{stored - 1}")
        held = sum(agent.aligner.held() for agent in self.agents if agent.aligner is not None)
        stored_text = ", ".join(parts) if parts else "none"
        return (f"Offsets stored (outputs on Kafka, state in the changelog) but not committed, to be "
                f"processed again by the partitions' next owner: {stored_text}. Records fetched and held, "
                f"not processed: {held}. A batch under way is not committed either.")  # fmt: skip

    def lagging(self, aligner: EventTimeAligner, topic: str, partition: int) -> bool:
        """Whether the broker holds records of ``topic[partition]`` this worker has not received yet (by the
        consumer's high watermark; unknown: yes)."""
        consumer = self.app.consumer
        tp = TP(topic, partition)
        high = _highwater(consumer, tp)
        if high is None:
            return True
        position = patches.fetch_position(consumer, tp)
        if position is None:
            position = aligner.received.get((topic, partition))
        return position is None or position < high

    async def process(self, agent: _Agent, batch: list[RawMessage]) -> bool:
        """``agent``'s step over ``batch`` (:meth:`attempt`), then its ceiling up; ``False`` once the worker
        gives up (:meth:`stop_worker` is then under way)."""
        watermarks = agent.watermarks
        try:
            await self.attempt(agent.name, agent.step, batch)
        except BatchFailedError as exc:
            watermarks.failed(_firsts(batch))
            self.given_up = exc
            # In a task of its own: stopping the app stops the fetcher this runs in.
            self._stopping = asyncio.ensure_future(self.stop_worker(exc))
            return False
        except PartitionsRevokedError as exc:
            log.warning("agent %s: %s; the batch is left to their new owner", agent.name, exc)
            watermarks.failed(_firsts(batch))
            return True
        except BaseException:  # the fetcher is stopped (a rebalance, a shutdown) while a batch waits
            watermarks.failed(_firsts(batch))
            raise
        watermarks.stored()
        return True

    async def attempt(self, name: str, step: Step, batch: list[RawMessage]) -> None:
        """Run ``step(batch)`` until it returns: after a failure, wait (0.5 s, doubling up to
        ``settings.batch_retry_max_s``) and try the whole batch again (steps are deterministic and their
        outputs idempotent, a failed flush leaves nothing pending). After ``settings.batch_attempts``
        failures, log why and raise :class:`BatchFailedError`. Before each new attempt, the batch's
        partitions must still be this worker's: else :class:`PartitionsRevokedError` (a retry would write
        the state of a partition another worker now owns)."""
        settings = self.settings
        failures = 0
        while True:
            if failures:
                lost = self.not_assigned(batch)
                if lost:
                    raise PartitionsRevokedError(f"{', '.join(lost)} no longer assigned to this worker")
            try:
                step(batch)
                return
            except Exception as exc:
                for store in self.stores:  # steps are synchronous: only the failed one had writes pending
                    store.discard()
                failures += 1
                self.metrics.batch_failures.labels(name).inc()
                where = _describe(batch)
                if failures >= settings.batch_attempts:
                    log.critical(
                        "agent %s: a batch of %d events (%s) failed %d times; stopping the worker. Nothing "
                        "of the batch is committed: a restarted worker processes it again. Last error: "
                        "%s: %s", name, len(batch), where, failures, type(exc).__name__, exc, exc_info=exc,
                    )  # fmt: skip
                    raise BatchFailedError(f"agent {name}: batch ({where}) failed: {exc}") from exc
                delay = min(settings.batch_retry_max_s, 0.5 * 2 ** (failures - 1))
                log.warning(
                    "agent %s: a batch of %d events (%s) failed (attempt %d of %d), trying again in %.1f s: "
                    "%s: %s", name, len(batch), where, failures, settings.batch_attempts, delay,
                    type(exc).__name__, exc,
                )  # fmt: skip
                await asyncio.sleep(delay)

    def not_assigned(self, batch: Sequence[RawMessage]) -> list[str]:
        """The partitions of ``batch`` this worker's consumer is no longer assigned (``topic[p]``)."""
        if self.app is None:  # a context without a running app (unit tests of the retries)
            return []
        assigned = {(tp.topic, tp.partition) for tp in self.app.consumer.assignment()}
        return sorted({f"{m.topic}[{m.partition}]" for m in batch if (m.topic, m.partition) not in assigned})

    async def stop_worker(self, reason: BaseException) -> None:
        """Stop the whole worker with ``reason``: the process exits with an error. Faust's shutdown can wait
        for ever on a last commit once the consumer has left the group (seen in the test of this path), so
        the process is ended ``STOP_GRACE_S`` later if it is still there; nothing unstored is committed
        either way (the commit ceiling)."""

        def end() -> None:
            log.critical("the worker did not stop within %.0f s of a failed batch; exiting", STOP_GRACE_S)
            logging.shutdown()
            os._exit(EXIT_BATCH_FAILED)

        timer = threading.Timer(STOP_GRACE_S, end)
        timer.daemon = True
        timer.start()
        await self.app.crash(reason)

    async def seek_back_holes(self) -> None:
        holes = self.watermarks.take_holes(time.monotonic())
        for (topic, partition), offset in holes.items():
            log.warning("input %s[%d]: offset %d unprocessed; seeking back", topic, partition, offset)
            self.metrics.input_holes.labels(self.topics.base(topic)).inc()
            await self.app.consumer.seek(TP(topic, partition), offset)

    def batch(self, fetched: Sequence[Sequence[Any]], watermarks: AgentWatermarks) -> list[RawMessage]:
        """Records of one fetch (a list per partition, in offset order) as one batch of :class:`RawMessage`,
        merged by timestamp (a partition's order kept), every record but those past a hole in their
        partition (:class:`~streams.worker.offsets.InputWatermarks`): those are left unprocessed,
        uncommitted, and the seek back to the hole brings them again, in order."""
        batch = []
        positions = self.positions
        admit = watermarks.admit
        gaps = watermarks.gaps_skipped
        merged = fetched[0] if len(fetched) == 1 else heapq.merge(*fetched, key=_timestamp)
        for r in merged:
            tp = (r.topic, r.partition)
            if admit(tp, r.offset):
                positions[tp] = r.offset + 1
                batch.append(RawMessage(r.topic, r.partition, r.offset, r.key, r.value, r.timestamp))
        if watermarks.gaps_skipped != gaps and watermarks.last_gap is not None:
            (topic, partition), first, after = watermarks.last_gap
            log.warning("input %s[%d]: offsets %d-%d still missing after %d seeks back; taken as a real gap "
                        "(transaction markers, deleted records)", topic, partition, first, after - 1,
                        watermarks.seeks_before_gap)  # fmt: skip
        return batch


_timestamp = operator.attrgetter("timestamp")


def _assigned(assignment: frozenset[tuple[str, int]], topic: str, partition: int) -> bool:
    return (topic, partition) in assignment


@dataclass(frozen=True, slots=True)
class _Agent:
    name: str
    topics: frozenset[str]
    step: Step
    watermarks: AgentWatermarks
    aligner: EventTimeAligner | None = None
    gate: Callable[[int], bool] | None = None


class BatchFailedError(RuntimeError):
    """A batch step failed ``settings.batch_attempts`` times: the worker stops."""


class PartitionsRevokedError(RuntimeError):
    """A failed batch's partitions went to another worker while it waited to be tried again."""


def _firsts(batch: Sequence[RawMessage]) -> dict[tuple[str, int], int]:
    """The first offset of ``batch`` in each of its partitions."""
    firsts: dict[tuple[str, int], int] = {}
    for m in batch:
        key = (m.topic, m.partition)
        firsts[key] = min(m.offset, firsts.get(key, m.offset))
    return firsts


def _describe(batch: Sequence[RawMessage]) -> str:
    """The offsets a batch spans, per partition: ``topic[p] 10-14, …``."""
    spans: dict[tuple[str, int], tuple[int, int]] = {}
    for m in batch:
        low, high = spans.get((m.topic, m.partition), (m.offset, m.offset))
        spans[(m.topic, m.partition)] = (min(low, m.offset), max(high, m.offset))
    parts = [f"{topic}[{p}] {low}-{high}" for (topic, p), (low, high) in sorted(spans.items())]
    return ", ".join(parts[:4]) + (f", … ({len(parts)} partitions)" if len(parts) > 4 else "")


class CarpassApp(faust.App):
    """A ``faust.App`` carrying its :class:`AppContext` (set by :func:`build_app`)."""

    context: AppContext
    commit_guard: CommitGuard
    """What the consumer patches cap Faust's commits with (``patches.guard_commits``)."""
    data_plane: AppContext
    """What the consumer patches hand the inputs' fetches to (``patches.deliver_in_bulk``)."""

    def on_init_dependencies(self) -> Iterable[Any]:
        """Faust's ``Monitor`` sensor records every event in and out (about a fifth of the stream's
        per-event cost); this worker's metrics are its own, so the monitor is not attached."""
        dependencies = super().on_init_dependencies()
        self.sensors.remove(self.monitor)
        return dependencies


def _tune_faust(settings: Settings) -> None:
    """Process-wide adjustments of Faust, like the worker (:mod:`streams.worker.faust.patches`): its
    producer buffer (changelogs of tables written through Faust, e.g. by projections) holds a batch's
    keys, and the three corrections of its consumer."""
    patches.check_versions()
    patches.raise_producer_buffer(2 * settings.batch_max_events)
    patches.rewind_partitions_without_commits()
    patches.guard_commits()
    patches.deliver_in_bulk()
    patches.shorten_fetch_wait()


Extension = Callable[["AppContext"], None]
"""Adds agents, tables, hooks or routes to a worker being built (``projections.wiring.install``)."""


def build_app(
    settings: Settings,
    *,
    registry: CollectorRegistry | None = None,
    policy: Policy | None = None,
    extensions: Sequence[Extension] = (),
) -> CarpassApp:
    """The worker's Faust app, configured from ``settings`` only (no environment, no I/O until started).

    ``settings.partitions`` must be the partition count of the input topics (``carpass worker`` reads it
    from the broker). ``registry`` defaults to a fresh Prometheus registry. ``extensions`` are called
    with the app's context, in order, before it starts (``carpass worker`` passes the projections';
    none: the pipeline alone). ``policy`` defaults to the core's with the bounds of ``settings``.
    """
    if policy is None:
        policy = replace(DEFAULT_POLICY, bounds=settings.vehicle_bounds())
    _tune_faust(settings)
    topics = PipelineTopics(settings.topic_prefix)
    metrics = WorkerMetrics.create(registry)
    codec = build_codec(settings)
    out = KafkaSink(settings)
    app = CarpassApp(
        settings.group_id(),
        broker="kafka://" + bootstrap_servers(settings).replace(",", ";"),
        broker_credentials=faust_credentials(settings),
        table_standby_replicas=settings.standby_replicas,
        store="rocksdb://",
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=max(1, settings.topic_replication_factor),
        consumer_auto_offset_reset="earliest",
        broker_max_poll_records=max(500, settings.batch_max_events),
        broker_session_timeout=settings.session_timeout_s,
        # aiokafka ignores a subscribed topic missing from its metadata until the next refresh (default
        # 5 min): a topic created while the worker starts (e.g. Faust's own changelogs) joins within 15 s
        consumer_metadata_max_age_ms=15_000,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),
        producer_linger=0.005,
        producer_max_batch_size=256 * 1024,
        web_enabled=True,
        web_tables_enabled=False,  # Faust's /table/{name}/{key}/ serves table values to anyone (R15)
        web_router_enabled=False,  # /router/ showed the cluster layout to anyone: see /cluster/routing
        web_bind=settings.web_bind,
        web_port=settings.web_port,
        web_host=settings.web_bind,
        canonical_url=settings.advertised_url(),  # what the group's table routing sends requests to
    )
    context = AppContext(app, settings, topics, metrics, codec, out)
    app.context = context
    app.commit_guard = context.watermarks
    app.data_plane = context
    _vehicle_agent(context, policy)
    _plate_agents(context)
    if settings.kafka_access_file:
        _intake_agent(context)
    _metrics_page(context)
    patches.on_response_prepare(app, security_headers)
    patches.guard_web_connections(app, ConnectionGuard(settings.http_max_connections,
                                                       settings.http_idle_timeout_s))  # fmt: skip
    _rebalance_metrics(context)
    for extend in extensions:
        extend(context)
    return app


TIMER_FLUSH_S = 1.0
"""How long a timer's messages (plate ticks, registration marks) may hold the event loop waiting for the
broker: with the broker away, a flush of the sink's 30 s held it (heartbeats aside: the web server, the
other timers, a stop signal) for 27 s twice a minute. They are sent again at the next tick anyway."""
GATE_POLL_S = 0.01
"""How often a batch held at an agent's gate asks it again (``AppContext.pass_gate``)."""
GATE_LOG_EVERY_S = 10.0
"""How often a held batch says so in the log."""

STOP_WITHIN_S = 6.0
"""After SIGTERM/SIGINT, how long Faust may take to stop (commit, flush, leave the group) before the process
ends anyway (:func:`stop_overrun`): an orchestrator's grace period is 10 s by default."""


def run_worker(app: CarpassApp, log_level: str, stop_within_s: float = STOP_WITHIN_S) -> int:
    """Run ``app`` as this process's Faust worker until it is stopped; the exit status. A stop signal ends
    the process within ``stop_within_s`` whatever the broker's state (``patches.stop_within``)."""
    worker = faust.Worker(app, loglevel=log_level, redirect_stdouts=False, quiet=True)
    # Faust's terminal spinner turns on DEBUG on the root logger (it spins on every record): without it,
    # the debug records aiokafka emits for every produced message are never built.
    worker.spinner = None
    patches.stop_within(worker, stop_within_s, functools.partial(stop_overrun, app.context, stop_within_s))
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def stop_overrun(context: AppContext, seconds: float, exit_process: Callable[[int], Any] = os._exit) -> None:
    """The worker did not stop within ``seconds`` of the signal (the broker unreachable?): say what is left,
    then end the process (status 1). Nothing is lost: what was stored but not committed is processed again
    by the partitions' next owner, and the pipeline is idempotent."""
    log.critical("stopping took more than %.0f s (is the broker reachable?): exiting now. %s", seconds,
                 context.left_behind())  # fmt: skip
    for handler in logging.getLogger().handlers:
        handler.flush()
    exit_process(1)


def faust_credentials(settings: Settings) -> Any:
    """``faust.App(broker_credentials=...)``: None for PLAINTEXT, else Faust's SSL or SASL credentials,
    which its aiokafka transport turns into the keywords of ``kafka.clients.aiokafka_security``."""
    security = kafka_security(settings)
    if security.sasl:
        return faust.SASLCredentials(
            username=security.username, password=security.password, mechanism=security.mechanism,
            ssl_context=ssl_context(security) if security.tls else None,
        )  # fmt: skip
    if security.tls:
        return faust.SSLCredentials(ssl_context(security))
    return None


def _raw_topic(app: faust.App, *names: str) -> Any:
    return app.topic(*names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


def _vehicle_agent(context: AppContext, policy: Policy) -> None:
    settings, topics = context.settings, context.topics
    table = context.table("vehicles")
    registry = _provider_registry(context) if settings.providers_from_registry else None
    context.vehicle_store = context.store(table)
    processor = VehicleProcessor(
        codec=context.codec, topics=topics, store=context.vehicle_store, sink=context.sink,
        metrics=context.metrics, policy=policy, hooks=context.vehicle_hooks,
        cache=StateCache(settings.state_cache_vehicles), max_input_bytes=settings.max_input_bytes,
        providers=None if registry is None else registry.book,
    )  # fmt: skip
    context.vehicle_processor = processor

    # Registrations first: on a tie in time, a car's registration is judged before its readings.
    inputs = sorted(topics.vehicle_inputs, key=lambda topic: topic != topics.registrations)
    context.agent("vehicles", processor.process, *inputs, aligned=settings.align_wait_s > 0,
                  gate=None if registry is None else registry.ready_through)  # fmt: skip

    async def table_size_and_lag() -> None:
        _observe_lag(context)
        _observe_standby_lag(context)
        await _seek_back_stalled(context)
        await _seek_back_stalled_standbys(context)
        for name, each in context.tables.items():
            context.metrics.table_keys.labels(name).set(_estimated_keys(each))

    context.app.timer(LAG_EVERY_S, name="table-size-and-lag")(table_size_and_lag)


def _intake_agent(context: AppContext) -> None:
    """The integrators' ingest topics, checked and forwarded to the contract topics
    (``streams.worker.intake``). Raises ``SettingsError`` when the access file cannot be used."""
    try:
        plan = load_access(context.settings.kafka_access_file)
    except AccessFileError as exc:
        raise SettingsError(f"CARPASS_KAFKA_ACCESS_FILE: {exc}") from None
    checker = IntakeChecker(codec=context.codec, topics=context.topics, sink=context.sink,
                            metrics=context.metrics, plan=plan,
                            max_input_bytes=context.settings.max_input_bytes)  # fmt: skip
    if checker.ingest_topics:
        context.agent("intake", checker.process, *checker.ingest_topics)


def _provider_registry(context: AppContext) -> ProviderFollower:
    """The registry of providers, read whole by a thread started with the app
    (``streams.worker.providers``)."""
    follower = ProviderFollower(context.settings, context.topics.providers, context.codec)
    metrics = context.metrics

    async def follow_the_registry() -> None:
        await asyncio.get_running_loop().run_in_executor(None, follower.start)
        log.info("providers registry: following %s", follower.topic)

    context.app.task(follow_the_registry)

    async def registry_progress() -> None:
        metrics.providers_known.set(len(follower.book))
        metrics.providers_undecodable.set(follower.undecodable)

    context.app.timer(LAG_EVERY_S, name="providers-registry")(registry_progress)
    return follower


def _plate_agents(context: AppContext) -> None:
    settings, topics, app = context.settings, context.topics, context.app
    timelines = PlateTimelineProcessor(
        codec=context.codec, topics=topics, sink=context.sink, max_input_bytes=settings.max_input_bytes,
        store=context.store(context.table("registration-plates")),
    )  # fmt: skip
    plates = PlateProcessor(
        codec=context.codec, topics=topics, store=context.store(context.table("plates")),
        sink=context.sink, metrics=context.metrics, wait_ms=round(settings.plate_wait_s * 1000),
        registration_partitions=settings.partitions, max_input_bytes=settings.max_input_bytes,
        pending_max=settings.plate_pending_max, answered_ids_max=settings.plate_answered_ids_max,
        pending_plates_max=settings.plate_pending_plates_max,
    )  # fmt: skip
    handled: dict[int, tuple[int, int]] = {}  # registrations partition -> (next offset, last Kafka ms)

    def registration_step(batch: list[RawMessage]) -> None:
        timelines.process(batch)  # its interval messages are flushed before the marks move
        for message in batch:
            offset, ms = handled.get(message.partition, (0, 0))
            handled[message.partition] = (max(offset, message.offset + 1), max(ms, message.timestamp_ms))

    context.agent("registration-plates", registration_step, topics.registrations)
    context.agent("plates", plates.process, topics.plate_readings, topics.plate_intervals)

    tick_every_s = min(30.0, max(0.5, settings.plate_wait_s / 4))

    @_logged("plate ticks")
    async def plate_ticks() -> None:
        if context.sink.pending():  # the broker is slow or away: the next tick tells the same
            return
        mine = [tp.partition for tp in app.consumer.assignment() if tp.topic == topics.plate_intervals]
        for partition in sorted(mine):
            context.sink.send(topics.plate_intervals, b"", TICK, partition)
        if mine:
            context.sink.flush(TIMER_FLUSH_S)

    app.timer(tick_every_s, name="plate-ticks")(plate_ticks)

    @_logged("registration marks")
    async def registration_marks() -> None:
        """Tell every plate partition how far this worker's timeline agent has come on its registrations
        partitions (``plates.py``: readings wait for that watermark)."""
        now_ms = int(time.time() * 1000)
        marks: dict[int, int] = {}
        for tp, high in _input_highwaters(context):
            if tp.topic != topics.registrations:
                continue
            offset, ms = handled.get(tp.partition, (0, None))
            committed = patches.committed_offset(app.consumer, tp)  # handled by an earlier owner
            mark = registration_mark(max(offset, committed or 0), ms, high, now_ms)
            if mark is not None:
                marks[tp.partition] = mark
        if marks and not context.sink.pending():  # else the broker is slow or away: the next tick tells more
            body = mark_message(marks)
            for partition in range(settings.partitions):
                context.sink.send(topics.plate_intervals, b"", body, partition)
            context.sink.flush(TIMER_FLUSH_S)

    app.timer(MARK_EVERY_S, name="registration-marks")(registration_marks)


def _logged(what: str) -> Callable[[Callable[[], Awaitable[None]]], Callable[[], Awaitable[None]]]:
    """A timer that logs its failure and runs again at its next tick (a raising timer crashes Faust's
    app without the worker's own stop): ticks and marks are sent again anyway."""

    def wrap(timer: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        @functools.wraps(timer)
        async def run() -> None:
            try:
                await timer()
            except Exception as exc:
                log.warning("%s not sent (again at the next tick): %s: %s", what, type(exc).__name__, exc)

        return run

    return wrap


def _metrics_page(context: AppContext) -> None:
    registry = context.metrics.registry

    @context.app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


class _RebalanceSensor(faust.Sensor):
    """Counts rebalances. Being a sensor also gives Faust's rebalance bookkeeping the state it expects
    now that the Monitor is detached (else it warns "Missing sensor state" at every rebalance)."""

    def __init__(self, counter: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.counter = counter

    def on_rebalance_start(self, app: Any) -> dict[str, Any]:
        self.counter.inc()
        state: dict[str, Any] = super().on_rebalance_start(app)
        return state


def _rebalance_metrics(context: AppContext) -> None:
    context.app.sensors.add(_RebalanceSensor(context.metrics.rebalances))


def _observe_lag(context: AppContext) -> None:
    """High watermark minus the next offset to process, for each assigned input partition. Partitions
    handed to another worker leave the gauge (else both workers would report them)."""
    gauge = context.metrics.consumer_lag
    gauge.clear()
    for tp, high in _input_highwaters(context):
        done = context.positions.get((tp.topic, tp.partition))
        gauge.labels(context.topics.base(tp.topic), str(tp.partition)).set(max(0, high - (done or 0)))


def _observe_standby_lag(context: AppContext) -> None:
    """For each standby partition of a table on this worker, the changelog records not applied yet (once
    the consumer has fetched the partition). Partitions no longer standby here leave the gauge."""
    gauge = context.metrics.standby_lag
    gauge.clear()
    consumer = context.app.consumer
    for tp, table, applied in patches.standby_positions(context.app):
        high = _highwater(consumer, tp)
        if high is not None:
            next_offset = 0 if applied is None else applied + 1
            gauge.labels(table.name, str(tp.partition)).set(max(0, high - next_offset))


async def _seek_back_stalled_standbys(context: AppContext) -> None:
    """Standby changelog partitions the fetcher took past what was applied, and that stopped there
    (:class:`~streams.worker.offsets.StandbyStalls`), are sought back to the next offset to apply."""
    consumer = context.app.consumer
    standbys = list(patches.standby_positions(context.app))
    context.standby_stalls.forget(tp for tp, _, _ in standbys)
    for tp, table, applied in standbys:
        high = _highwater(consumer, tp)
        if high is None:
            continue
        next_offset = 0 if applied is None else applied + 1
        offset = context.standby_stalls.check(tp, next_offset, high, patches.fetch_position(consumer, tp))
        if offset is not None:
            log.warning("standby %s[%d] of table %s: records fetched past %d were never applied; seeking "
                        "back", tp.topic, tp.partition, table.name, offset)  # fmt: skip
            context.metrics.standby_seeks.labels(table.name).inc()
            await consumer.seek(tp, offset)


async def _seek_back_stalled(context: AppContext) -> None:
    """Input partitions whose fetcher stopped delivering while messages wait past what was processed
    (``InputWatermarks.stalled``) are sought back to the next offset to process."""
    consumer = context.app.consumer
    for tp, high in _input_highwaters(context):
        offset = context.watermarks.stalled(tp, high, patches.fetch_position(consumer, tp))
        if offset is not None:
            log.warning("input %s[%d]: stalled before %d; seeking back", tp.topic, tp.partition, offset)
            context.metrics.input_holes.labels(context.topics.base(tp.topic)).inc()
            await context.app.consumer.seek(tp, offset)


def _input_highwaters(context: AppContext) -> Iterator[tuple[Any, int]]:
    """Each assigned input partition (changelogs and the assignor's topic left out) with its high
    watermark, once the consumer has fetched it."""
    consumer = context.app.consumer
    for tp in consumer.assignment():
        if is_input_topic(tp.topic) and (high := _highwater(consumer, tp)) is not None:
            yield tp, high


def _highwater(consumer: Any, tp: Any) -> int | None:
    """``tp``'s high watermark, once the consumer has fetched it (else ``None``)."""
    try:
        high: int | None = consumer.highwater(tp)
    except Exception:  # not fetched yet
        return None
    return high


def _estimated_keys(table: Any) -> int:
    """RocksDB's estimate of the keys held, summed over the table's databases on this worker (standby
    copies included: Faust 0.15 does not tell them apart, so the sum over workers counts a standby too)."""
    total = 0
    for db in patches.table_dbs(table):
        try:
            total += int(db.property_int_value("rocksdb.estimate-num-keys") or 0)
        except Exception:  # a store without RocksDB properties
            continue
    return total
