"""API keys and roles (R15 purpose limits): who may see what.

::

    request ──key (Authorization: Bearer <key> | X-API-Key: <key>)──► ApiKeys.authenticate ──► Principal
    Principal, Access rule of the route (roles, own-provider binding) ──authorize──► None | AuthError

Roles:

* ``provider``: a data provider, bound to its provider id: its own quality (and receipts) only;
* ``dealer``: OK label and history, for adverts (R13);
* ``operator``: Car-Pass staff: everything;
* ``public``: certificate verification only (R16).

No or unknown key: 401. Known key, role not allowed (or another provider's data): 403. Error messages
name neither the VIN nor the provider asked about (nothing about a vehicle leaks).

The keys file (``Settings.api_keys_file``) is JSON::

    {"keys": [{"name": "dealer-1", "role": "dealer", "key_sha256": "<hex of SHA-256 of the key>"},
              {"name": "garage-7", "role": "provider", "provider_id": "0123456789",
               "provider_kind": "GARAGE", "key": "<key>"},
              {"name": "oem-1", "role": "provider", "provider_id": "0400000001",
               "provider_kind": "MANUFACTURER", "origins": ["CONNECTED_VEHICLE"], "key_sha256": "…"}]}

A provider key names the provider it speaks for: its enterprise number (``provider_id``), its kind
(``provider_kind``, a ``ProviderKind``) and the origins of its readings (``origins``, default
``streams.domain.policy.ORIGINS_OF_KIND`` of its kind). The kind and the origin set a reading's weight in
the trend, so the gateway takes them from here, never from a request body, and needs them for every
provider key (:meth:`ApiKeys.providers_without_kind`); the worker's API, which only reads, does not.

``key_sha256`` is preferred (the file then holds no secret); ``key`` (plain) is accepted for development.
Keys are looked up by their SHA-256 (constant time per request, whatever the number of keys).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from schemas.records import Origin, ProviderKind
from streams.domain.policy import ORIGINS_OF_KIND


class Role(StrEnum):
    PROVIDER = "provider"
    DEALER = "dealer"
    OPERATOR = "operator"
    PUBLIC = "public"


class AuthError(Exception):
    """A refused request: ``status`` 401 or 403, ``message`` safe to show (no vehicle data)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ApiKeysError(ValueError):
    """The keys file is unreadable or malformed."""


UNAUTHENTICATED = AuthError(401, "an API key is required (Authorization: Bearer <key>)")
FORBIDDEN = AuthError(403, "this API key's role may not use this resource")


@dataclass(frozen=True, slots=True)
class Principal:
    """The holder of a valid key."""

    name: str
    role: Role
    provider_id: str | None = None
    provider_kind: ProviderKind | None = None
    """The registered kind of the provider (provider keys; ``None``: not given in the keys file)."""
    origins: frozenset[Origin] = frozenset()
    """The origins its readings may have (empty unless ``provider_kind`` is given)."""


ANONYMOUS = Principal("anonymous", Role.PUBLIC)
"""Whoever asks a route open to anyone (no key presented, or any)."""


