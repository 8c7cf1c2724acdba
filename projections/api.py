"""The query API (aiohttp handlers), written over a :class:`ViewSource` so that it runs on a worker (Faust
web is aiohttp) or on an in-memory source in tests.

::

    request ─► authenticate (401) ─► authorize the route's roles (403) ─► validate path/query (400)
            ─► forward(request, table, key): the wiring sends it to the worker owning the key; None = here
            ─► ViewSource ─► pure views (projections.views / quality / certificates / html) ─► response

=======  ===================================  ==============================  =================
method   path                                 roles                           key (table route)
=======  ===================================  ==============================  =================
GET      /vehicles/{vin}/history              dealer, operator                vehicle: vin
GET      /vehicles/{vin}/ok-label             dealer, operator                vehicle: vin
GET      /providers/{id}/quality              provider (own id), operator     provider: id
POST     /vehicles/{vin}/certificates         operator                        vehicle: vin
GET      /certificates/{number}               public, provider, dealer,       certificate: number
                                              operator
GET      /vehicles/{vin}/certificate.html     dealer, operator                vehicle: vin
=======  ===================================  ==============================  =================

Errors are JSON ``{"error": "..."}`` and never echo a VIN, provider id or vehicle fact. Authentication
and authorization come before any lookup, so a refused caller cannot even learn whether a VIN exists.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from projections.certificates import (
    CertificateSigner,
    IssuedCertificate,
    VerificationKeys,
    certificate_number,
    issue,
    verify,
)
from projections.html import render_certificate, render_verification
from projections.i18n import DEFAULT_LANGUAGE, LANGUAGES, language_of
from projections.quality import (
    REPORT_COLUMNS,
    TRUSTED_RATE_LIMIT,
    ProviderTally,
    compliance,
    late_share,
    provider_report,
    quality_view,
    trusted_providers,
    year_of,
)
from projections.views import certificate_view, ok_label_decision, ok_label_view
from schemas.jsonl import from_json_obj, to_json_obj
from schemas.records import ProviderKind
from schemas.views import CertificateView
from streams.domain.calendar import brussels_day, date_of
from streams.domain.state import VehicleState
from streams.http import forwarding
from streams.http.auth import ANONYMOUS, Access, ApiKeys, AuthError, Principal, Role, authorize, presented_key
from streams.http.forwarding import FORWARDED_HEADER
from streams.http.guard import read_body
from streams.http.limits import AuthThrottle, RateLimiter
from streams.http.responses import client_address, error, security_headers, too_many, wall_clock_ms

VIN_RE = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
PROVIDER_RE = re.compile(r"^[0-9]{10}$")
NUMBER_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
IDEMPOTENCY_RE = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
YEAR_RE = re.compile(r"^(199[0-9]|2[0-9]{3})$")
ISSUED_WAIT_S = 5.0
"""How long an issuance with an Idempotency-Key waits to see which record of its number came first."""
KM_RE = re.compile(r"[0-9]{1,8}")
"""ASCII digits only (``str.isdigit`` takes "²" and other digits ``int`` refuses)."""
MAX_ADVERTISED_KM = 10_000_000


class NotReadyError(Exception):
    """Raised by a :class:`ViewSource` that cannot tell yet whether a key exists (its worker is restoring
    its tables): the API answers 503 "retry", never a wrong "not found"."""


@dataclass(frozen=True, slots=True)
class VehicleSnapshot:
    """A vehicle's state and the event time (epoch ms) of the newest event folded into it."""

    state: VehicleState
    as_of: int


class ViewSource(Protocol):
    """Where the handlers read views and record issuances; the wiring implements it over Faust tables."""

    async def vehicle(self, vin: str) -> VehicleSnapshot | None: ...

    async def quality(self, provider_id: str) -> ProviderTally | None: ...

    async def all_tallies(self) -> list[ProviderTally]:
        """Every provider's tally, whichever worker owns it (as of a few seconds ago at most)."""
        ...

    async def certificate(self, number: str) -> IssuedCertificate | None:
        """The certificate ``number``, on the worker owning it."""

    async def issued(self, number: str, principal: Principal) -> IssuedCertificate | None:
        """The certificate ``number`` from any worker (the owner is asked on behalf of ``principal``)."""

    async def record_issuance(self, certificate: IssuedCertificate) -> None:
        """Publish the issuance record (on Kafka when this returns); after it, :meth:`issued` finds the
        number, eventually: the first record of a number wins."""

    def routing(self) -> Mapping[str, Any]:
        """Which worker owns which partitions of each table (``/cluster/routing``, operators only)."""


