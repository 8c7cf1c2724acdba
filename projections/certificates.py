"""Issuing and verifying Car-Pass certificates (R11, R16): number, dates, fee, Ed25519 signature.

::

    CertificateView, issuance event id, issued_at ──issue()──► IssuedCertificate (signed)
        │ number     = uuid5(NAMESPACE, "certificate|<vin>|<issuance event id>")   deterministic, unique
        │ issue_date = Brussels day of issued_at;  valid_until = issue_date + 2 months - 1 day
        │ fee        = EUR 10.50, or free (fee_rule below)
        ▼ signature  = Ed25519 over canonical_json(signed_payload())
    IssuedCertificate ──verify(cert, signer)──► authentic? (any change to the content breaks it)

Fee rule (R11): "free if it shows fewer than 4 readings at intervals of less than 2 months". Read
literally, both conditions must hold: fewer than 4 readings, *and* each reading less than 2 calendar
months after the one before it (a certificate of 0 or 1 reading qualifies). Three readings spread over
years cost EUR 10.50; so do 4 readings a week apart.

Canonical JSON: keys sorted, no insignificant white space, UTF-8, no floats in the payload (the fee is in
cents), so that any verifier re-serialising the payload gets the same bytes. Ed25519 signatures are
deterministic: the same certificate signed twice gives the same bytes (replays stay identical).

Keys: :func:`load_signer` reads ``Settings.certificate_signing_key_file`` (PEM, PKCS#8); without one it
refuses, unless ``Settings.development``: then it generates a development key once into
``<cache_dir>/dev-certificate-signing-key.pem`` and logs a warning (two workers of one group on two
machines would sign with two keys, and a certificate of one would read "not authentic" on the other).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from projections.views import add_months
from schemas.jsonl import to_json_obj
from schemas.records import CertificateIssued
from schemas.views import CertificateView
from streams.domain.calendar import brussels_day, date_of, day_of
from streams.domain.ids import NAMESPACE
from streams.settings import Settings

log = logging.getLogger(__name__)

LANGUAGES = ("nl", "fr", "de", "en")
"""The languages a certificate can be issued in (Belgium's three, and English)."""
DEFAULT_LANGUAGE = "en"
FEE_CENTS = 1050
"""R11: EUR 10.50 incl. VAT (since 2024-01-01)."""
VALIDITY_MONTHS = 2
FREE_MAX_READINGS = 3
"""R11: "fewer than 4 readings"."""
FREE_INTERVAL_MONTHS = 2
DEV_KEY_NAME = "dev-certificate-signing-key.pem"


class CertificateError(Exception):
    """Root of this module's errors."""


class SigningKeyError(CertificateError):
    """The configured signing key cannot be read or is not an Ed25519 private key."""


class FeeRule(StrEnum):
    STANDARD = "STANDARD"
    FREE_FEW_CLOSE_READINGS = "FREE_FEW_CLOSE_READINGS"


def fee_of(reading_days: Sequence[int]) -> tuple[int, FeeRule]:
    """R11 fee in cents for a certificate showing readings on ``reading_days`` (sorted, days)."""
    if len(reading_days) <= FREE_MAX_READINGS and all(
        later < add_months(earlier, FREE_INTERVAL_MONTHS)
        for earlier, later in itertools.pairwise(reading_days)
    ):
        return 0, FeeRule.FREE_FEW_CLOSE_READINGS
    return FEE_CENTS, FeeRule.STANDARD


def certificate_number(
    vin: str, issuance_event_id: str, issuer: str | None = None, secret: bytes | None = None
) -> str:
    """The certificate's unique, deterministic number (a UUID string). With ``secret`` (the API's: the
    workers' shared secret) the number is that of an HMAC of the VIN, the ``issuer`` and the issuance id:
    nobody without the secret can derive the number of a certificate from a VIN and a guessable
    Idempotency-Key, and two issuers using the same key get two certificates."""
    if secret is None:
        scope = f"{issuer}|" if issuer is not None else ""
        return str(uuid.uuid5(NAMESPACE, f"certificate|{vin}|{scope}{issuance_event_id}"))
    message = f"{vin}|{issuer or ''}|{issuance_event_id}".encode()
    return str(uuid.uuid5(NAMESPACE, "certificate|" + hmac.new(secret, message, "sha256").hexdigest()))


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, compact separators, UTF-8: the bytes that are signed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _iso_day(day: int) -> str:
    return date_of(day).isoformat()


class CertificateSigner:
    """An Ed25519 key pair; ``key_id`` is the first 16 hex digits of SHA-256 of the raw public key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self.public_key: Ed25519PublicKey = private_key.public_key()
        self.key_id = key_id_of(self.public_key)

    @classmethod
    def generate(cls) -> CertificateSigner:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes) -> CertificateSigner:
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise SigningKeyError(f"not a readable unencrypted PEM private key: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError(f"the signing key must be Ed25519, not {type(key).__name__}")
        return cls(key)

    def private_pem(self) -> bytes:
        return self._private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def public_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)

def key_id_of(public_key: Ed25519PublicKey) -> str:
    """The first 16 hex digits of SHA-256 of the raw public key (what a certificate's ``key_id`` names)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


PEM_PUBLIC_KEY = re.compile(rb"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.DOTALL)


class VerificationKeys:
    """The public keys certificates are verified against, by key id: the signing key's and those of keys
    retired by a rotation (a certificate signed before the rotation still verifies: R16), or, offline
    (``carpass verify``), the keys a registry publishes (``GET /keys``)."""

    def __init__(self, keys: Sequence[Ed25519PublicKey], current: str | None = None) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {key_id_of(key): key for key in keys}
        self.current = current
        """The key id new certificates are signed with (``None``: offline, not known)."""

    @classmethod
    def of_signer(
        cls, signer: CertificateSigner, retired: Sequence[Ed25519PublicKey] = ()
    ) -> VerificationKeys:
        return cls([*retired, signer.public_key], signer.key_id)

    @staticmethod
    def parse_pem(pem: bytes) -> list[Ed25519PublicKey]:
        """The Ed25519 keys of ``pem`` (one or more ``PUBLIC KEY`` blocks); else :class:`SigningKeyError`."""
        blocks = PEM_PUBLIC_KEY.findall(pem)
        if not blocks:
            raise SigningKeyError("no PEM public key (-----BEGIN PUBLIC KEY-----) found")
        keys = []
        for number, block in enumerate(blocks, 1):
            try:
                key = serialization.load_pem_public_key(block)
            except ValueError as exc:
                raise SigningKeyError(f"public key {number}: not readable: {exc}") from exc
            if not isinstance(key, Ed25519PublicKey):
                raise SigningKeyError(f"public key {number}: must be Ed25519, not {type(key).__name__}")
            keys.append(key)
        return keys

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def public_key(self, key_id: str) -> Ed25519PublicKey | None:
        return self._keys.get(key_id)

    def public_pem(self, key_id: str) -> str | None:
        key = self._keys.get(key_id)
        if key is None:
            return None
        return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                                ).decode("ascii")  # fmt: skip

    def published(self) -> dict[str, Any]:
        """The key set as ``GET /keys`` publishes it: every key id with its PEM public key."""
        return {"keys": [{"key_id": key_id, "algorithm": "Ed25519", "public_key": self.public_pem(key_id),
                          "current": key_id == self.current} for key_id in self.key_ids]}  # fmt: skip


def load_verification_keys(settings: Settings, signer: CertificateSigner) -> VerificationKeys:
    """The signing key's public key and those of ``settings.certificate_retired_keys_file``."""
    if not settings.certificate_retired_keys_file:
        return VerificationKeys.of_signer(signer)
    path = Path(settings.certificate_retired_keys_file).expanduser()
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"cannot read CARPASS_CERTIFICATE_RETIRED_KEYS_FILE: {exc}") from exc
    try:
        return VerificationKeys.of_signer(signer, VerificationKeys.parse_pem(pem))
    except SigningKeyError as exc:
        raise SigningKeyError(f"CARPASS_CERTIFICATE_RETIRED_KEYS_FILE {path}: {exc}") from None


def load_signer(settings: Settings) -> CertificateSigner:
    """The signing key of ``settings``; without one, in development only (``settings.development``), the
    development key in ``cache_dir`` (created if missing), else :class:`SigningKeyError` saying what to do."""
    if settings.certificate_signing_key_file:
        path = Path(settings.certificate_signing_key_file).expanduser()
        try:
            return CertificateSigner.from_pem(path.read_bytes())
        except OSError as exc:
            raise SigningKeyError(f"cannot read CARPASS_CERTIFICATE_SIGNING_KEY_FILE: {exc}") from exc
    if not settings.development:
        raise SigningKeyError(
            "CARPASS_CERTIFICATE_SIGNING_KEY_FILE is not set: a worker serving the API signs certificates "
            "with it (every worker of the group the same key). Generate one with `openssl genpkey -algorithm "
            "ed25519 -out signing-key.pem`, or set CARPASS_DEVELOPMENT=1 on a developer's machine"
        )
    path = settings.cache_dir / DEV_KEY_NAME
    log.warning(
        "CARPASS_CERTIFICATE_SIGNING_KEY_FILE is not set: signing certificates with the development key %s",
        path,
    )
    if path.exists():
        return CertificateSigner.from_pem(path.read_bytes())
    signer = CertificateSigner.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(signer.private_pem())
    tmp.chmod(0o600)
    tmp.replace(path)
    return signer


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """One issued, signed certificate: what the issuance event carries and what verification returns.

    ``content_json`` is the canonical JSON of the ``CertificateView`` as issued; ``issued_at`` epoch ms;
    ``issue_date`` and ``valid_until`` (inclusive) Brussels days; ``signature`` base64 of Ed25519 over
    ``canonical_json(signed_payload())``.
    """

    number: str
    issuance_event_id: str
    vin: str
    issued_at: int
    issue_date: int
    valid_until: int
    fee_cents: int
    fee_rule: FeeRule
    content_json: str
    key_id: str
    signature: str = ""
    issuer: str | None = None
    """``provider:<id>`` or ``operator:<key name>``; None on certificates issued before it was recorded."""
    language: str | None = None
    """``nl``, ``fr``, ``de`` or ``en``; None on certificates issued before it was recorded."""

    def signed_payload(self) -> dict[str, Any]:
        """Everything the signature covers (all fields but the signature itself; ``issuer`` and ``language``
        only when set, so that certificates issued before them still verify)."""
        payload = {
            "number": self.number,
            "issuance_event_id": self.issuance_event_id,
            "vin": self.vin,
            "issued_at": self.issued_at,
            "issue_date": _iso_day(self.issue_date),
            "valid_until": _iso_day(self.valid_until),
            "fee": {"currency": "EUR", "cents": self.fee_cents, "rule": self.fee_rule.value},
            "certificate": json.loads(self.content_json),
            "key_id": self.key_id,
        }
        if self.issuer is not None:
            payload["issuer"] = self.issuer
        if self.language is not None:
            payload["language"] = self.language
        return payload

    def to_json_obj(self) -> dict[str, Any]:
        """The document: the signed payload plus ``signature``; :meth:`from_json_obj` inverts it."""
        return {**self.signed_payload(), "signature": self.signature}

    @classmethod
    def from_json_obj(cls, obj: dict[str, Any]) -> IssuedCertificate:
        """Raises :class:`CertificateError` when ``obj`` is not a certificate document."""

        def day(text: str) -> int:
            return day_of(date.fromisoformat(text))

        try:
            return cls(
                number=obj["number"],
                issuance_event_id=obj["issuance_event_id"],
                vin=obj["vin"],
                issued_at=int(obj["issued_at"]),
                issue_date=day(obj["issue_date"]),
                valid_until=day(obj["valid_until"]),
                fee_cents=int(obj["fee"]["cents"]),
                fee_rule=FeeRule(obj["fee"]["rule"]),
                content_json=canonical_json(obj["certificate"]).decode("utf-8"),
                key_id=obj["key_id"],
                signature=obj.get("signature", ""),
                issuer=obj.get("issuer"),
                language=obj.get("language"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CertificateError(f"not a certificate document: {exc}") from exc

    def is_valid_on(self, day: int) -> bool:
        """Within its two months of validity on ``day``."""
        return self.issue_date <= day <= self.valid_until

    def to_record(self) -> CertificateIssued:
        """The ``certificates.issued`` record (:meth:`from_record` inverts it for certificates issued with
        an issuer and a language)."""
        return CertificateIssued(
            number=self.number, issuance_event_id=self.issuance_event_id, vin=self.vin,
            issued_at=self.issued_at, issue_date=self.issue_date, valid_until=self.valid_until,
            fee_cents=self.fee_cents, fee_rule=self.fee_rule.value, content_json=self.content_json,
            content_sha256=hashlib.sha256(self.content_json.encode("utf-8")).hexdigest(),
            key_id=self.key_id, signature=self.signature, issuer=self.issuer,
            language=self.language if self.language is not None else DEFAULT_LANGUAGE,
        )  # fmt: skip

    @classmethod
    def from_record(cls, record: CertificateIssued) -> IssuedCertificate:
        """The certificate a ``certificates.issued`` record holds; :class:`CertificateError` when it is not
        one (an unknown fee rule, content that is not canonical JSON or does not match its hash)."""
        content = record.content_json.encode("utf-8")
        if hashlib.sha256(content).hexdigest() != record.content_sha256:
            raise CertificateError(f"certificate {record.number}: content_sha256 does not match its content")
        try:
            if canonical_json(json.loads(content)) != content:
                raise CertificateError(f"certificate {record.number}: content_json is not canonical JSON")
            rule = FeeRule(record.fee_rule)
        except ValueError as exc:
            raise CertificateError(f"certificate {record.number}: {exc}") from None
        return cls(
            number=record.number, issuance_event_id=record.issuance_event_id, vin=record.vin,
            issued_at=record.issued_at, issue_date=record.issue_date, valid_until=record.valid_until,
            fee_cents=record.fee_cents, fee_rule=rule, content_json=record.content_json,
            key_id=record.key_id, signature=record.signature, issuer=record.issuer, language=record.language,
        )  # fmt: skip


def issue(
    view: CertificateView, issuance_event_id: str, issued_at: int, signer: CertificateSigner,
    issuer: str | None = None, language: str = DEFAULT_LANGUAGE, number: str | None = None,
) -> IssuedCertificate:  # fmt: skip
    """Issue and sign the certificate of ``view`` at ``issued_at`` (epoch ms), for issuance event
    ``issuance_event_id``, by ``issuer`` (``provider:<id>``, ``operator:<name>``), in ``language``;
    ``number`` by default :func:`certificate_number` without a secret. Pure apart from the (deterministic)
    signature."""
    day = brussels_day(issued_at)
    reading_days = [brussels_day(r.observed_at) for r in view.readings]
    cents, rule = fee_of(reading_days)
    unsigned = IssuedCertificate(
        number=number if number is not None else certificate_number(view.vin, issuance_event_id),
        issuance_event_id=issuance_event_id,
        vin=view.vin,
        issued_at=issued_at,
        issue_date=day,
        valid_until=add_months(day, VALIDITY_MONTHS) - 1,
        fee_cents=cents,
        fee_rule=rule,
        content_json=canonical_json(to_json_obj(view)).decode("utf-8"),
        key_id=signer.key_id,
        issuer=issuer,
        language=language,
    )
    signature = signer.sign(canonical_json(unsigned.signed_payload()))
    return replace(unsigned, signature=base64.b64encode(signature).decode("ascii"))


def verify(cert: IssuedCertificate, keys: CertificateSigner | VerificationKeys) -> bool:
    """True when ``cert`` was signed by the key its ``key_id`` names, one of ``keys``, and has not been
    changed since."""
    key_set = keys if isinstance(keys, VerificationKeys) else VerificationKeys.of_signer(keys)
    public_key = key_set.public_key(cert.key_id)
    if public_key is None:
        return False
    try:
        signature = base64.b64decode(cert.signature, validate=True)
        public_key.verify(signature, canonical_json(cert.signed_payload()))
    except (ValueError, InvalidSignature):
        return False
    return True
