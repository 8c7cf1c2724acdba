"""Install the projections into a Faust worker: view publication, the provider-quality agent, the API.

::

    vehicle agent ──on_vehicle_changed(vin, state, as_of)──► certificate_view / ok_label_view
                                                          ──► carpass.certificates, carpass.ok-labels
                                                              (compacted, key VIN, Avro) via the sink
    vehicle agent's receipts ──► counted per provider and batch ──┐ (JSON ProviderReadings)
    odometer.anomalies ─┬─► provider re-key agent ──────────────┴► carpass.provider-events (key provider
    providers.registry ─┘   (batches, confluent sink)               id, raw bytes, murmur2 like Faust)
                        provider agent ◄──────────────────────────────┘
                                    ──► table provider-quality (ProviderTally JSON)
                                    ──► providers.quality (compacted, Avro)
    POST /vehicles/{vin}/certificates ──► certificates.issued (key number, Avro CertificateIssued, kept
                        issuance agent ──► table issued-certificates (key number; the first record wins)
    HTTP (Faust web = aiohttp): projections.api routes; a request for a key another worker owns is
    forwarded to it (table routing: vehicle -> the vehicle table, provider -> provider-quality,
    certificate -> issued-certificates); 503 while the owner is unknown (rebalance).

The batch steps are in :mod:`projections.steps`, the table routing in :mod:`projections.routing`; this
module gives them their tables, topics and agents through the worker's context, and serves the API.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from projections.api import CarPassApi, NotReadyError, VehicleSnapshot
from projections.certificates import IssuedCertificate, load_signer, load_verification_keys
from projections.quality import (
    ProviderTally,
    tally_from_json,
)
from projections.routing import Lookup, local_lookup, make_forward, make_lookup, owned_here
from projections.steps import (
    IssuanceRecorder,
    PendingViews,
    ProviderRekey,
    QualityFolder,
    ReadingsCounter,
    ViewPublisher,
    partition_source,
)
from projections.views import state_as_of
from schemas.codec import Codec
from schemas.records import CertificateIssued
from streams.http.auth import ApiKeys, Principal
from streams.http.limits import AuthThrottle
from streams.http.secrets import load_secret
from streams.settings import Settings
from streams.state.codec import StateCodecError, decode_state
from streams.worker.replay import QUALITY_TABLE, changelog_topic

if TYPE_CHECKING:
    from streams.worker.faust.app import AppContext

log = logging.getLogger(__name__)

PENDING_TABLE = "views-pending"
"""VINs whose views wait (``projections.steps.PendingViews``): key VIN, value the ``as_of`` of the views."""
PENDING_EVERY_S = 0.5
PENDING_CHUNK = 50
"""Views computed between two yields to the event loop (about 25-50 ms of work)."""
PENDING_FLUSH_S = 1.0
"""How long a round waits for its views to reach Kafka (a broker away must not hold the event loop for the
sink's 30 s: the marks stay and the next round tries again)."""
ISSUED_TABLE = "issued-certificates"


class TableViewSource:
    """:class:`projections.api.ViewSource` over the worker's tables (on the worker owning the key).

    A key not found is "not found" only when this worker can know: ``settled()`` (no rebalance or restore
    under way) and ``owns(table, key)`` (this worker owns the key's partition of the table). Otherwise it is
    :class:`NotReadyError` (a 503, "retry"): during a failover the new owner of a partition answered 404 for
    a registered vehicle before its state was restored, and a request forwarded by a worker whose routing
    was older than the answering worker's reached a worker that no longer owned the key's partition."""

    def __init__(
        self, vehicles: Any, quality: Any, issued: Any, issuances: Any,
        settled: Callable[[], bool] = lambda: True,
        owns: Callable[[str, str], bool] = lambda table, key: True,
        routing: Callable[[], Mapping[str, Any]] = dict,
        lookup: Lookup = local_lookup, codec: Codec | None = None,
        every_tally: Callable[[], Awaitable[list[ProviderTally]]] | None = None,
    ) -> None:  # fmt: skip
        """``issuances``: the Faust topic ``certificates.issued`` (raw bytes); ``lookup``: asks the worker
        owning a key (``projections.routing.make_lookup``)."""
        self.vehicles, self.quality_table, self.issued_table = vehicles, quality, issued
        self.issuances, self.codec = issuances, codec if codec is not None else Codec()
        self.settled, self.owns = settled, owns
        self.routing = routing
        self.lookup = lookup
        self.every_tally = every_tally

    def _missing(self, table: str, key: str) -> None:
        if not self.settled():
            raise NotReadyError("the worker is restoring its tables")
        if not self.owns(table, key):
            raise NotReadyError("the key's partition moved to another worker (rebalance under way)")

    async def vehicle(self, vin: str) -> VehicleSnapshot | None:
        raw = self.vehicles.get(vin.encode("utf-8"))
        if raw is None:
            self._missing("vehicle", vin)
            return None
        state = decode_state(vin, raw)
        return VehicleSnapshot(state, state_as_of(state))

    async def all_tallies(self) -> list[ProviderTally]:
        if self.every_tally is None:
            raise NotReadyError("this worker does not read the tallies of every provider")
        return await self.every_tally()

    async def quality(self, provider_id: str) -> ProviderTally | None:
        raw = self.quality_table.get(provider_id.encode("utf-8"))
        if raw is None:
            self._missing("provider", provider_id)
            return None
        return tally_from_json(raw)

    async def certificate(self, number: str) -> IssuedCertificate | None:
        raw = self.issued_table.get(number.encode("utf-8"))
        if raw is None:
            self._missing("certificate", number)
            return None
        if raw[:1] == b"{":  # issued before certificates.issued existed: the document as JSON
            return IssuedCertificate.from_json_obj(json.loads(raw))
        return IssuedCertificate.from_record(self.codec.decode(raw, CertificateIssued))

    async def issued(self, number: str, principal: Principal) -> IssuedCertificate | None:
        remote = await self.lookup("certificate", number, f"/certificates/{number}", principal)
        if remote is None:  # this worker owns the number
            return await self.certificate(number)
        status, body = remote
        if status == 404:
            return None
        if status != 200:
            raise NotReadyError(f"the owner of certificate {number} answered {status}")
        return IssuedCertificate.from_json_obj(json.loads(body)["certificate"])

    async def record_issuance(self, certificate: IssuedCertificate) -> None:
        value = self.codec.encode(certificate.to_record())
        sent = await self.issuances.send(key=certificate.number.encode("utf-8"), value=value)
        await sent  # on Kafka (acks=all) before the client is told


TALLIES_FRESH_S = 30.0
"""How long the tallies of every provider read from the changelog serve the lists (R10, R14) before they
are read again."""


class EveryTally:
    """Every provider's tally, read from the quality table's changelog (compacted: the last record of each
    provider is its tally) to its end, in a thread, at most once every :data:`TALLIES_FRESH_S`: the lists of
    all providers need every partition, and each worker owns only some."""

    def __init__(self, settings: Settings, topic: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings, self.topic, self.clock = settings, topic, clock
        self._read_at = float("-inf")
        self._tallies: list[ProviderTally] = []
        self._lock = asyncio.Lock()

    def read(self) -> list[ProviderTally]:
        from streams.worker.replay import read_to_end

        latest: dict[bytes, bytes | None] = {}
        for message in read_to_end(self.settings, self.topic):
            latest[message.key()] = message.value()
        return sorted((tally_from_json(v) for v in latest.values() if v), key=lambda t: t.provider_id)

    async def __call__(self) -> list[ProviderTally]:
        async with self._lock:  # one read at a time: the others wait for it
            if self.clock() - self._read_at > TALLIES_FRESH_S:
                try:
                    self._tallies = await asyncio.get_running_loop().run_in_executor(None, self.read)
                except Exception as exc:  # the broker away: retry later
                    log.warning("the tallies of every provider could not be read: %s", exc)
                    raise NotReadyError("the providers' tallies cannot be read now (broker away?)") from exc
                self._read_at = self.clock()
            return self._tallies


def load_forward_secret(settings: Settings) -> bytes:
    """The group's forward secret (``settings.cluster_secret_file``, ``streams.http.forwarding``); in
    development without one, a well-known secret derived from the app id, with a warning. Raises
    :class:`~streams.http.secrets.SecretError` with what to do."""
    development = hashlib.sha256(f"carpass development forward secret {settings.group_id()}".encode())
    development_secret = development.digest()
    purpose = "the workers of a group authenticate the API requests they forward to each other with it"
    secret = load_secret(settings.cluster_secret_file, "CARPASS_CLUSTER_SECRET_FILE", purpose,
                         settings.development, development_secret)  # fmt: skip
    if secret is development_secret:
        log.warning("CARPASS_CLUSTER_SECRET_FILE is not set: forwards between workers use a development "
                    "secret")  # fmt: skip
    return secret


def _pending_views(ctx: AppContext, publisher: ViewPublisher) -> None:
    """Views wait while the worker is behind: marks written with the vehicle states (the vehicle table's
    store flushes the marks' table with it), published by a timer once the worker is no longer behind."""
    from streams.worker.faust.patches import first_items

    if ctx.vehicle_store is None or ctx.vehicle_processor is None:
        return
    table = ctx.table(PENDING_TABLE)
    marks = ctx.store(table)
    ctx.vehicle_store.companions.append(marks)
    pending = PendingViews(marks, publisher, round(ctx.settings.views_defer_after_s * 1000),
                           flush=lambda: ctx.sink.flush(PENDING_FLUSH_S))  # fmt: skip
    ctx.vehicle_processor.deferral = pending
    vehicles, app, readings = ctx.vehicle_store, ctx.app, ctx.topics.readings

    def state_of(partition: int, vin: str) -> Any:
        raw = vehicles.get(vin, partition_source(partition))
        try:
            return None if raw is None else decode_state(vin, raw)
        except StateCodecError:
            log.exception("views of %s: its stored state is unreadable", vin)
            return None

    def mine() -> set[int]:
        return {tp.partition for tp in app.consumer.assignment() if tp.topic == readings}

    def interrupted(partition: int) -> bool:
        """Behind again, a rebalance, or the partition gone: the next round goes on."""
        busy = getattr(app, "rebalancing", False) or getattr(app, "in_recovery", False)
        return busy or pending.behind() or partition not in mine()

    async def publish_pending_views() -> None:
        """Every waiting view, chunk by chunk, yielding to the event loop (the batches, the API, a stop)
        after each: once caught up, the views come out as fast as they are computed."""
        try:
            for partition in sorted(mine()):
                while not interrupted(partition):
                    chunk = first_items(table, partition, PENDING_CHUNK)
                    if not chunk:
                        break
                    pending.publish(((partition, key, value) for key, value in chunk), state_of)
                    await asyncio.sleep(0)
        except Exception:  # the broker away: the marks stay, the next round tries again
            log.exception("waiting views not published (tried again in %.1f s)", PENDING_EVERY_S)

    app.timer(PENDING_EVERY_S, name="views-pending")(publish_pending_views)


def install(ctx: AppContext) -> None:
    """Add the views publication hook, the provider-quality and issuance agents, their tables and the
    API routes to the worker ``ctx`` (``streams.worker.faust.app.AppContext``) builds. Called once by
    ``build_app``,
    before the app starts."""
    app, settings, codec, sink = ctx.app, ctx.settings, ctx.codec, ctx.sink
    signer, secret = load_signer(settings), load_forward_secret(settings)  # refuse to start without them
    verification_keys = load_verification_keys(settings, signer)
    publisher = ViewPublisher(codec, sink, ctx.topics.certificates, ctx.topics.ok_labels)
    ctx.vehicle_hooks.append(publisher)
    if settings.views_defer_after_s > 0:
        _pending_views(ctx, publisher)
    inputs = (ctx.topics.anomalies, ctx.topics.providers)
    provider_events = ctx.internal_topic(ctx.topics.provider_events)
    issuances = app.topic(ctx.topics.certificates_issued, key_type=bytes, value_type=bytes,
                          key_serializer="raw", value_serializer="raw")  # fmt: skip
    quality_table = ctx.table(QUALITY_TABLE)
    issued_table = ctx.table(ISSUED_TABLE)
    quality_topic = ctx.topics.provider_quality

    rekeyer = ProviderRekey(codec, sink, ctx.topics.provider_events)
    if ctx.vehicle_processor is None:
        raise RuntimeError("the projections need the vehicle agent: install them after it")
    counter = ReadingsCounter(sink, ctx.topics.provider_events, ctx.topics.base)  # its receipts, per provider
    ctx.vehicle_processor.outputs.listeners.append(counter)

    # The tables are written like the vehicle table (``streams.worker.faust.adapters.TableStore``: changelog
    # through the confluent sink, then RocksDB), not with ``table[key] = value``: Faust's path checks the
    # partition counts of source and changelog topics with the consumer's metadata snapshot, which can
    # still show a just-created changelog with 0 partitions; the agent then crashes and Faust drops the
    # event it was on (a replay by a new app id lost issuances and receipts that way).
    folder = QualityFolder(codec, ctx.store(quality_table), sink, quality_topic)
    recorder = IssuanceRecorder(ctx.store(issued_table))
    ctx.agent("provider-rekey", rekeyer.process, *inputs)
    ctx.agent("provider-quality", folder.process, ctx.topics.provider_events, channel=provider_events)
    ctx.agent("certificate-issuances", recorder.process, ctx.topics.certificates_issued, channel=issuances)

    def settled() -> bool:
        return not (getattr(app, "rebalancing", False) or getattr(app, "in_recovery", False))

    tables = {"vehicle": "vehicles", "provider": QUALITY_TABLE, "certificate": ISSUED_TABLE}
    quality_changelog = changelog_topic(settings.group_id(), QUALITY_TABLE)

    def owns(table: str, key: str) -> bool:
        return owned_here(app, tables[table], key.encode("utf-8"), settings.partitions)

    source = TableViewSource(ctx.tables["vehicles"], quality_table, issued_table, issuances, settled, owns,
                             routing=app.router.tables_metadata, codec=codec,
                             lookup=make_lookup(app, tables, settings.partitions, secret),
                             every_tally=EveryTally(settings, quality_changelog))  # fmt: skip
    body_timeout_s = settings.http_idle_timeout_s or None
    api = CarPassApi(
        source,
        ApiKeys.from_file(settings.api_keys_file),
        signer,
        forward=make_forward(app, tables, settings.partitions, secret, body_timeout_s=body_timeout_s),
        forward_secret=secret,
        auth_throttle=AuthThrottle(settings.http_auth_failures_burst, settings.http_auth_failures_per_minute),
        body_timeout_s=body_timeout_s,
        verification_keys=verification_keys,
        public_url=settings.public_base_url(),
    )
    ctx.add_routes(api.route_defs())