Forward = Callable[[web.Request, str, str, Principal], Awaitable[web.StreamResponse | None]]
"""``forward(request, table, key, principal)``: the answer of the worker owning ``key`` (asked on behalf of
``principal``, ``streams.http.forwarding``), or None to answer here."""


async def answer_here(request: web.Request, table: str, key: str, principal: Principal) -> None:
    """The forwarder of a single process: every key is local."""
    return None


class InMemoryViewSource:
    """A dict-backed :class:`ViewSource` for tests and tools."""

    def __init__(self) -> None:
        self.vehicles: dict[str, VehicleSnapshot] = {}
        self.tallies: dict[str, ProviderTally] = {}
        self.certificates: dict[str, IssuedCertificate] = {}
        self.records: list[IssuedCertificate] = []
        """Every issuance record published, in order."""

    def put_state(self, state: VehicleState, as_of: int) -> None:
        self.vehicles[state.vin] = VehicleSnapshot(state, as_of)

    def put_tally(self, tally: ProviderTally) -> None:
        self.tallies[tally.provider_id] = tally

    async def vehicle(self, vin: str) -> VehicleSnapshot | None:
        return self.vehicles.get(vin)

    async def quality(self, provider_id: str) -> ProviderTally | None:
        return self.tallies.get(provider_id)

    async def all_tallies(self) -> list[ProviderTally]:
        return list(self.tallies.values())

    async def certificate(self, number: str) -> IssuedCertificate | None:
        return self.certificates.get(number)

    async def issued(self, number: str, principal: Principal) -> IssuedCertificate | None:
        return self.certificates.get(number)

    async def record_issuance(self, certificate: IssuedCertificate) -> None:
        self.records.append(certificate)
        self.certificates.setdefault(certificate.number, certificate)  # the first record wins

    def routing(self) -> Mapping[str, Any]:
        return {}  # one process: no group


@dataclass(frozen=True, slots=True)
class Route:
    """One API route: the OpenAPI document and the role tests are checked against this list."""

    method: str
    path: str
    name: str
    access: Access
    table: str


_ANYONE = Access(frozenset(Role))
_ADVERTS = Access(frozenset({Role.DEALER, Role.OPERATOR}))
_OWN_PROVIDER = Access(frozenset({Role.PROVIDER, Role.OPERATOR}), own_provider=True)
_STAFF = Access(frozenset({Role.OPERATOR}))
_PUBLIC = Access(frozenset(Role), anonymous=True)
_ISSUERS = Access(frozenset({Role.OPERATOR, Role.PROVIDER}),
                  provider_kinds=frozenset({ProviderKind.INSPECTION_BODY}))  # fmt: skip
"""R11: certificates are delivered at technical inspection (an inspection body's key) and by the registry."""
ROUTES: tuple[Route, ...] = (
    Route("GET", "/vehicles/{vin}/history", "history", _ADVERTS, "vehicle"),
    Route("GET", "/vehicles/{vin}/ok-label", "ok_label", _ADVERTS, "vehicle"),
    Route("GET", "/providers/{id}/quality", "quality", _OWN_PROVIDER, "provider"),
    Route("GET", "/providers/trusted", "trusted", _PUBLIC, ""),
    Route("GET", "/providers/report", "report", _STAFF, ""),
    Route("POST", "/vehicles/{vin}/certificates", "issue", _ISSUERS, "vehicle"),
    Route("GET", "/certificates/{number}", "verify", _ANYONE, "certificate"),
    Route("GET", "/certificates/{number}/document", "document", _ANYONE, "certificate"),
    Route("GET", "/vehicles/{vin}/certificate.html", "page", _ADVERTS, "vehicle"),
    Route("GET", "/cluster/routing", "routing", _STAFF, ""),
    Route("GET", "/verify/{number}", "verify_page", _PUBLIC, "certificate"),
    Route("GET", "/keys", "keys", _PUBLIC, ""),
)
"""``table``: the table whose key is the path's parameter (the request is answered by the worker owning
it); empty: answered by any worker."""