@dataclass(frozen=True, slots=True)
class Access:
    """A route's rule: the roles allowed; ``own_provider`` restricts the provider role to its own id."""

    roles: frozenset[Role]
    own_provider: bool = False
    anonymous: bool = False
    """No key needed: anyone (as :data:`ANONYMOUS`), rate-limited per client address."""
    provider_kinds: frozenset[ProviderKind] = frozenset()
    """Non-empty: a provider key may use the route only when registered as one of these kinds (R11: an
    inspection body issues certificates at inspection)."""


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiKeys:
    """The accepted keys, by SHA-256 digest."""

    def __init__(self, principals: Mapping[str, Principal]) -> None:
        self._by_digest = dict(principals)

    @classmethod
    def from_entries(cls, entries: Iterable[Mapping[str, Any]]) -> ApiKeys:
        """Build from the entries of a keys file (see the module docstring); raises ApiKeysError."""
        found: dict[str, Principal] = {}
        for index, entry in enumerate(entries):
            try:
                role = Role(entry["role"])
                name = str(entry.get("name") or f"key-{index}")
                hashed = entry.get("key_sha256")
                digest = str(hashed).lower() if hashed else key_digest(str(entry["key"]))
            except (KeyError, ValueError, TypeError) as exc:
                raise ApiKeysError(f"keys[{index}]: needs a role and key or key_sha256 ({exc})") from exc
            provider_id = entry.get("provider_id")
            if role is Role.PROVIDER and not provider_id:
                raise ApiKeysError(f"keys[{index}] ({name}): a provider key must name its provider_id")
            if digest in found:
                raise ApiKeysError(f"keys[{index}] ({name}): the same key is listed twice")
            kind, origins = _source(entry, f"keys[{index}] ({name})") if role is Role.PROVIDER else (None, ())
            found[digest] = Principal(name, role, str(provider_id) if provider_id else None, kind,
                                      frozenset(origins))  # fmt: skip
        return cls(found)

    def providers_without_kind(self) -> list[str]:
        """The names of the provider keys that do not say their ``provider_kind`` (sorted)."""
        return sorted(p.name for p in self._by_digest.values() if p.role is Role.PROVIDER and p.provider_kind
                      is None)  # fmt: skip

    @classmethod
    def from_file(cls, path: str | Path) -> ApiKeys:
        """The keys of a JSON keys file; an empty path accepts no key."""
        if not str(path):
            return cls({})
        try:
            document = json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
            entries = document["keys"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ApiKeysError(f"cannot read the API keys file {path}: {exc}") from exc
        return cls.from_entries(entries)

    def authenticate(self, presented: str | None) -> Principal:
        """The principal of ``presented``; raises the 401 :class:`AuthError` for no or an unknown key."""
        if not presented:
            raise UNAUTHENTICATED
        # A dict lookup by digest, not a scan of every key: the gateway has a key per provider (thousands).
        # Timing reveals nothing useful: lookups are by the SHA-256 of the key, which a caller cannot steer.
        digest = key_digest(presented)
        principal = self._by_digest.get(digest)
        if principal is None:
            raise UNAUTHENTICATED
        return principal


def _source(entry: Mapping[str, Any], where: str) -> tuple[ProviderKind | None, frozenset[Origin]]:
    """A provider key's ``provider_kind`` and ``origins`` (default: those of its kind)."""
    raw_kind = entry.get("provider_kind")
    if raw_kind is None:
        if entry.get("origins") is not None:
            raise ApiKeysError(f"{where}: origins without a provider_kind")
        return None, frozenset()
    try:
        kind = ProviderKind(raw_kind)
    except ValueError:
        known = ", ".join(ProviderKind)
        raise ApiKeysError(f"{where}: provider_kind {raw_kind!r} is not one of {known}") from None
    raw_origins = entry.get("origins")
    if raw_origins is None:
        return kind, ORIGINS_OF_KIND[kind]
    if not isinstance(raw_origins, list) or not raw_origins:
        raise ApiKeysError(f"{where}: origins must be a non-empty list of {', '.join(Origin)}")
    try:
        return kind, frozenset(Origin(o) for o in raw_origins)
    except ValueError:
        raise ApiKeysError(f"{where}: origins {raw_origins!r}: each one of {', '.join(Origin)}") from None


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key of a request: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    auth = headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return headers.get("X-API-Key") or None


def authorize(principal: Principal, access: Access, provider_id: str | None = None) -> None:
    """Raise the 403 :class:`AuthError` unless ``principal`` may use a route with rule ``access``
    (for ``provider_id``'s data, when the route is about one provider)."""
    if principal.role not in access.roles:
        raise FORBIDDEN
    if access.own_provider and principal.role is Role.PROVIDER and principal.provider_id != provider_id:
        raise FORBIDDEN
    if access.provider_kinds and principal.role is Role.PROVIDER and (
        principal.provider_kind not in access.provider_kinds
    ):
        raise FORBIDDEN
