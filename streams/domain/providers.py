"""Who a reading's provider is, by the registry of providers (``providers.registry``), not by the reading.

A reading names its provider (a 10-digit enterprise number) and says its kind and origin, which set its weight
in the trend (``policy.SourceWeights``: an inspection body's reading weighs three garage readings, a
connected car's or a foreign history's escape R2). Any Kafka producer writes what it likes there, so the core
weighs a reading by its provider's registration instead::

    ProviderRegistration (providers.registry) ──ProviderBook.add──► each provider's registrations, by time
    reading (provider_id, submitted_at) ──standing──► the registration in force when it was sent
        none, or inactive ───────────────► REJECTED: PROVIDER_NOT_REGISTERED / PROVIDER_INACTIVE
        origin not one of its kind's ────► REJECTED: ORIGIN_NOT_ALLOWED (``policy.ORIGINS_OF_KIND``)
        kind other than the registry's ──► weighed as the registry's kind (PROVIDER_KIND_CORRECTED, a warning)

The registration "in force" is the latest whose ``changed_at`` is not after the reading's ``submitted_at``:
a replay of the log judges every reading against the registry as it stood when it was sent, whatever was
registered since (a provider deactivated in 2026 does not make its 2020 readings unknown). Two
registrations of one provider at the same instant: the later one read wins, as on the compacted topic.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Protocol

from schemas.records import ProviderKind, ProviderRegistration

MAX_REGISTRATIONS_PER_PROVIDER = 64
"""Registrations kept per provider (the newest): a provider's kind or activity changes a few times in its
life; the registry's own producers, not clients, write the topic."""


@dataclass(frozen=True, slots=True)
class Standing:
    """A provider's registration in force at some instant."""

    kind: ProviderKind
    active: bool
    since: int
    """``changed_at`` of the registration (epoch ms)."""


class ProviderDirectory(Protocol):
    """What the core asks about providers (the worker's :class:`ProviderBook`; a dict in tests)."""

    def standing(self, provider_id: str, at_ms: int) -> Standing | None:
        """The registration of ``provider_id`` in force at ``at_ms``, or ``None`` (not registered then)."""
        ...


class ProviderBook:
    """Every provider's registrations, in ``changed_at`` order. Filled by one writer (the worker's follower
    of ``providers.registry``) while the judgment reads it: each provider's entry is replaced whole, never
    changed in place, so a reader sees the registrations before or after an ``add``, never half of one."""

    def __init__(self) -> None:
        self._by_provider: dict[str, tuple[tuple[int, ...], tuple[Standing, ...]]] = {}

    def __len__(self) -> int:
        return len(self._by_provider)

    def add(self, registration: ProviderRegistration) -> None:
        at = registration.changed_at
        standing = Standing(registration.kind, registration.active, at)
        times, standings = self._by_provider.get(registration.provider_id, ((), ()))
        index = bisect_right(times, at)  # after those at the same instant: the later one read wins
        times = (*times[:index], at, *times[index:])[-MAX_REGISTRATIONS_PER_PROVIDER:]
        standings = (*standings[:index], standing, *standings[index:])[-MAX_REGISTRATIONS_PER_PROVIDER:]
        self._by_provider[registration.provider_id] = (times, standings)

    def standing(self, provider_id: str, at_ms: int) -> Standing | None:
        entry = self._by_provider.get(provider_id)
        if entry is None:
            return None
        times, standings = entry
        index = bisect_right(times, at_ms)
        return standings[index - 1] if index else None