def _new_event_id() -> str:
    return str(uuid.uuid4())


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RoleHandler = Callable[[web.Request, Principal], Awaitable[web.StreamResponse]]


class CarPassApi:
    """The handlers. ``clock`` gives epoch ms (the query day and issuance time); ``forward`` does table
    routing; ``new_event_id`` names an issuance without an ``Idempotency-Key`` header."""

    def __init__(
        self,
        source: ViewSource,
        keys: ApiKeys,
        signer: CertificateSigner,
        *,
        clock: Callable[[], int] = wall_clock_ms,
        forward: Forward = answer_here,
        forward_secret: bytes | None = None,
        new_event_id: Callable[[], str] = _new_event_id,
        auth_throttle: AuthThrottle | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        body_timeout_s: float | None = 10.0,
        verification_keys: VerificationKeys | None = None,
        public_limiter: RateLimiter | None = None,
        public_url: str = "",
    ) -> None:
        """``auth_throttle``: failed authentications per client address (default: 20, then 6 a minute);
        ``body_timeout_s``: the deadline of a request body (``None``: none); ``verification_keys``: the keys
        certificates are verified against, by key id (default: the signer's alone); ``public_limiter``:
        requests to the routes open to anyone, per client address (default: 30, then one a second)."""
        self.verification_keys = verification_keys or VerificationKeys.of_signer(signer)
        self.public_limiter = public_limiter if public_limiter is not None else RateLimiter(1.0, 30)
        self.body_timeout_s = body_timeout_s
        self.auth_throttle = auth_throttle if auth_throttle is not None else AuthThrottle(20, 6.0)
        self.monotonic = monotonic
        self.source = source
        self.forward_secret = forward_secret
        self.number_secret = forward_secret
        self.public_url = public_url
        """Where anyone checks a certificate (``Settings.public_base_url``; empty: the request's origin)."""
        """Certificate numbers are derived with it (unguessable without it; ``certificate_number``)."""
        self.keys = keys
        self.signer = signer
        self.clock = clock
        self.forward = forward
        self.new_event_id = new_event_id

    # --- plumbing --------------------------------------------------------------------------------------

    def _guarded(self, route: Route, handler: RoleHandler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            marker = request.headers.get(FORWARDED_HEADER)
            address, now = client_address(request), self.monotonic()
            blocked = self.auth_throttle.blocked(address, now)
            if blocked > 0:
                return too_many(blocked, "too many failed authentications from this address")
            try:
                if marker is None and route.access.anonymous:  # open to anyone, a few requests a second
                    wait = self.public_limiter.take(address, now)
                    if wait > 0:
                        return too_many(wait, "too many requests from this address")
                    principal = ANONYMOUS
                elif marker is None:
                    principal = self.keys.authenticate(presented_key(request.headers))
                else:  # another worker of the group asks, on behalf of the client it authenticated
                    principal = await self._forwarded_for(request, marker)
            except AuthError as refused:  # an unknown key, or a forward that does not verify
                self.auth_throttle.failed(address, now)
                return error(refused.status, refused.message)
            try:
                authorize(principal, route.access, request.match_info.get("id"))
            except AuthError as refused:
                return error(refused.status, refused.message)
            key = next(iter(request.match_info.values()), "")
            if route.table and not _valid_key(route.table, key):
                return error(400, f"malformed {_KEY_NAMES[route.table]} in the path")
            if marker is None and route.table:
                forwarded = await self.forward(request, route.table, key, principal)
                if forwarded is not None:
                    return forwarded
            try:
                return await handler(request, principal)
            except NotReadyError:
                return error(503, "this worker is restoring its tables (rebalance under way); retry")

        guarded.__name__ = route.name
        return guarded

    async def _forwarded_for(self, request: web.Request, marker: str) -> Principal:
        """The principal of a forward from another worker (``streams.http.forwarding``); a 403
        :class:`AuthError` when it does not verify or this worker has no forward secret."""
        if self.forward_secret is None:
            raise forwarding.NOT_AUTHENTIC
        body = await read_body(request, self.body_timeout_s)
        return forwarding.verify(self.forward_secret, marker, request.method, str(request.rel_url), body,
                                 self.clock())  # fmt: skip

    def route_defs(self) -> list[web.RouteDef]:
        """The routes, to add to any aiohttp application (a Faust worker's ``app.web.web_app``)."""
        handlers = {
            "history": self.history,
            "ok_label": self.ok_label,
            "quality": self.quality,
            "trusted": self.trusted_providers,
            "report": self.provider_report,
            "issue": self.issue_certificate,
            "verify": self.verify_certificate,
            "document": self.certificate_document,
            "page": self.certificate_page,
            "routing": self.routing,
            "verify_page": self.verify_page,
            "keys": self.published_keys,
        }
        return [web.route(r.method, r.path, self._guarded(r, handlers[r.name]), name=r.name) for r in ROUTES]

    def application(self) -> web.Application:
        """A standalone application with the routes (tests, single-process use)."""
        app = web.Application()
        app.add_routes(self.route_defs())
        app.on_response_prepare.append(security_headers)
        return app

    # --- handlers --------------------------------------------------------------------------------------

    async def routing(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        return web.json_response(self.source.routing())

    async def history(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        snapshot = await self.source.vehicle(request.match_info["vin"])
        if snapshot is None:
            return error(404, "no vehicle with this VIN in the registry")
        return web.json_response(to_json_obj(certificate_view(snapshot.state, snapshot.as_of)))

    async def ok_label(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        raw = request.query.get("advertised_km", "")
        if not KM_RE.fullmatch(raw) or int(raw) > MAX_ADVERTISED_KM:
            return error(400, "advertised_km must be a whole number of km (0 to 10,000,000)")
        vin = request.match_info["vin"]
        snapshot = await self.source.vehicle(vin)
        today = brussels_day(self.clock())
        view = ok_label_view(snapshot.state, snapshot.as_of) if snapshot is not None else None
        decision = ok_label_decision(view, today, int(raw), vin=vin)
        return web.json_response(
            {
                "vin": vin,
                "query_date": date_of(today).isoformat(),
                "advertised_km": decision.advertised_km,
                "eligible": decision.eligible,
                "denial_reasons": [d.value for d in decision.denial_reasons],
                "explanations": list(decision.explanations),
                "most_recent_km": decision.most_recent_km,
                "reading_count": decision.reading_count,
            }
        )

    async def quality(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        tally = await self.source.quality(request.match_info["id"])
        if tally is None:
            return error(404, "no quality figures for this provider")
        view = quality_view(tally)
        last_year = year_of(self.clock()) - 1
        finding = compliance(tally, last_year)
        body: dict[str, Any] = {
            "quality": to_json_obj(view),
            "late_submission_share": {str(y.year): late_share(y) for y in view.years},
            "r14_obliged": bool(tally.nace_codes) and tally.active,
            "r14_finding": {"year": last_year, "finding": finding.value if finding else None},
        }
        return web.json_response(body)

    def _year(self, request: web.Request, back: int) -> int | web.StreamResponse:
        """The ``year`` query parameter, by default this Brussels year minus ``back``; a 400 if malformed."""
        text = request.query.get("year")
        if text is None:
            return date_of(brussels_day(self.clock())).year - back
        if not YEAR_RE.fullmatch(text):
            return error(400, "year must be a year of four digits, 1990 to 2999")
        return int(text)

    async def trusted_providers(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        """R10, for anyone: the providers trusted in ``year`` (this year by default)."""
        year = self._year(request, 0)
        if not isinstance(year, int):
            return year
        listed = trusted_providers(await self.source.all_tallies(), year)
        body = {
            "year": year,
            "rule": "R10: at least one reading in the year before and a trend-break rate below 0.5 %",
            "providers": [{"provider_id": t.provider_id, "name": t.name,
                           "kind": t.kind.value if t.kind is not None else None} for t in listed],
        }  # fmt: skip
        return web.json_response(body)

    async def provider_report(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        """R14, for the registry's staff: the providers of ``year`` (last year by default) that were silent,
        sent abnormally few readings, or have a trend-break rate above ``max_rate``; JSON or CSV."""
        year = self._year(request, 1)
        if not isinstance(year, int):
            return year
        try:
            max_rate = float(request.query.get("max_rate", str(TRUSTED_RATE_LIMIT)))
        except ValueError:
            max_rate = -1.0
        if not 0.0 <= max_rate <= 1.0:
            return error(400, "max_rate must be a share between 0 and 1, e.g. 0.01 for 1 %")
        form = request.query.get("format", "json")
        if form not in ("json", "csv"):
            return error(400, "format must be json or csv")
        rows = provider_report(await self.source.all_tallies(), year, max_rate)
        if form == "csv":
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow(REPORT_COLUMNS)
            writer.writerows(_csv_safe(row.values()) for row in rows)
            attachment = {"Content-Disposition": f'attachment; filename="carpass-providers-{year}.csv"'}
            return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8",
                                headers=attachment)  # fmt: skip
        listed = [dict(zip(REPORT_COLUMNS, row.values(), strict=True)) for row in rows]
        body = {"year": year, "max_rate": max_rate, "columns": list(REPORT_COLUMNS), "providers": listed}
        return web.json_response(body)

    async def issue_certificate(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        """Issue a certificate (R11), recorded on ``certificates.issued`` before the answer. With an
        ``Idempotency-Key``, a request repeated (or sent twice at once) gets the first certificate (200)."""
        idempotency = request.headers.get("Idempotency-Key")
        if idempotency is not None and not IDEMPOTENCY_RE.fullmatch(idempotency):
            return error(400, "Idempotency-Key must be 1-100 characters of [A-Za-z0-9._:-]")
        asked = request.query.get("language")
        if asked is not None and asked not in LANGUAGES:
            return error(400, f"language must be one of {', '.join(LANGUAGES)}")
        vin = request.match_info["vin"]
        issuer = issuer_of(principal)
        issuance_id = idempotency or self.new_event_id()
        number = certificate_number(vin, issuance_id, issuer, self.number_secret)
        if idempotency is not None and (first := await self.source.issued(number, principal)) is not None:
            return _certificate_response(first, 200)
        snapshot = await self.source.vehicle(vin)
        if snapshot is None:
            return error(404, "no vehicle with this VIN in the registry")
        if snapshot.state.registration is None:
            return error(409, "a certificate needs the vehicle's registration, which the registry lacks")
        view = certificate_view(snapshot.state, snapshot.as_of)
        lang = language_of(request.query.get("language"), request.headers.get("Accept-Language"))
        cert = issue(view, issuance_id, self.clock(), self.signer, issuer=issuer, language=lang,
                     number=number)  # fmt: skip
        await self.source.record_issuance(cert)
        if idempotency is None:  # a number of its own: nobody else can have written it
            return _certificate_response(cert, 201)
        deadline = self.monotonic() + ISSUED_WAIT_S
        while (winner := await self.source.issued(number, principal)) is None:
            if self.monotonic() > deadline:
                return error(503, "the certificate is issued but not recorded yet: repeat the request with "
                                  "the same Idempotency-Key to get it")  # fmt: skip
            await asyncio.sleep(0.05)
        return _certificate_response(winner, 201 if winner == cert else 200)

    async def verify_certificate(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        cert = await self.source.certificate(request.match_info["number"])
        if cert is None:
            return error(404, "no certificate with this number")
        authentic = verify(cert, self.verification_keys)
        today = brussels_day(self.clock())
        body = {
            "authentic": authentic,
            "valid_today": authentic and cert.is_valid_on(today),
            "key_id": cert.key_id,
            "public_key": self.verification_keys.public_pem(cert.key_id),
            "certificate": cert.to_json_obj(),
        }
        return web.json_response(body)

    async def verify_page(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        """R16, for anyone: the certificate's key facts and whether its signature holds (no key needed)."""
        cert = await self.source.certificate(request.match_info["number"])
        if cert is None:
            return web.Response(status=404, content_type="text/html", charset="utf-8",
                                text="<!DOCTYPE html><title>Unknown certificate</title><p>No certificate has "
                                     "this number. Check the number on the paper.</p>")  # fmt: skip
        authentic = verify(cert, self.verification_keys)
        valid_today = authentic and cert.is_valid_on(brussels_day(self.clock()))
        lang = language_of(request.query.get("lang"), request.headers.get("Accept-Language"))
        page = render_verification(cert, authentic, valid_today, lang)
        return _html(page, lang)

    async def published_keys(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        """The public keys certificates are verified with, by key id (anyone; ``carpass verify --keys``)."""
        return web.json_response(self.verification_keys.published())

    async def certificate_page(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        """A preview (no number) in the language asked for (``?lang=``, else ``Accept-Language``)."""
        snapshot = await self.source.vehicle(request.match_info["vin"])
        if snapshot is None:
            return error(404, "no vehicle with this VIN in the registry")
        view = certificate_view(snapshot.state, snapshot.as_of)
        lang = language_of(request.query.get("lang"), request.headers.get("Accept-Language"))
        page = render_certificate(view, None, brussels_day(self.clock()), lang)
        return _html(page, lang)

    async def certificate_document(self, request: web.Request, principal: Principal) -> web.StreamResponse:
        """The issued certificate as its holder prints it (A4): what it certified when issued, in the
        language it was issued in, with its number, validity, fee, issuer and a QR code of the page where
        anyone checks it."""
        cert = await self.source.certificate(request.match_info["number"])
        if cert is None:
            return error(404, "no certificate with this number")
        record = from_json_obj(json.loads(cert.content_json))
        if not isinstance(record, CertificateView):  # only our own signed content gets here
            return error(500, "the certificate's content is not a certificate view")
        url = f"{self.public_url or _origin(request)}/verify/{cert.number}"
        lang = cert.language or DEFAULT_LANGUAGE
        page = render_certificate(record, cert, cert.issue_date, lang, verify_url=url, qr_svg=qr_svg(url))
        return _html(page, lang)


def _csv_safe(values: tuple[object, ...]) -> list[object]:
    """A row for a spreadsheet: a text starting with ``=``, ``+``, ``-``, ``@`` (a provider's registered
    name) gets a leading quote, so that no spreadsheet runs it as a formula."""
    return [f"'{v}" if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v for v in values]


def qr_svg(url: str) -> str:
    """A QR code of ``url`` as an inline ``<svg>`` (medium error correction: it survives a crease)."""
    import segno

    svg: str = segno.make(url, error="m").svg_inline(scale=3, border=2, title="QR code: " + url)
    return svg


def _origin(request: web.Request) -> str:
    """``scheme://host[:port]`` the request came to (when ``CARPASS_PUBLIC_URL`` is not set)."""
    return f"{request.scheme}://{request.host}"


def _html(page: str, lang: str) -> web.StreamResponse:
    language = {"Content-Language": lang}
    return web.Response(text=page, content_type="text/html", charset="utf-8", headers=language)


def issuer_of(principal: Principal) -> str:
    """Who issues, as ``certificates.issued`` records it: ``provider:<id>`` or ``operator:<key name>``."""
    if principal.provider_id is not None:
        return f"provider:{principal.provider_id}"
    return f"{principal.role.value}:{principal.name}"


def _certificate_response(cert: IssuedCertificate, status: int) -> web.StreamResponse:
    location = {"Location": f"/certificates/{cert.number}"}
    return web.json_response(cert.to_json_obj(), status=status, headers=location)


_KEY_NAMES = {"vehicle": "VIN", "provider": "provider id", "certificate": "certificate number"}


def _valid_key(table: str, key: str) -> bool:
    pattern = {"vehicle": VIN_RE, "provider": PROVIDER_RE, "certificate": NUMBER_RE}[table]
    return pattern.fullmatch(key) is not None


def dumps(obj: Any) -> str:
    """JSON as the API writes it (for tools)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
