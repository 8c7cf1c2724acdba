"""Install the projections into a Faust worker: view publication, the provider-quality agent, the API.

::

    vehicle agent ──on_vehicle_changed(vin, state, as_of)──► certificate_view / ok_label_view
                                                          ──► carpass.certificates, carpass.ok-labels
                                                              (compacted, key VIN, Avro) via the sink
    odometer.receipts ─┐                                   (the vehicle state table is the materialised
    odometer.anomalies ├─► provider re-key agent ──► carpass.provider-events (key provider id, raw bytes,
                       │   (batches, confluent sink)      murmur2 like Faust: same partitions)
    providers.registry ┘                                   │
                        provider agent ◄───────────────────┘──► table provider-quality (ProviderTally JSON)
                                                             ──► table provider-receipts (event ids counted)
                                                             ──► providers.quality (compacted, Avro)
    POST /vehicles/{vin}/certificates ──► carpass.certificate-issuances (key number, JSON document)
                        issuance agent ──► table issued-certificates (key number)
    HTTP (Faust web = aiohttp): projections.api routes; a request for a key another worker owns is
    forwarded to it (table routing: vehicle -> the vehicle table, provider -> provider-quality,
    certificate -> issued-certificates); 503 while the owner is unknown (rebalance).

Views are functions of the stored state, so a replay from offset 0 republishes identical views. They are
sent after the state write (the hook runs then); a crash in between loses nothing a later change or a
replay does not republish.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from aiohttp import web
from aiokafka.partitioner import murmur2
from yarl import URL

from projections.api import CarPassApi, NotReadyError, VehicleSnapshot
from projections.certificates import IssuedCertificate, load_signer
from projections.quality import (
    ProviderEvent,
    ProviderTally,
    counts_as_reading,
    evolve,
    provider_key,
    quality_view,
    tally_from_json,
    tally_to_json,
)
from projections.views import certificate_view, ok_label_view, state_as_of
from schemas.codec import Codec
from schemas.errors import DecodeError
from schemas.records import AnomalyEvent, ProviderRegistration, Receipt
from streams.domain.state import VehicleState
from streams.http.auth import ApiKeys
from streams.http.responses import error
from streams.state.codec import decode_state
from streams.worker.batch import OutputSink, RawMessage, StateStore
from streams.worker.faust.adapters import flush_together

if TYPE_CHECKING:
    from streams.worker.faust.app import AppContext

log = logging.getLogger(__name__)

QUALITY_TABLE = "provider-quality"
COUNTED_TABLE = "provider-receipts"
"""Event ids of the receipts counted in a provider's tally (a redelivered receipt is counted once)."""
ISSUED_TABLE = "issued-certificates"
FORWARDED_HEADER = "X-Carpass-Forwarded"
FORWARD_TIMEOUT = aiohttp.ClientTimeout(total=5)


class Sink(Protocol):
    def send(self, topic: str, key: bytes, value: bytes, partition: int | None = None) -> None: ...


class ViewPublisher:
    """The ``on_vehicle_changed`` hook: publish the VIN's certificate and OK-label views."""

    def __init__(self, codec: Codec, sink: Sink, certificates_topic: str, labels_topic: str) -> None:
        self.codec, self.sink = codec, sink
        self.certificates_topic, self.labels_topic = certificates_topic, labels_topic

    def __call__(self, vin: str, state: VehicleState, as_of: int) -> None:
        try:
            key = vin.encode("utf-8")
            self.sink.send(self.certificates_topic, key, self.codec.encode(certificate_view(state, as_of)))
            self.sink.send(self.labels_topic, key, self.codec.encode(ok_label_view(state, as_of)))
        except Exception:  # a hook must not raise: the state is already stored
            log.exception("could not publish the views of a vehicle")


def decode_provider_event(codec: Codec, value: bytes) -> ProviderEvent | None:
    """A receipt, anomaly or provider registration from its Avro bytes; None for anything else."""
    try:
        record = codec.decode(value)
    except DecodeError as exc:
        if exc.transient:  # the registry is down: the batch is tried again
            raise
        return None
    return record if isinstance(record, Receipt | AnomalyEvent | ProviderRegistration) else None


class ProviderRekey:
    """The re-key agent's batch step: receipts, anomalies and provider registrations that concern a
    provider's quality (``provider_key``) copied, bytes unchanged, to ``carpass.provider-events`` keyed by
    the provider id, through the worker's confluent sink in one flush per batch (Faust's ``topic.send``
    costs hundreds of µs an event on the event loop that also feeds the streams)."""

    def __init__(self, codec: Codec, sink: OutputSink, topic: str) -> None:
        self.codec, self.sink, self.topic = codec, sink, topic

    def process(self, batch: list[RawMessage]) -> int:
        sent = 0
        for message in batch:
            event = decode_provider_event(self.codec, message.value) if message.value else None
            key = provider_key(event) if event is not None else None
            if key is not None and message.value is not None:
                self.sink.send(self.topic, key.encode("utf-8"), message.value)
                sent += 1
        if sent:  # on Kafka before the batch is acknowledged
            self.sink.flush()
        return sent


