"""The gateway's HTTP routes (aiohttp): Car-Pass's inflow interface on top of the event log.

::

    request ─► API key (401) ─► role (403) ─► rate limit per provider (429 + Retry-After)
            ─► body / path / query checks (400, every field named) ─► ownership (403)
            ─► encode ─► await the broker's acknowledgement (503 if none) ─► 202 {request_id}
    odometer.receipts ─► follower ─► ReceiptIndex ─► GET /observations/{id}[?wait_s=] (long-poll waiters)

==========  ===========================  ==========================================================
method      path                         what
==========  ===========================  ==========================================================
POST        /observations                a reading by VIN (odometer.readings) or plate
                                         (odometer.plate-readings); 202 with its request id
GET         /observations/{id}           its receipt (status, issues with error numbers and suggested
                                         values) or PENDING; ``wait_s`` long-polls
POST        /observations/{id}/confirm   the provider confirms its flagged reading
                                         (odometer.confirmations)
POST        /corrections                 a correction of an error number, or a withdrawal
                                         (odometer.corrections, channel ELECTRONIC)
GET         /corrections/{id}            the correction's receipt (a second electronic correction of
                                         the same error is refused there, R5)
GET         /health                      no key: 200 once the receipts of the window are read, else 503
==========  ===========================  ==========================================================

**Stateless and horizontally scalable.** Nothing is stored by the gateway: event ids are
``uuid5(provider, kind, request_id)`` (:mod:`.requests`), so a repeat through any instance is the same
event and the pipeline (idempotent on ``event_id``) judges it once; receipts come from the output topic,
which every instance follows whole (all partitions, no consumer group) into a bounded in-memory index,
so any instance answers any ``GET``. The worker stores no receipts it could serve (its tables hold the
per-VIN state, not per-submission receipts), so following the topic is the simplest honest source.

Limits of statelessness, stated: a *different* body under a reused ``request_id`` is answered 409 only
when it reaches an instance that produced the first one recently (its bounded memory of digests);
otherwise it is accepted and the pipeline keeps the first event (the repeat has the same event id).
Receipts older than ``gateway_receipts_window_s`` when an instance started, or evicted beyond
``gateway_receipts_max``, read as PENDING on that instance; a correction of such an old error number
needs the ``vin`` in its body and its ownership is then checked by the core. Another provider's error
number reads exactly as an unknown one, here (404, or the core's CORRECTION_UNKNOWN_ERROR_NUMBER with a
``vin``) and on the receipt: an error number tells nobody whether it exists or whose it is. Rate limits
are per instance.

Nothing half written: one request is one Kafka record, answered 202 only after the broker acknowledged it
(acks=all, idempotent producer); any failure before that is a 503 and nothing was accepted.
Errors are JSON ``{"error": ...}`` (400s add ``errors: [{field, rule}]``) and never name another
provider's vehicle: ownership is checked before anything about a receipt is shown.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from schemas.catalog import AnyRecord, key_of
from schemas.codec import Codec
from schemas.errors import EncodeError
from schemas.records import OdometerReading, PlateOdometerReading, Receipt
from streams.gateway.kafka import ProduceError
from streams.gateway.receipts import ReceiptIndex, receipt_json
from streams.gateway.requests import (
    EVENT_ID_RE,
    FieldError,
    InvalidRequestError,
    ParsedRequest,
    Sender,
    claimed_provider,
    claimed_source,
    parse_confirmation,
    parse_correction,
    parse_observation,
    parse_wait,
)
from streams.http.auth import Access, ApiKeys, AuthError, Principal, Role, authorize, presented_key
from streams.http.guard import ConnectionGuard, read_body
from streams.http.limits import AuthThrottle, RateLimiter
from streams.http.responses import client_address, error, security_headers, too_many, wall_clock_ms
from streams.kafka.topics import PipelineTopics
from streams.settings import Settings

Publish = Callable[[str, str, bytes], Awaitable[None]]
"""``publish(topic, key, value)``: returns once the broker has the record; raises ``ProduceError``."""

MAX_BODY_BYTES = 64 * 1024
SEEN_MAX = 100_000
"""Digests of recently produced requests one instance remembers (409 on a different body)."""


@dataclass(frozen=True, slots=True)
class GatewayRoute:
    """One route; the OpenAPI document and its test are checked against :data:`ROUTES`."""

    method: str
    path: str
    name: str
    access: Access | None
    """``None``: no key needed."""


_PROVIDERS = Access(frozenset({Role.PROVIDER}))
_READERS = Access(frozenset({Role.PROVIDER, Role.OPERATOR}))
ROUTES: tuple[GatewayRoute, ...] = (
    GatewayRoute("POST", "/observations", "observe", _PROVIDERS),
    GatewayRoute("GET", "/observations/{id}", "observation", _READERS),
    GatewayRoute("POST", "/observations/{id}/confirm", "confirm", _PROVIDERS),
    GatewayRoute("POST", "/corrections", "correct", _PROVIDERS),
    GatewayRoute("GET", "/corrections/{id}", "correction", _READERS),
    GatewayRoute("GET", "/health", "health", None),
)


def invalid(exc: InvalidRequestError) -> web.Response:
    return web.json_response(exc.to_json_obj(), status=400)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PrincipalHandler = Callable[[web.Request, Principal], Awaitable[web.StreamResponse]]



def _expire(waiter: asyncio.Future[Receipt | None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


DEVELOPMENT_ID_SECRET = hashlib.sha256(b"carpass development gateway id secret").digest()
"""Event ids keyed with a well-known secret: tests and ``CARPASS_DEVELOPMENT`` only (``server.run``)."""


class Gateway:
    """The handlers over a receipt index and a ``publish`` function (a Kafka producer in production)."""

    def __init__(
        self,
        settings: Settings,
        keys: ApiKeys,
        publish: Publish,
        codec: Codec,
        *,
        clock_ms: Callable[[], int] = wall_clock_ms,
        monotonic: Callable[[], float] = time.monotonic,
        id_secret: bytes = DEVELOPMENT_ID_SECRET,
    ) -> None:
        self.keys = keys
        self.id_secret = id_secret
        self.publish = publish
        self.codec = codec
        self.clock_ms = clock_ms
        self.monotonic = monotonic
        self.topics = PipelineTopics(settings.topic_prefix)
        self.max_wait_s = settings.gateway_max_wait_s
        self.index = ReceiptIndex(settings.gateway_receipts_max)
        self.limiter = RateLimiter(settings.gateway_rate_per_s, settings.gateway_burst)
        self.auth_throttle = AuthThrottle(settings.http_auth_failures_burst,
                                          settings.http_auth_failures_per_minute)  # fmt: skip
        self.connections = ConnectionGuard(settings.http_max_connections, settings.http_idle_timeout_s)
        self.health: Callable[[], dict[str, Any]] = lambda: {"caught_up": True}
        self._waiters: dict[str, list[asyncio.Future[Receipt | None]]] = {}
        self._seen: OrderedDict[str, str] = OrderedDict()

    # --- receipts ---------------------------------------------------------------------------------------

    def add_receipts(self, receipts: list[Receipt]) -> None:
        """Index ``receipts`` and wake the requests long-polling for them (on the event loop)."""
        for receipt in receipts:
            self.index.add(receipt)
            for waiter in self._waiters.pop(receipt.event_id, ()):
                if not waiter.done():
                    waiter.set_result(receipt)

    async def receipt(self, event_id: str, wait_s: float) -> Receipt | None:
        """The receipt of ``event_id``, waiting up to ``wait_s`` seconds for it to arrive."""
        found = self.index.get(event_id)
        if found is not None or wait_s <= 0:
            return found
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Receipt | None] = loop.create_future()
        self._waiters.setdefault(event_id, []).append(waiter)
        timer = loop.call_later(wait_s, _expire, waiter)  # lighter than asyncio.wait_for, per long-poll
        try:
            return await waiter
        finally:
            timer.cancel()
            waiting = self._waiters.get(event_id)
            if waiting is not None and waiter in waiting:
                waiting.remove(waiter)
                if not waiting:
                    del self._waiters[event_id]

    # --- plumbing ---------------------------------------------------------------------------------------

    def _guarded(self, route: GatewayRoute, handler: PrincipalHandler) -> Handler:
        access = route.access
        assert access is not None

        async def guarded(request: web.Request) -> web.StreamResponse:
            address, now = client_address(request), self.monotonic()
            blocked = self.auth_throttle.blocked(address, now)
            if blocked > 0:
                return too_many(blocked, "too many failed authentications from this address")
            try:
                principal = self.keys.authenticate(presented_key(request.headers))
                authorize(principal, access)
            except AuthError as refused:
                if refused.status == 401:
                    self.auth_throttle.failed(address, now)
                return error(refused.status, refused.message)
            wait = self.limiter.take(principal.provider_id or principal.name, now)
            if wait > 0:
                return too_many(wait, "rate limit of this provider")
            try:
                return await handler(request, principal)
            except InvalidRequestError as exc:
                return invalid(exc)

        guarded.__name__ = route.name
        return guarded

    def route_defs(self) -> list[web.RouteDef]:
        handlers: dict[str, PrincipalHandler] = {
            "observe": self.observe,
            "observation": self.observation,
            "confirm": self.confirm,
            "correct": self.correct,
            "correction": self.observation,
        }
        defs = []
        for route in ROUTES:
            handler = (
                self.health_check if route.access is None else self._guarded(route, handlers[route.name])
            )
            defs.append(web.route(route.method, route.path, handler, name=route.name))
        return defs

    def application(self) -> web.Application:
        """The routes, behind :attr:`connections`' middleware (its deadlines hold on a ``GuardedSite``)."""
        app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[self.connections.middleware])
        app.add_routes(self.route_defs())
        app.on_response_prepare.append(security_headers)
        return app

    async def _body(self, request: web.Request, *, optional: bool = False) -> Any:
        raw = await read_body(request, self.connections.idle_timeout_s or None)
        try:  # JSON is UTF-8 (RFC 8259), whatever charset the request declares
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequestError([FieldError("body", "must be UTF-8 encoded JSON")]) from None
        if optional and not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            rule = f"must be a JSON object (invalid JSON: {exc})"
            raise InvalidRequestError([FieldError("body", rule)]) from None

    async def _produce(self, parsed: ParsedRequest, topic: str) -> web.Response | None:
        """Produce ``parsed.record`` unless this instance already did with the same content; an error
        response (409, 400, 503) or ``None`` when the record is on Kafka."""
        record: AnyRecord = parsed.record
        event_id = record.event_id  # type: ignore[union-attr]
        known = self._seen.get(event_id)
        if known is not None:
            if known != parsed.digest:
                return error(409, f"request_id {parsed.request_id!r} was already used with another body")
            return None
        try:
            value = self.codec.encode(record, topic=topic)
        except EncodeError as exc:
            return error(400, f"the request cannot be encoded as its contract record: {exc}")
        try:
            await self.publish(topic, key_of(record), value)
        except ProduceError as exc:
            return error(503, f"not recorded, retry with the same request_id: {exc}")
        self._seen[event_id] = parsed.digest
        while len(self._seen) > SEEN_MAX:
            self._seen.popitem(last=False)
        return None

    def _path_id(self, request: web.Request) -> str:
        event_id = request.match_info["id"]
        if not EVENT_ID_RE.fullmatch(event_id):
            raise InvalidRequestError([FieldError("id", "a request id as answered by the gateway (a UUID)")])
        return event_id

    # --- handlers ---------------------------------------------------------------------------------------

    async def observe(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        provider = principal.provider_id or ""
        if principal.provider_kind is None:  # refused at start (run); a key file changed under a test
            return error(403, "this API key has no registered provider_kind: ask the registry to add it")
        sender = Sender(provider, principal.provider_kind, principal.origins)
        body = await self._body(request)
        claimed = claimed_provider(body)
        if claimed is not None and claimed != provider:
            return error(403, "provider_id must be the enterprise number of your API key")
        not_yours = claimed_source(body, sender)
        if not_yours is not None:
            return error(403, not_yours)
        parsed = parse_observation(body, sender, self.clock_ms(), self.id_secret)
        record = parsed.record
        topic = self.topics.readings if isinstance(record, OdometerReading) else self.topics.plate_readings
        assert isinstance(record, OdometerReading | PlateOdometerReading)
        refused = await self._produce(parsed, topic)
        if refused is not None:
            return refused
        return self._accepted(record.event_id, parsed.request_id, f"/observations/{record.event_id}")

    async def observation(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        event_id = self._path_id(request)
        wait = parse_wait(request.query.get("wait_s"), self.max_wait_s)
        receipt = await self.receipt(event_id, wait)
        provider = principal.provider_id if principal.role is Role.PROVIDER else None
        if receipt is not None and provider is not None and receipt.provider_id != provider:
            # Another provider's request reads as one not known yet, after the same wait: request ids are
            # uuid5 of public data, and a different answer would tell whether and when a competitor sent one.
            await asyncio.sleep(wait)
            receipt = None
        if receipt is None:
            return web.json_response({"request_id": event_id, "status": "PENDING"})
        return web.json_response(receipt_json(receipt))

    async def confirm(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        event_id = self._path_id(request)
        provider = principal.provider_id or ""
        body = await self._body(request, optional=True)
        receipt = self.index.get(event_id)
        if receipt is None or receipt.provider_id != provider:  # another's reads as unknown (see observation)
            return error(404, "no receipt for this request yet: confirm once its receipt is out")
        if not receipt.vin:
            return error(409, "the plate of this reading was never resolved to a vehicle: nothing to confirm")
        parsed = parse_confirmation(body, event_id, receipt.vin, provider, self.clock_ms(), self.id_secret)
        refused = await self._produce(parsed, self.topics.confirmations)
        if refused is not None:
            return refused
        confirmation_id = parsed.record.event_id
        body = {"request_id": confirmation_id, "confirmed_request_id": event_id, "status": "RECORDED"}
        return web.json_response(body, status=202)

    async def correct(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        provider = principal.provider_id or ""
        draft = parse_correction(await self._body(request))
        issued = self.index.by_error_number(draft.error_number)
        if issued is not None and issued.provider_id != provider:
            issued = None  # another provider's number reads as an unknown one (no 403: nothing to learn)
        if issued is not None:
            if not issued.vin:
                return error(409, "this receipt names no vehicle (a plate reading not resolved, or refused): "
                                  "send a new reading instead")  # fmt: skip
            if draft.vin is not None and draft.vin != issued.vin:
                raise InvalidRequestError([FieldError("vin", "is not the vehicle of this error number")])
            vin = issued.vin
        elif draft.vin is not None:
            vin = draft.vin  # older than this instance remembers: the core checks number and provider
        else:
            return error(404, "unknown error number (give the vin too for a receipt older than a day)")
        parsed = draft.record(vin, provider, self.clock_ms(), self.id_secret)
        refused = await self._produce(parsed, self.topics.corrections)
        if refused is not None:
            return refused
        event_id = parsed.record.event_id
        return self._accepted(event_id, parsed.request_id, f"/corrections/{event_id}")

    def _accepted(self, event_id: str, request_id: str, url: str) -> web.Response:
        """202: recorded. ``status`` is the receipt's when this instance already has it (a repeat)."""
        known = self.index.get(event_id)
        status = "PENDING" if known is None else known.status.value
        body = {"request_id": event_id, "client_request_id": request_id, "status": status, "receipt_url": url}
        return web.json_response(body, status=202, headers={"Location": url})

    async def health_check(self, request: web.Request) -> web.StreamResponse:
        state = {**self.health(), "receipts_indexed": len(self.index), "waiting": len(self._waiters)}
        ready = bool(state.get("caught_up"))
        body = {"status": "ok" if ready else "catching-up", **state}
        return web.json_response(body, status=200 if ready else 503)


