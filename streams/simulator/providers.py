"""The population of providers that send readings: workshops of Zipf-like sizes and error habits, inspection
bodies, manufacturers' connected-vehicle feeds and RDW.

* About one workshop per 490 vehicles (src: ~14,100 providers for ~6.9 M vehicles), split into garages,
  body shops, tyre centres, fast-fitters and dealers; each kind's customers are spread over its providers
  with Zipf weights ``1 / rank ** 1.1`` (a few large chains, many small shops).
* Each workshop has its own typo rate (``FleetConfig``: most good, some average, a few sloppy), its habit of
  describing the work (R1), of sending the plate instead of the VIN (fast-fitters and tyre centres most), and
  of ticking the 5-digit box (R7).
* Enterprise numbers are 10 digits, ``0`` or ``1`` then 7 digits then the check ``97 - (first 8 mod 97)``,
  as the Belgian Crossroads Bank for Enterprises issues them; unique within a simulation.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass

from schemas.records import ProviderKind, ProviderRegistration
from streams.simulator.config import FleetConfig
from streams.simulator.makes import MANUFACTURERS

VEHICLES_PER_WORKSHOP = 490
MIN_WORKSHOPS = 25
INSPECTION_BODIES = (
    "Autosecurite",
    "SBAT",
    "GOCA Vlaanderen",
    "Autoveiligheid",
    "AIBV",
    "Bureau Veritas",
    "Keuring Noord",
    "CTA Wallonie",
)

_WORKSHOP_KINDS: tuple[tuple[ProviderKind, float, tuple[str, ...], str], ...] = (
    (ProviderKind.GARAGE, 0.55, ("45201",), "Garage"),
    (ProviderKind.DEALER, 0.10, ("45113", "45201"), "Autohandel"),
    (ProviderKind.BODY_SHOP, 0.15, ("45204",), "Carrosserie"),
    (ProviderKind.TYRE_CENTRE, 0.12, ("45205", "45320"), "Bandencentrale"),
    (ProviderKind.FAST_FIT, 0.08, ("45209", "45320"), "Quick Service"),
)
_PLATE_HABIT = {
    ProviderKind.FAST_FIT: 0.35,
    ProviderKind.TYRE_CENTRE: 0.35,
    ProviderKind.GARAGE: 0.1,
    ProviderKind.BODY_SHOP: 0.1,
    ProviderKind.DEALER: 0.05,
}
_NAMES = (
    "Peeters",
    "Janssens",
    "Maes",
    "Jacobs",
    "Mertens",
    "Willems",
    "Claes",
    "Goossens",
    "Wouters",
    "Dubois",
    "Lambert",
    "Dupont",
    "Martin",
    "Simon",
    "Leclercq",
    "Lemaire",
    "Hermans",
    "Michiels",
)
_TOWNS = (
    "Antwerpen",
    "Gent",
    "Brugge",
    "Leuven",
    "Hasselt",
    "Mechelen",
    "Liege",
    "Namur",
    "Charleroi",
    "Mons",
    "Aalst",
    "Kortrijk",
    "Brussel",
    "Wavre",
    "Arlon",
    "Genk",
    "Ostende",
    "Turnhout",
)


@dataclass(frozen=True, slots=True)
class Provider:
    """One sender of readings and its habits (probabilities per reading)."""

    provider_id: str
    name: str
    kind: ProviderKind
    nace_codes: tuple[str, ...]
    typo_rate: float
    """Unscaled keying-error rate; the simulator scales it by the fault-rate multiplier."""
    describes_work: float = 1.0
    """Share of readings with a work description (since 2024, when R1 requires it)."""
    plate_share: float = 0.0
    """Share of readings sent with the plate instead of the VIN (since July 2023)."""
    ticks_five_digits: bool = True


class ProviderPool:
    """Providers by kind, drawn with Zipf weights; ``all`` lists every provider once, in creation order."""

    def __init__(self, providers: list[Provider]) -> None:
        self.all: tuple[Provider, ...] = tuple(providers)
        self._by_kind: dict[ProviderKind, tuple[list[Provider], list[float]]] = {}
        for kind in ProviderKind:
            members = [p for p in providers if p.kind is kind]
            weights = [1.0 / (rank + 1) ** 1.1 for rank in range(len(members))]
            self._by_kind[kind] = (members, list(itertools.accumulate(weights)))
        self.manufacturers = {p.name: p for p in providers if p.kind is ProviderKind.MANUFACTURER}
        self.rdw = next(p for p in providers if p.kind is ProviderKind.RDW)

    def pick(self, kind: ProviderKind, rng: random.Random) -> Provider:
        """A provider of ``kind``, large ones more often (Zipf)."""
        members, cumulative = self._by_kind[kind]
        return members[bisect.bisect_right(cumulative, rng.random() * cumulative[-1])]


def enterprise_number(rng: random.Random) -> str:
    """A valid 10-digit Belgian enterprise number (check digits ``97 - n mod 97``)."""
    first = rng.choice("01") + "".join(rng.choice("0123456789") for _ in range(7))
    check = 97 - int(first) % 97
    return f"{first}{check:02d}"


def build_providers(vehicles: int, config: FleetConfig, rng: random.Random) -> ProviderPool:
    """The providers of a fleet of ``vehicles``: workshops scaled with the fleet, 8 inspection bodies, one
    connected-vehicle feed per manufacturer group, RDW."""
    used: set[str] = set()

    def new_id() -> str:
        while True:
            number = enterprise_number(rng)
            if number not in used:
                used.add(number)
                return number

    providers: list[Provider] = []
    workshops = max(MIN_WORKSHOPS, round(vehicles / VEHICLES_PER_WORKSHOP))
    for kind, share, nace, word in _WORKSHOP_KINDS:
        for _ in range(max(2, round(workshops * share))):
            habit = rng.random()
            if habit < config.sloppy_provider_share:
                typo = config.sloppy_provider_typo_rate
            elif habit < config.sloppy_provider_share + config.average_provider_share:
                typo = config.average_provider_typo_rate
            else:
                typo = config.good_provider_typo_rate * rng.uniform(0.5, 1.5)
            providers.append(
                Provider(
                    provider_id=new_id(),
                    name=f"{word} {rng.choice(_NAMES)} {rng.choice(_TOWNS)}",
                    kind=kind,
                    nace_codes=nace,
                    typo_rate=typo,
                    describes_work=rng.choice((1.0, 1.0, 0.99, 0.95)),
                    plate_share=_PLATE_HABIT[kind] * rng.uniform(0.0, 2.0),
                    ticks_five_digits=rng.random() < 0.5,
                )
            )
    for name in INSPECTION_BODIES:
        providers.append(
            Provider(new_id(), name, ProviderKind.INSPECTION_BODY, ("71201",), config.inspection_typo_rate)
        )
    for name in MANUFACTURERS:
        providers.append(Provider(new_id(), name, ProviderKind.MANUFACTURER, ("29100",), 0.0))
    providers.append(Provider(new_id(), "RDW", ProviderKind.RDW, ("84130",), 0.0))
    return ProviderPool(providers)


def registrations(
    pool: ProviderPool, changed_at: int, new_event_id: Callable[[], str]
) -> list[ProviderRegistration]:
    """One ``ProviderRegistration`` per provider, all active at ``changed_at`` (epoch ms)."""
    return [
        ProviderRegistration(
            event_id=new_event_id(),
            provider_id=p.provider_id,
            name=p.name,
            kind=p.kind,
            nace_codes=p.nace_codes,
            active=True,
            changed_at=changed_at,
        )
        for p in pool.all
    ]