class QualityFolder:
    """The provider-quality agent's batch step: provider events (keyed by provider id) folded into the
    table's tallies, in order per provider; each provider's tally is read and written once per batch and
    its changed view published once to ``providers.quality``.

    A receipt is delivered again after any crash or takeover upstream (at-least-once: the vehicle agent
    re-emits what it had not committed, the re-key agent re-copies): ``counted`` remembers the event id of
    each receipt counted as a reading, so a reading is counted once. Anomalies need no such memory (a blame
    is kept by anomaly id)."""

    def __init__(
        self, codec: Codec, store: StateStore, sink: OutputSink, quality_topic: str,
        counted: StateStore | None = None, flush_stores: Callable[[], None] | None = None,
    ) -> None:  # fmt: skip
        """``flush_stores``: stores the writes of both tables as one (a retried batch must not find the
        tallies stored without the receipts they counted); by default one after the other."""
        self.codec, self.store, self.sink, self.quality_topic = codec, store, sink, quality_topic
        self.counted = counted
        self.flush_stores = flush_stores if flush_stores is not None else self._flush_one_by_one

    def _flush_one_by_one(self) -> None:
        self.store.flush()
        if self.counted is not None:  # after the tallies: a crash in between counts again, never loses
            self.counted.flush()

    def process(self, batch: list[RawMessage]) -> None:
        by_provider: dict[bytes, list[tuple[ProviderEvent, RawMessage]]] = {}
        for message in batch:
            record = decode_provider_event(self.codec, message.value) if message.value else None
            if record is not None and message.key:
                by_provider.setdefault(message.key, []).append((record, message))
        changed = False
        fresh: set[str] = set()
        for key, events in by_provider.items():
            provider_id = key.decode("utf-8")
            first = events[0][1]
            old_raw = self.store.get(provider_id, first)
            old = tally_from_json(old_raw) if old_raw is not None else ProviderTally(provider_id)
            new = old
            for record, message in events:
                if isinstance(record, Receipt) and counts_as_reading(record) and self.counted is not None:
                    if record.event_id in fresh or self.counted.get(record.event_id, message) is not None:
                        continue  # delivered again: counted once
                    fresh.add(record.event_id)
                    self.counted.put(record.event_id, b"1", message)
                new = evolve(new, record)
            if new != old:
                self.store.put(provider_id, tally_to_json(new), events[-1][1])
                self.sink.send(self.quality_topic, key, self.codec.encode(quality_view(new)))
                changed = True
        self.flush_stores()
        if changed:  # the views are on Kafka before the batch is acknowledged
            self.sink.flush()


