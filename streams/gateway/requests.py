"""The gateway's requests, pure: JSON bodies -> contract records, every field error named, stable ids.

::

    POST /observations body ──parse_observation──► OdometerReading (vin) | PlateOdometerReading (plate)
    POST /corrections body ───parse_correction───► CorrectionRequest (channel ELECTRONIC, by the provider)
    POST …/{id}/confirm body ─parse_confirmation─► ReadingConfirmation
            any field error ──► InvalidRequestError(errors): every (field, rule), for a 400

The types, enums and timestamps of the fields are checked against the Avro schema itself
(:func:`schemas.jsonl.parse_value`), so the gateway accepts exactly what the contract can carry; the
gateway adds only what a JSON body needs (a client request id, vin xor plate, a time zone on times,
length limits). The registry's own rules (R1: 17 ISO 3779 characters, values a counter can show, dates
not in the future...) stay with the judgment core: they come back on the receipt, with error numbers that
the provider can correct, exactly as for a Kafka producer.

Ids: the client chooses ``request_id``; the event id is an HMAC-SHA256, keyed with the gateway's secret
(``CARPASS_GATEWAY_SECRET_FILE``, the same on every instance), of ``provider|kind|request_id``
(:func:`event_id_for`), so a repeat of the same request by any gateway instance produces the same
``event_id``, which the pipeline is idempotent on, while nobody without the secret can compute a
provider's event ids from its request ids (they were ``uuid5`` of those public data: a producer could
pre-empt another provider's event id). :attr:`ParsedRequest.digest` fingerprints the request's
content (not its arrival time) so that an instance that remembers it can tell a harmless repeat from a
different body sent under the same request id (409).

Time (``submitted_at``) and the provider (from the API key) are arguments: nothing here reads a clock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas.catalog import schema_for
from schemas.errors import JsonLineError
from schemas.jsonl import parse_value
from schemas.limits import MAX_CHARS
from schemas.records import (
    CorrectionChannel,
    CorrectionRequest,
    OdometerReading,
    Origin,
    PlateOdometerReading,
    ProviderKind,
    ReadingConfirmation,
)

GATEWAY_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://www.car-pass.be/carpass-streams/gateway")
"""Namespace of the event ids the gateway derives. Never change it: repeats would get new ids."""

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
EVENT_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ERROR_NUMBER_RE = re.compile(r"^E[0-9A-F]{12}$")
VIN_SHAPE_RE = re.compile(r"^[A-Za-z0-9]{1,32}$")
PLATE_SHAPE_RE = re.compile(r"^[A-Z0-9-]{1,16}$")
PROVIDER_RE = re.compile(r"^[0-9]{10}$")
MAX_TEXT = MAX_CHARS["work_description"]
MAX_COUNTER_DIGITS = 9

_READING = schema_for(OdometerReading).expanded
_READING_TYPES = {f["name"]: f["type"] for f in _READING["fields"]}
_CORRECTION_TYPES = {f["name"]: f["type"] for f in schema_for(CorrectionRequest).expanded["fields"]}
_SET_BY_GATEWAY = frozenset({"event_id", "submitted_at", "provider_id"})
_OBSERVATION_FIELDS = frozenset(
    {"request_id", "plate", *(name for name in _READING_TYPES if name not in _SET_BY_GATEWAY)}
) | {"provider_id"}
_CORRECTION_FIELDS = frozenset(
    {"request_id", "vin", "error_number", "corrected_value", "corrected_observed_at", "withdraw",
     "justification"}
)  # fmt: skip
_CONFIRMATION_FIELDS = frozenset({"note"})
_KINDS = frozenset(k.value for k in ProviderKind)
_ORIGINS = frozenset(o.value for o in Origin)
_TIME_FIELDS = frozenset({"observed_at", "corrected_observed_at"})
_TIMEZONE_RE = re.compile(r"(Z|[+-]\d\d:?\d\d)$")


@dataclass(frozen=True, slots=True)
class FieldError:
    """One refused field: ``field`` (a body key, or ``"body"``) and the ``rule`` it breaks."""

    field: str
    rule: str


class InvalidRequestError(ValueError):
    """A request body that cannot become an event; ``errors`` names every bad field (answer 400)."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.rule}" for e in errors))
        self.errors = tuple(errors)

    def to_json_obj(self) -> dict[str, Any]:
        return {
            "error": "invalid request: see errors",
            "errors": [{"field": e.field, "rule": e.rule} for e in self.errors],
        }