class IssuanceRecorder:
    """The issuance agent's batch step: each issuance event (key number) stored in the issued table."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def process(self, batch: list[RawMessage]) -> None:
        for message in batch:
            if message.key and message.value:
                self.store.put(message.key.decode("utf-8"), message.value, message)
        self.store.flush()


class TableViewSource:
    """:class:`projections.api.ViewSource` over the worker's tables (on the worker owning the key).

    ``settled()`` says whether the worker's tables are complete (no rebalance or restore under way); while
    they are not, a key not found is :class:`NotReadyError` (a 503), not "not found": during a failover
    the new owner of a partition answered 404 for a registered vehicle before its state was restored."""

    def __init__(
        self, vehicles: Any, quality: Any, issued: Any, issuances: Any,
        settled: Callable[[], bool] = lambda: True,
    ) -> None:  # fmt: skip
        self.vehicles, self.quality_table, self.issued_table = vehicles, quality, issued
        self.issuances = issuances
        self.settled = settled

    def _missing(self) -> None:
        if not self.settled():
            raise NotReadyError("the worker is restoring its tables")

    async def vehicle(self, vin: str) -> VehicleSnapshot | None:
        raw = self.vehicles.get(vin.encode("utf-8"))
        if raw is None:
            self._missing()
            return None
        state = decode_state(vin, raw)
        return VehicleSnapshot(state, state_as_of(state))

    async def quality(self, provider_id: str) -> ProviderTally | None:
        raw = self.quality_table.get(provider_id.encode("utf-8"))
        if raw is None:
            self._missing()
            return None
        return tally_from_json(raw)

    async def certificate(self, number: str) -> IssuedCertificate | None:
        raw = self.issued_table.get(number.encode("utf-8"))
        if raw is None:
            self._missing()
            return None
        return IssuedCertificate.from_json_obj(json.loads(raw))

    async def record_issuance(self, certificate: IssuedCertificate) -> None:
        body = json.dumps(certificate.to_json_obj(), sort_keys=True).encode("utf-8")
        await self.issuances.send(key=certificate.number.encode("utf-8"), value=body)


def key_partition(key: bytes, partitions: int) -> int:
    """The partition of ``key``: murmur2, as Kafka's Java client, aiokafka (Faust) and the confluent
    producer with ``murmur2_random`` place keyed messages (``streams.kafka.clients``)."""
    return (int(murmur2(key)) & 0x7FFFFFFF) % partitions


def owner_of(app: Any, table_name: str, key: bytes, partitions: int) -> URL | None:
    """The web URL of the worker owning ``key``'s partition of table ``table_name`` (Faust's changelog
    distribution, exchanged by the assignor at each rebalance); None while no worker is known to own it.

    Not ``app.router.key_store``: that hashes with the Faust producer's partitioner, which needs the
    producer's metadata of the changelog topic, and the producer only fetches it once it has sent to the
    topic, which it never does for a table written through the confluent sink: ``TypeError`` (a 500)."""
    partition = key_partition(key, partitions)
    for host, topics in app.router.table_metadata(table_name).items():
        if any(partition in owned for owned in topics.values()):
            return URL(host)
    return None


def make_forward(app: Any, tables: dict[str, str], partitions: int) -> Callable[[web.Request, str, str], Any]:
    """Table routing: answer here when this worker owns ``key``'s partition, else proxy the request.
    ``partitions``: the partition count of the tables (``settings.partitions``)."""

    async def forward(request: web.Request, table: str, key: str) -> web.StreamResponse | None:
        if request.headers.get(FORWARDED_HEADER):
            return None
        dest = owner_of(app, tables[table], key.encode("utf-8"), partitions)
        if dest is None or dest.host is None:
            return error(503, "the partition's owner is not known yet (rebalance under way); retry")
        own = app.conf.canonical_url
        if (dest.host, dest.port) == (own.host, own.port):
            return None
        url = request.url.with_host(dest.host).with_port(dest.port)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        headers[FORWARDED_HEADER] = "1"
        body_in = await request.read()
        try:
            async with app.http_client.request(request.method, url, headers=headers, data=body_in,
                                               timeout=FORWARD_TIMEOUT) as r:  # fmt: skip
                body = await r.read()
                extra = {"Location": r.headers["Location"]} if "Location" in r.headers else None
                return web.Response(body=body, status=r.status, content_type=r.content_type, headers=extra)
        except (aiohttp.ClientError, TimeoutError):
            # The owner died and the group has not noticed yet (up to the session timeout): retryable.
            return error(503, "the partition's owner does not answer (failover under way); retry")

    return forward


def install(ctx: AppContext) -> None:
    """Add the views publication hook, the provider-quality and issuance agents, their tables and the
    API routes to the worker ``ctx`` (``streams.worker.faust.app.AppContext``) builds. Called once by
    ``build_app``,
    before the app starts."""
    app, settings, codec, sink = ctx.app, ctx.settings, ctx.codec, ctx.sink
    ctx.vehicle_hooks.append(
        ViewPublisher(codec, sink, ctx.topics.certificates, ctx.topics.ok_labels)
    )
    inputs = (ctx.topics.receipts, ctx.topics.anomalies, ctx.topics.providers)
    provider_events = ctx.internal_topic(ctx.topics.provider_events)
    issuances = ctx.internal_topic(ctx.topics.issuances)
    quality_table, counted_table = ctx.table(QUALITY_TABLE), ctx.table(COUNTED_TABLE)
    issued_table = ctx.table(ISSUED_TABLE)
    quality_topic = ctx.topics.provider_quality

    rekeyer = ProviderRekey(codec, sink, ctx.topics.provider_events)

    # Both tables are written like the vehicle table (``streams.worker.faust.adapters.TableStore``: changelog
    # through the confluent sink, then RocksDB), not with ``table[key] = value``: Faust's path checks the
    # partition counts of source and changelog topics with the consumer's metadata snapshot, which can
    # still show a just-created changelog with 0 partitions; the agent then crashes and Faust drops the
    # event it was on (a replay by a new app id lost issuances and receipts that way).
    tallies, counted = ctx.store(quality_table), ctx.store(counted_table)
    folder = QualityFolder(
        codec, tallies, sink, quality_topic, counted, lambda: flush_together([tallies, counted])
    )
    recorder = IssuanceRecorder(ctx.store(issued_table))
    ctx.agent("provider-rekey", rekeyer.process, *inputs)
    ctx.agent("provider-quality", folder.process, ctx.topics.provider_events, channel=provider_events)
    ctx.agent("certificate-issuances", recorder.process, ctx.topics.issuances, channel=issuances)

    def settled() -> bool:
        return not (getattr(app, "rebalancing", False) or getattr(app, "in_recovery", False))

    source = TableViewSource(ctx.tables["vehicles"], quality_table, issued_table, issuances, settled)
    tables = {"vehicle": "vehicles", "provider": QUALITY_TABLE, "certificate": ISSUED_TABLE}
    api = CarPassApi(
        source,
        ApiKeys.from_file(settings.api_keys_file),
        load_signer(settings),
        forward=make_forward(app, tables, settings.partitions),
    )
    ctx.add_routes(api.route_defs())