@dataclass(frozen=True, slots=True)
class ParsedRequest:
    """A valid request: the event to produce, the client's id (if any) and the content digest."""

    record: OdometerReading | PlateOdometerReading | CorrectionRequest | ReadingConfirmation
    request_id: str
    digest: str


def event_id_for(provider_id: str, kind: str, request_id: str, secret: bytes = b"") -> str:
    """The event id of request ``request_id`` of kind ``kind`` (observation, correction, confirmation) by
    ``provider_id``: the same for every repeat, different for other providers or kinds. With ``secret``
    (the gateway always has one) a UUID of the HMAC-SHA256 of them; without, ``uuid5`` (tests, tools)."""
    name = f"{provider_id}|{kind}|{request_id}"
    if not secret:
        return str(uuid.uuid5(GATEWAY_NAMESPACE, name))
    digest = hmac.new(secret, name.encode("utf-8"), hashlib.sha256).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _digest(kind: str, content: Mapping[str, Any]) -> str:
    text = json.dumps([kind, content], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _Checker:
    """Collects field errors of one body."""

    def __init__(self, body: Any, allowed: frozenset[str]) -> None:
        self.errors: list[FieldError] = []
        self.body: dict[str, Any] = body if isinstance(body, dict) else {}
        if not isinstance(body, dict):
            self.fail("body", "must be a JSON object")
        for key in sorted(self.body):
            if key not in allowed:
                self.fail(key, f"unknown field (allowed: {', '.join(sorted(allowed))})")

    def fail(self, field: str, rule: str) -> None:
        self.errors.append(FieldError(field, rule))

    def typed(self, name: str, avro_type: Any, *, required: bool = False, default: Any = None) -> Any:
        """The field ``name`` checked against its Avro type (times must carry a time zone)."""
        if name not in self.body or (self.body[name] is None and not required):
            if required:
                self.fail(name, "required")
            return default
        value = self.body[name]
        if name in _TIME_FIELDS and isinstance(value, str) and not _TIMEZONE_RE.search(value):
            self.fail(name, "must be an ISO-8601 date-time with a time zone, e.g. 2026-11-23T09:30:00+01:00")
            return default
        try:
            return parse_value(avro_type, value, name)
        except JsonLineError as exc:
            self.fail(name, exc.detail)
            return default

    def text(self, name: str, pattern: re.Pattern[str] | None, rule: str, *, required: bool = False) -> Any:
        value = self.body.get(name)
        if value is None:
            if required:
                self.fail(name, f"required: {rule}")
            return None
        if not isinstance(value, str) or (pattern is not None and not pattern.fullmatch(value)):
            self.fail(name, rule)
            return None
        if len(value) > MAX_TEXT:
            self.fail(name, f"at most {MAX_TEXT} characters")
            return None
        return value

    def done(self) -> None:
        if self.errors:
            raise InvalidRequestError(self.errors)


_REQUEST_ID_RULE = "a client request id: 1-100 characters of A-Z a-z 0-9 . _ : -"


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sends an observation, from its API key: the provider, its registered kind and the origins its
    readings may have (``streams.http.auth``). The kind and the origin set the reading's weight in the
    trend: a body cannot choose them."""

    provider_id: str
    provider_kind: ProviderKind
    origins: frozenset[Origin]


def parse_observation(body: Any, sender: Sender, submitted_at: int, secret: bytes = b"") -> ParsedRequest:
    """An observation by VIN (``OdometerReading``) or by plate (``PlateOdometerReading``) of ``sender``,
    sent at ``submitted_at`` (epoch ms). Raises :class:`InvalidRequestError`.

    ``provider_kind`` is the sender's; ``origin`` is the body's or, when it leaves it out, the sender's only
    origin. A ``provider_id``, ``provider_kind`` or ``origin`` in the body that is not the sender's is
    refused by the shell with 403 before this is called (:func:`claimed_provider`,
    :func:`claimed_source`)."""
    check = _Checker(body, _OBSERVATION_FIELDS)
    request_id = check.text("request_id", REQUEST_ID_RE, _REQUEST_ID_RULE, required=True)
    vin = check.text("vin", VIN_SHAPE_RE, "1-32 letters and digits (the registry checks R1 on the receipt)")
    plate = check.text("plate", PLATE_SHAPE_RE, "1-16 characters of A-Z 0-9 - (e.g. 1-ABC-123)")
    if "vin" not in check.body and "plate" not in check.body:
        check.fail("vin", "either vin or plate is required")
    elif "vin" in check.body and "plate" in check.body:
        check.fail("plate", "give vin or plate, not both")
    values: dict[str, Any] = {}
    for name in ("odometer_value", "observed_at"):
        values[name] = check.typed(name, _READING_TYPES[name], required=True)
    check.typed("provider_kind", _READING_TYPES["provider_kind"])  # a valid one is the sender's (the shell)
    values["provider_kind"] = sender.provider_kind
    origin = check.typed("origin", _READING_TYPES["origin"], required=len(sender.origins) != 1)
    values["origin"] = origin if origin is not None else next(iter(sender.origins), None)
    values["unit"] = check.typed("unit", _READING_TYPES["unit"], default=_default("unit"))
    values["odometer_replaced"] = check.typed("odometer_replaced", _READING_TYPES["odometer_replaced"],
                                              default=False)  # fmt: skip
    digits = check.typed("counter_digits", _READING_TYPES["counter_digits"])
    if digits is not None and not 1 <= digits <= MAX_COUNTER_DIGITS:
        check.fail("counter_digits", f"null or the counter's number of digits, 1 to {MAX_COUNTER_DIGITS}")
    values["counter_digits"] = digits
    values["work_description"] = check.text("work_description", None, "null or a string")
    check.done()
    key = vin if vin is not None else plate
    content = {**values, "vin": vin, "plate": plate}
    provider_id = sender.provider_id
    event_id = event_id_for(provider_id, "observation", request_id, secret)
    common = {"event_id": event_id, "submitted_at": submitted_at, "provider_id": provider_id, **values}
    record: OdometerReading | PlateOdometerReading = (
        OdometerReading(vin=key, **common) if vin is not None else PlateOdometerReading(plate=key, **common)
    )
    return ParsedRequest(record, request_id, _digest("observation", content))


def _default(name: str) -> Any:
    field = next(f for f in _READING["fields"] if f["name"] == name)
    return parse_value(field["type"], field["default"], name)


def claimed_provider(body: Any) -> str | None:
    """The ``provider_id`` a body names, if any (the shell answers 403 when it is not the caller's)."""
    if isinstance(body, dict) and isinstance(body.get("provider_id"), str):
        claimed: str = body["provider_id"]
        return claimed
    return None


def claimed_source(body: Any, sender: Sender) -> str | None:
    """Why a body's ``provider_kind`` or ``origin`` is not ``sender``'s to claim (the shell answers 403),
    or ``None``. Either field may be left out; a value that is no kind or origin at all is the parser's
    400."""
    if not isinstance(body, dict):
        return None
    kind, origin = body.get("provider_kind"), body.get("origin")
    if kind in _KINDS and kind != sender.provider_kind.value:
        return f"provider_kind must be {sender.provider_kind.value}, the kind registered for your API key"
    if origin in _ORIGINS and origin not in {o.value for o in sender.origins}:
        allowed = ", ".join(sorted(o.value for o in sender.origins))
        return f"origin must be one of the origins registered for your API key: {allowed}"
    return None


@dataclass(frozen=True, slots=True)
class CorrectionDraft:
    """A valid correction body before its VIN is known (from the error number's receipt, or the body)."""

    request_id: str
    error_number: str
    vin: str | None
    corrected_value: int | None
    corrected_observed_at: int | None
    withdraw: bool
    justification: str | None

    @property
    def digest(self) -> str:
        return _digest("correction", {n: getattr(self, n) for n in self.__slots__ if n != "vin"})

    def record(self, vin: str, provider_id: str, submitted_at: int, secret: bytes = b"") -> ParsedRequest:
        """The ``CorrectionRequest`` (channel ELECTRONIC, requested by ``provider_id``) for ``vin``."""
        correction = CorrectionRequest(
            event_id=event_id_for(provider_id, "correction", self.request_id, secret),
            error_number=self.error_number,
            vin=vin, channel=CorrectionChannel.ELECTRONIC, requested_by=provider_id,
            submitted_at=submitted_at, corrected_value=self.corrected_value,
            corrected_observed_at=self.corrected_observed_at, withdraw=self.withdraw,
            justification=self.justification,
        )  # fmt: skip
        return ParsedRequest(correction, self.request_id, self.digest)


def parse_correction(body: Any) -> CorrectionDraft:
    """A correction of one error number (R5): a corrected value and/or date, or a withdrawal. Raises
    :class:`InvalidRequestError`."""
    check = _Checker(body, _CORRECTION_FIELDS)
    request_id = check.text("request_id", REQUEST_ID_RE, _REQUEST_ID_RULE, required=True)
    number = check.text(
        "error_number", ERROR_NUMBER_RE, "an error number from a receipt: E and 12 hex digits", required=True
    )
    vin = check.text("vin", VIN_SHAPE_RE, "1-32 letters and digits")
    value = check.typed("corrected_value", _CORRECTION_TYPES["corrected_value"])
    observed = check.typed("corrected_observed_at", _CORRECTION_TYPES["corrected_observed_at"])
    withdraw = check.typed("withdraw", _CORRECTION_TYPES["withdraw"], default=False)
    justification = check.text("justification", None, "null or a string")
    if withdraw and (value is not None or observed is not None):
        check.fail("withdraw", "a withdrawal carries no corrected_value or corrected_observed_at")
    elif not withdraw and value is None and observed is None and not check.errors:
        check.fail("corrected_value", "give corrected_value and/or corrected_observed_at, or withdraw: true")
    check.done()
    return CorrectionDraft(request_id, number, vin, value, observed, bool(withdraw), justification)


def parse_confirmation(
    body: Any, observation_id: str, vin: str, provider_id: str, submitted_at: int, secret: bytes = b""
) -> ParsedRequest:
    """The provider's confirmation of its reading ``observation_id`` (of ``vin``). One per reading and
    provider: the event id derives from the reading, so a repeat is the same event. Raises
    :class:`InvalidRequestError`."""
    check = _Checker({} if body is None else body, _CONFIRMATION_FIELDS)
    note = check.text("note", None, "null or a string")
    check.done()
    confirmation = ReadingConfirmation(
        event_id=event_id_for(provider_id, "confirmation", observation_id, secret), vin=vin,
        confirmed_event_id=observation_id, provider_id=provider_id, submitted_at=submitted_at, note=note,
    )  # fmt: skip
    return ParsedRequest(confirmation, observation_id, _digest("confirmation", {"note": note}))


def parse_wait(raw: str | None, max_wait_s: float) -> float:
    """The ``wait_s`` query parameter: seconds to wait for a receipt, 0 to ``max_wait_s``. Raises
    :class:`InvalidRequestError`."""
    if raw is None or raw == "":
        return 0.0
    try:
        wait = float(raw)
    except ValueError:
        wait = -1.0
    if not 0.0 <= wait <= max_wait_s:
        rule = f"seconds to wait, a number from 0 to {max_wait_s:g}"
        raise InvalidRequestError([FieldError("wait_s", rule)])
    return wait
